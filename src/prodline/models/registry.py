"""Model registry: numbered versions, aliases that move, audited rollback.

Promotion is a compare-and-swap on the alias row's ``revision``: a caller may pass the
revision it saw (``expected_revision``), and when two promotions race on one alias
exactly one commits; the other gets ``Conflict``. Rollback moves an alias back to the
version it held before its latest (not yet undone) promotion; the history is kept.
"""

from __future__ import annotations

import builtins
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.data.datasets import check_name, parse_ref
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.ledger.lineage import node
from prodline.models.flavors import (
    Column,
    Predictor,
    Signature,
    detect_flavor,
    infer_signature,
    load_predictor,
    save_sklearn,
)
from prodline.store.tables import (
    alias_history,
    aliases,
    dataset_versions,
    datasets,
    model_version_datasets,
    model_versions,
    models,
)

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["AliasMove", "ModelRegistry", "ModelVersion", "RISK_LEVELS"]

RISK_LEVELS = ("minimal", "limited", "high")


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version (plain data, no I/O)."""

    name: str
    version: int
    flavor: str
    artifact: str
    filename: str
    signature: list[dict[str, str]]
    metrics: dict[str, float]
    params: dict[str, Any]
    tags: dict[str, str]
    risk_level: str
    git_commit: str | None
    description: str
    status: str
    created_by: str
    created_at: datetime
    trained_on: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "flavor": self.flavor,
            "artifact": self.artifact,
            "filename": self.filename,
            "signature": self.signature,
            "metrics": self.metrics,
            "params": self.params,
            "tags": self.tags,
            "risk_level": self.risk_level,
            "git_commit": self.git_commit,
            "description": self.description,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "trained_on": list(self.trained_on),
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class AliasMove:
    """One entry of an alias's history."""

    alias: str
    action: str
    from_version: int | None
    to_version: int
    actor: str
    at: datetime


class ModelRegistry:
    """Reached as ``ws.models``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- registering -----------------------------------------------------------------
    def register(
        self,
        model: str | Path | Any,
        *,
        name: str,
        trained_on: Sequence[str] = (),
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        risk_level: str = "minimal",
        description: str = "",
        flavor: str | None = None,
        git_commit: str | None = None,
        target: str | None = None,
    ) -> ModelVersion:
        """Register a model file (skops/ONNX) or an in-memory scikit-learn estimator.

        ``trained_on`` lists dataset refs (``"german-credit@1"``); their columns give the
        input signature when the model file does not name its inputs.
        """
        check_name("Model", name)
        if risk_level not in RISK_LEVELS:
            raise InvalidInput(
                f"Risk level '{risk_level}' is not one of {', '.join(RISK_LEVELS)}.",
                field="risk_level",
            )
        for key, value in (metrics or {}).items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidInput(
                    f"Metric '{key}' must be a number, got {value!r}.", field="metrics"
                )
        trained = [self._ws.datasets.get(ref) for ref in trained_on]
        with tempfile.TemporaryDirectory() as tmp:
            path = self._materialize(model, Path(tmp))
            flavor = flavor or detect_flavor(path)
            candidates = _feature_columns(trained, target)
            signature = infer_signature(path, flavor, candidates)
            if signature is None:
                raise InvalidInput(
                    f"Cannot tell the inputs of '{path.name}': it does not name its features. "
                    "Pass --trained-on DATASET@V so the signature comes from the dataset.",
                    field="trained_on",
                )
            load_predictor(path, flavor, signature)  # refuse what cannot be served, now
            artifact = self._ws.artifacts.put_file(path)
            filename = path.name
        commit = git_commit if git_commit is not None else _git_commit()
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            model_id = self._lock_or_create(conn, name, now)
            current = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.model_id == model_id
                )
            ).scalar()
            version = int(current or 0) + 1
            result = conn.execute(
                model_versions.insert().values(
                    model_id=model_id,
                    version=version,
                    flavor=flavor,
                    artifact=artifact,
                    filename=filename,
                    signature=signature.to_list(),
                    metrics=dict(metrics or {}),
                    params=dict(params or {}),
                    tags=dict(tags or {}),
                    risk_level=risk_level,
                    git_commit=commit,
                    description=description,
                    status="active",
                    created_by=self._ws.actor,
                    created_at=now,
                )
            )
            mv_id = result.inserted_primary_key[0]  # type: ignore[index]
            for ds in trained:
                ds_id = conn.execute(
                    sa.select(dataset_versions.c.id)
                    .join(datasets)
                    .where(datasets.c.name == ds.name, dataset_versions.c.version == ds.version)
                ).scalar_one()
                conn.execute(
                    model_version_datasets.insert().values(
                        model_version_id=mv_id, dataset_version_id=ds_id
                    )
                )
                self._ws.lineage.record(
                    conn,
                    node("dataset", ds.name, ds.version),
                    node("model", name, version),
                    "trained",
                )
            self._ws.audit.record(
                conn,
                "model.registered",
                f"model:{name}@{version}",
                {
                    "flavor": flavor,
                    "artifact": artifact,
                    "trained_on": [d.ref for d in trained],
                    "metrics": dict(metrics or {}),
                    "risk_level": risk_level,
                    "git_commit": commit,
                },
            )
        return self.get(name, version)

    @staticmethod
    def _materialize(model: str | Path | Any, tmp: Path) -> Path:
        if isinstance(model, str | Path):
            path = Path(model)
            if not path.is_file():
                raise InvalidInput(f"Model file '{path}' does not exist.", field="path")
            return path
        if hasattr(model, "predict") and type(model).__module__.startswith("sklearn"):
            path = tmp / "model.skops"
            save_sklearn(model, path)
            return path
        raise InvalidInput(
            f"Cannot register a {type(model).__name__}: give a .skops or .onnx "
            "file, or a scikit-learn estimator.",
            field="model",
        )

    def _lock_or_create(self, conn: sa.Connection, name: str, now: datetime) -> int:
        query = sa.select(models.c.id).where(models.c.name == name)
        if not self._ws.db.is_sqlite:
            query = query.with_for_update()
        found = conn.execute(query).scalar()
        if found is not None:
            return int(found)
        try:
            with conn.begin_nested():
                result = conn.execute(models.insert().values(name=name, created_at=now))
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"Model '{name}' was created concurrently; run again.") from exc
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    # -- reading ---------------------------------------------------------------------
    def _model_id(self, conn: sa.Connection, name: str) -> int:
        found = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
        if found is None:
            names = conn.execute(sa.select(models.c.name).order_by(models.c.name)).scalars().all()
            known = f"models are: {', '.join(names)}" if names else "no models are registered yet"
            raise NotFound(f"Model '{name}' does not exist; {known}.")
        return int(found)

    def get(self, name: str, ref: int | str | None = None) -> ModelVersion:
        """A version by number, alias name or ``"latest"``; accepts ``"name@ref"``."""
        if ref is None and "@" in name:
            name, ref = parse_ref(name)
        with self._ws.db.read() as conn:
            model_id = self._model_id(conn, name)
            number = self._resolve(conn, model_id, name, ref)
            row = conn.execute(
                sa.select(model_versions).where(
                    model_versions.c.model_id == model_id, model_versions.c.version == number
                )
            ).first()
            if row is None:
                raise NotFound(
                    f"Model '{name}' has no version {number}; "
                    f"{self._versions_text(conn, model_id)}."
                )
            return self._entity(conn, name, row)

    def _resolve(self, conn: sa.Connection, model_id: int, name: str, ref: int | str | None) -> int:
        if ref is None or ref == "latest":
            latest = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.model_id == model_id
                )
            ).scalar()
            return int(latest or 0)
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        held = conn.execute(
            sa.select(aliases.c.version).where(
                aliases.c.model_id == model_id, aliases.c.alias == str(ref)
            )
        ).scalar()
        if held is None:
            names = (
                conn.execute(
                    sa.select(aliases.c.alias)
                    .where(aliases.c.model_id == model_id)
                    .order_by(aliases.c.alias)
                )
                .scalars()
                .all()
            )
            known = f"aliases are: {', '.join(names)}" if names else "it has no aliases yet"
            raise NotFound(f"Model '{name}' has no alias '{ref}'; {known}.")
        return int(held)

    def _versions_text(self, conn: sa.Connection, model_id: int) -> str:
        numbers = (
            conn.execute(
                sa.select(model_versions.c.version)
                .where(model_versions.c.model_id == model_id)
                .order_by(model_versions.c.version)
            )
            .scalars()
            .all()
        )
        if not numbers:
            return "it has no versions yet"
        return f"versions are {numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else "version is 1"

    def _entity(self, conn: sa.Connection, name: str, row: Any) -> ModelVersion:
        trained = conn.execute(
            sa.select(datasets.c.name, dataset_versions.c.version)
            .join(dataset_versions, dataset_versions.c.dataset_id == datasets.c.id)
            .join(
                model_version_datasets,
                model_version_datasets.c.dataset_version_id == dataset_versions.c.id,
            )
            .where(model_version_datasets.c.model_version_id == row.id)
        ).all()
        held = (
            conn.execute(
                sa.select(aliases.c.alias)
                .where(aliases.c.model_id == row.model_id, aliases.c.version == row.version)
                .order_by(aliases.c.alias)
            )
            .scalars()
            .all()
        )
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return ModelVersion(
            name=name,
            version=row.version,
            flavor=row.flavor,
            artifact=row.artifact,
            filename=row.filename,
            signature=list(row.signature),
            metrics=dict(row.metrics),
            params=dict(row.params),
            tags=dict(row.tags),
            risk_level=row.risk_level,
            git_commit=row.git_commit,
            description=row.description or "",
            status=row.status,
            created_by=row.created_by,
            created_at=created,
            trained_on=tuple(f"{n}@{v}" for n, v in trained),
            aliases=tuple(held),
        )

    def versions(self, name: str) -> list[ModelVersion]:
        with self._ws.db.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model_id)
                .order_by(model_versions.c.version)
            ).all()
            return [self._entity(conn, name, r) for r in rows]

    def list(self) -> list[ModelVersion]:
        """The newest version of every model."""
        with self._ws.db.read() as conn:
            names = conn.execute(sa.select(models.c.name).order_by(models.c.name)).scalars().all()
        return [self.get(n) for n in names]

    def aliases(self, name: str) -> dict[str, int]:
        with self._ws.db.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(aliases.c.alias, aliases.c.version)
                .where(aliases.c.model_id == model_id)
                .order_by(aliases.c.alias)
            ).all()
        return {r.alias: int(r.version) for r in rows}

    def alias_state(self, name: str, alias: str) -> tuple[int, int] | None:
        """(version, revision) the alias holds now, or None; cheap enough to poll."""
        with self._ws.db.read() as conn:
            row = conn.execute(
                sa.select(aliases.c.version, aliases.c.revision)
                .join(models, models.c.id == aliases.c.model_id)
                .where(models.c.name == name, aliases.c.alias == alias)
            ).first()
        return (int(row.version), int(row.revision)) if row else None

    def alias_history(self, name: str, alias: str) -> builtins.list[AliasMove]:
        """Oldest first."""
        with self._ws.db.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(alias_history)
                .where(alias_history.c.model_id == model_id, alias_history.c.alias == alias)
                .order_by(alias_history.c.id)
            ).all()
        return [
            AliasMove(
                r.alias,
                r.action,
                r.from_version,
                r.to_version,
                r.actor,
                r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            )
            for r in rows
        ]

    def load_predictor(self, mv: ModelVersion) -> Predictor:
        """Load a version for serving; the artifact's hash is verified on the way."""
        path = self._ws.artifacts.path(mv.artifact, name=f"model {mv.ref}")
        return load_predictor(path, mv.flavor, Signature.from_list(mv.signature))

    # -- moving aliases --------------------------------------------------------------
    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        expected_revision: int | None = None,
    ) -> ModelVersion:
        """Point ``alias`` at ``version``.

        ``expected_revision`` is the alias revision the caller saw (0 for "no alias
        yet"); if someone moved the alias since, this raises ``Conflict``.
        """
        check_name("Alias", alias)
        if alias.isdigit() or alias == "latest":
            raise InvalidInput(
                f"Alias '{alias}' is reserved; choose a name such as 'production' or 'staging'.",
                field="alias",
            )
        with self._ws.tx() as conn:
            model_id = self._model_id(conn, name)
            status = self._status(conn, model_id, name, version)
            if status == "archived":
                raise Conflict(
                    f"Model '{name}' version {version} is archived and cannot be "
                    f"promoted; promote an active version."
                )
            self._move(conn, model_id, name, alias, version, "promote", expected_revision)
        return self.get(name, version)

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Move ``alias`` back to the version it held before its latest promotion."""
        with self._ws.tx() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(alias_history)
                .where(alias_history.c.model_id == model_id, alias_history.c.alias == alias)
                .order_by(alias_history.c.id.desc())
            ).all()
            if not rows:
                raise NotFound(f"Model '{name}' has no alias '{alias}' to roll back.")
            undone, target = 0, None
            for row in rows:
                if row.action == "rollback":
                    undone += 1
                elif undone:
                    undone -= 1
                else:
                    target = row.from_version
                    break
            if target is None:
                raise Conflict(
                    f"Alias '{alias}' of '{name}' has no earlier version to roll back to."
                )
            if self._status(conn, model_id, name, target) == "archived":
                raise Conflict(
                    f"Cannot roll '{name}@{alias}' back to version {target}: it is "
                    "archived. Promote an active version instead."
                )
            self._move(conn, model_id, name, alias, int(target), "rollback", None)
        return self.get(name, int(target))

    def _status(self, conn: sa.Connection, model_id: int, name: str, version: int) -> str:
        status = conn.execute(
            sa.select(model_versions.c.status).where(
                model_versions.c.model_id == model_id, model_versions.c.version == version
            )
        ).scalar()
        if status is None:
            raise NotFound(
                f"Model '{name}' has no version {version}; {self._versions_text(conn, model_id)}."
            )
        return str(status)

    def _move(
        self,
        conn: sa.Connection,
        model_id: int,
        name: str,
        alias: str,
        version: int,
        action: str,
        expected_revision: int | None,
    ) -> None:
        query = sa.select(aliases.c.version, aliases.c.revision).where(
            aliases.c.model_id == model_id, aliases.c.alias == alias
        )
        if not self._ws.db.is_sqlite:
            query = query.with_for_update()
        row = conn.execute(query).first()
        revision = int(row.revision) if row else 0
        if expected_revision is not None and expected_revision != revision:
            held = f"version {row.version}" if row else "nothing"
            raise Conflict(
                f"Alias '{alias}' of '{name}' was moved by someone else while you "
                f"were promoting (it now holds {held}); check and run again.",
                alias=alias,
                revision=revision,
            )
        now = datetime.now(UTC)
        previous = int(row.version) if row else None
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        aliases.insert().values(
                            model_id=model_id,
                            alias=alias,
                            version=version,
                            revision=1,
                            updated_at=now,
                        )
                    )
            except sa.exc.IntegrityError as exc:
                raise Conflict(
                    f"Alias '{alias}' of '{name}' was created concurrently; check and run again.",
                    alias=alias,
                ) from exc
        else:
            updated = conn.execute(
                aliases.update()
                .where(
                    aliases.c.model_id == model_id,
                    aliases.c.alias == alias,
                    aliases.c.revision == revision,
                )
                .values(version=version, revision=revision + 1, updated_at=now)
            )
            if updated.rowcount != 1:
                raise Conflict(
                    f"Alias '{alias}' of '{name}' was moved concurrently; check and run again.",
                    alias=alias,
                )
        conn.execute(
            alias_history.insert().values(
                model_id=model_id,
                alias=alias,
                action=action,
                from_version=previous,
                to_version=version,
                actor=self._ws.actor,
                at=now,
            )
        )
        self._ws.lineage.replace_incoming(
            conn, node("alias", name, alias), node("model", name, version), "points_to"
        )
        self._ws.audit.record(
            conn,
            f"alias.{action}",
            f"model:{name}@{alias}",
            {"from_version": previous, "to_version": version},
        )

    def archive(self, name: str, version: int) -> ModelVersion:
        """Retire a version; it can no longer be promoted. An alias holding it blocks this."""
        with self._ws.tx() as conn:
            model_id = self._model_id(conn, name)
            if self._status(conn, model_id, name, version) == "archived":
                return self.get(name, version)
            held = (
                conn.execute(
                    sa.select(aliases.c.alias).where(
                        aliases.c.model_id == model_id, aliases.c.version == version
                    )
                )
                .scalars()
                .all()
            )
            if held:
                raise Conflict(
                    f"Model '{name}' version {version} is held by alias(es) "
                    f"{', '.join(held)}; move them first."
                )
            conn.execute(
                model_versions.update()
                .where(model_versions.c.model_id == model_id, model_versions.c.version == version)
                .values(status="archived")
            )
            self._ws.audit.record(conn, "model.archived", f"model:{name}@{version}", {})
        return self.get(name, version)


def _feature_columns(trained: Sequence[Any], target: str | None) -> list[Column] | None:
    if not trained:
        return None
    schema = trained[0].schema
    return [Column(c["name"], _column_type(c["type"])) for c in schema if c["name"] != target]


def _column_type(kind: str) -> Any:
    return kind if kind in {"integer", "float", "boolean", "string"} else "string"


def _git_commit() -> str | None:
    """The commit of the working directory, with ``+dirty`` when it has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
