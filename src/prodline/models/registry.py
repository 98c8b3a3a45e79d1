"""Model registry: registered models, numbered versions, aliases that move, archive.

The registry stores and reads; it does not decide. Alias moves come through
``Workspace.promote`` / ``Workspace.rollback``, which ask the promotion policy first
and then call :meth:`ModelRegistry.move_alias`. Training datasets arrive as plain
objects from a resolver the workspace hands in, so this part never reads the datasets
part's tables.
"""

from __future__ import annotations

import builtins
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.core.refs import check_name, node, parse_ref, version_span
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.models import aliases as alias_ops
from prodline.models.entities import RISK_LEVELS, AliasMove, ModelVersion, RegisteredModel
from prodline.models.paging import entity, model_page, version_page
from prodline.models.training import (
    TrainingDataset,
    check_features,
    check_target,
    feature_columns,
)
from prodline.store.tables import (
    alias_history,
    aliases,
    model_training_data,
    model_versions,
    models,
)

if TYPE_CHECKING:
    from prodline.models.flavors import Predictor
    from prodline.workspace import Workspace

__all__ = ["ModelRegistry", "TrainingDataset"]


DatasetResolver = Callable[[str], TrainingDataset]


class ModelRegistry:
    """Register, read and archive model versions (reached as ``ws.models``)."""

    def __init__(self, ws: Workspace, resolve_dataset: DatasetResolver) -> None:
        self._ws = ws
        self._resolve_dataset = resolve_dataset

    # -- registered models -------------------------------------------------------------
    def create(
        self, name: str, *, owner: str = "", description: str = "", risk_level: str = "minimal"
    ) -> RegisteredModel:
        """Create a registered model before its first version (owner, purpose, risk)."""
        self._ws.authorize("model.create")
        check_name("Model", name)
        _check_risk(risk_level)
        with self._ws.tx() as conn:
            if self._find_model(conn, name) is not None:
                raise Conflict(f"Model '{name}' already exists; use update() to change it.")
            self._insert_model(conn, name, owner, description, risk_level)
        return self.model(name)

    def update(
        self,
        name: str,
        *,
        owner: str | None = None,
        description: str | None = None,
        risk_level: str | None = None,
    ) -> RegisteredModel:
        """Change a registered model's owner, description or risk level (audited)."""
        self._ws.authorize("model.update")
        if risk_level is not None:
            _check_risk(risk_level)
        with self._ws.tx() as conn:
            row = self._lock_model(conn, name)
            changes = {
                key: value
                for key, value in (
                    ("owner", owner),
                    ("description", description),
                    ("risk_level", risk_level),
                )
                if value is not None and value != getattr(row, key)
            }
            if changes:
                conn.execute(models.update().where(models.c.id == row.id).values(**changes))
                before = {key: getattr(row, key) for key in changes}
                self._ws.audit.record(
                    conn, "model.updated", f"model:{name}", {"from": before, "to": changes}
                )
        return self.model(name)

    def model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its latest version number and aliases."""
        with self._ws.db.read() as conn:
            row = self._model_row(conn, name)
            return self._registered(conn, row)

    def models(self) -> builtins.list[RegisteredModel]:
        """Every registered model, by name."""
        with self._ws.db.read() as conn:
            rows = conn.execute(sa.select(models).order_by(models.c.name)).all()
            return [self._registered(conn, r) for r in rows]

    # -- registering versions --------------------------------------------------------
    def register(
        self,
        model: str | Path | Any,
        *,
        name: str,
        trained_on: Sequence[str] = (),
        target: str | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        risk_level: str | None = None,
        owner: str | None = None,
        description: str = "",
        flavor: str | None = None,
        git_commit: str | None = None,
    ) -> ModelVersion:
        """Register a model file (skops/ONNX) or an in-memory scikit-learn estimator.

        Parameters
        ----------
        model : path or estimator
            A ``.skops`` or ``.onnx`` file, or a fitted scikit-learn estimator.
        name : str
            The registered model; created on its first version.
        trained_on : sequence of str
            Dataset refs (``"german-credit@1"``). The model's features and ``target``
            must be columns of them; their columns give the input signature when the
            model file does not name its inputs.
        target : str, optional
            The label column, left out of the signature.
        risk_level : {"minimal", "limited", "high"}, optional
            Set on the registered model when this creates it; for an existing model it
            must match (change it with :meth:`update`).
        owner : str, optional
            The owning team, when this creates the model (default: the actor).
        """
        self._ws.authorize("model.register")
        from prodline.models import flavors

        check_name("Model", name)
        if risk_level is not None:
            _check_risk(risk_level)
        for key, value in (metrics or {}).items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidInput(
                    f"Metric '{key}' must be a number, got {value!r}.", field="metrics"
                )
        trained = [self._resolve_dataset(ref) for ref in trained_on]
        check_target(trained, target)
        with tempfile.TemporaryDirectory() as tmp:
            path = _materialize(model, Path(tmp))
            flavor = flavor or flavors.detect_flavor(path)
            signature = flavors.infer_signature(path, flavor, feature_columns(trained, target))
            if signature is None:
                raise InvalidInput(
                    f"Cannot tell the inputs of '{path.name}': it does not name its features. "
                    "Pass --trained-on DATASET@V so the signature comes from the dataset.",
                    field="trained_on",
                )
            check_features(trained, target, list(signature.names))
            flavors.load_predictor(path, flavor, signature)  # refuse what cannot be served
            artifact = self._ws.artifacts.put_file(path)
            filename = path.name
        commit = git_commit if git_commit is not None else _git_commit()
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            row = self._lock_model_or_none(conn, name)
            if row is None:
                model_id = self._insert_model(
                    conn, name, owner or self._ws.actor, "", risk_level or "minimal"
                )
                level = risk_level or "minimal"
            else:
                model_id, level = int(row.id), str(row.risk_level)
                if risk_level is not None and risk_level != level:
                    raise Conflict(
                        f"Model '{name}' is risk level '{level}'; risk belongs to the model, "
                        f"not a version. Change it first with `prodline model update {name} "
                        f"--risk {risk_level}` (ws.models.update).",
                        field="risk_level",
                    )
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
                    git_commit=commit,
                    description=description,
                    status="active",
                    created_by=self._ws.actor,
                    created_at=now,
                )
            )
            mv_id = result.inserted_primary_key[0]  # type: ignore[index]
            for ds in trained:
                conn.execute(
                    model_training_data.insert().values(
                        model_version_id=mv_id, dataset=ds.name, dataset_version=ds.version
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
                    "target": target,
                    "metrics": dict(metrics or {}),
                    "risk_level": level,
                    "git_commit": commit,
                },
            )
        return self.get(name, version)

    # -- reading versions ------------------------------------------------------------
    def get(self, name: str, ref: int | str | None = None) -> ModelVersion:
        """A version by number, alias name or ``"latest"``; accepts ``"name@ref"``."""
        if ref is None and "@" in name:
            name, ref = parse_ref(name, what="model")
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            number = self._resolve(conn, model.id, name, ref)
            row = conn.execute(
                sa.select(model_versions).where(
                    model_versions.c.model_id == model.id, model_versions.c.version == number
                )
            ).first()
            if row is None:
                raise NotFound(
                    f"Model '{name}' has no version {number}; "
                    f"{self._versions_text(conn, model.id)}."
                )
            return self._entity(conn, model, row)

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model.id)
                .order_by(model_versions.c.version)
            ).all()
            return [self._entity(conn, model, r) for r in rows]

    def page(self, *, offset: int, size: int) -> tuple[builtins.list[RegisteredModel], int]:
        """A page of registered models by name and how many there are (``models.paging``)."""
        with self._ws.db.read() as conn:
            return model_page(conn, offset=offset, size=size)

    def version_page(
        self, name: str, *, offset: int, size: int, newest_first: bool = True
    ) -> tuple[builtins.list[ModelVersion], int]:
        """A page of model ``name``'s versions (newest first) and their count; ``NotFound``."""
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            return version_page(conn, model, offset=offset, size=size, newest_first=newest_first)

    def list(self) -> builtins.list[ModelVersion]:
        """The newest version of every model that has one."""
        with self._ws.db.read() as conn:
            newest = (
                sa.select(
                    model_versions.c.model_id, sa.func.max(model_versions.c.version).label("v")
                )
                .group_by(model_versions.c.model_id)
                .subquery()
            )
            rows = conn.execute(
                sa.select(model_versions, newest.c.v)
                .join(
                    newest,
                    sa.and_(
                        newest.c.model_id == model_versions.c.model_id,
                        newest.c.v == model_versions.c.version,
                    ),
                )
                .join(models, models.c.id == model_versions.c.model_id)
                .order_by(models.c.name)
            ).all()
            by_id = {r.id: r for r in conn.execute(sa.select(models)).all()}
            return [self._entity(conn, by_id[r.model_id], r) for r in rows]

    def aliases(self, name: str) -> dict[str, int]:
        """Alias → version for ``name``."""
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            return self._aliases_of(conn, model.id)

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
        """Every move of ``alias``, oldest first."""
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            rows = conn.execute(
                sa.select(alias_history)
                .where(alias_history.c.model_id == model.id, alias_history.c.alias == alias)
                .order_by(alias_history.c.id)
            ).all()
        return [
            AliasMove(r.alias, r.action, r.from_version, r.to_version, r.actor, r.at) for r in rows
        ]

    def load_predictor(self, mv: ModelVersion) -> Predictor:
        """Load a version for serving; the artifact's hash is verified on the way."""
        from prodline.models import flavors

        path = self._ws.artifacts.path(mv.artifact, name=f"model {mv.ref}")
        return flavors.load_predictor(path, mv.flavor, flavors.Signature.from_list(mv.signature))

    # -- moving aliases (called by Workspace.promote / rollback) -----------------------
    def move_alias(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        action: str = "promote",
        create: bool = False,
        expected_revision: int | None = None,
    ) -> ModelVersion:
        """Point ``alias`` at ``version``, without asking any policy.

        Use ``Workspace.promote`` / ``Workspace.rollback``: they ask the workspace's
        promotion policy first. ``expected_revision`` is the alias revision the caller
        saw (0 for "no alias yet"); if someone moved the alias since, this raises
        ``Conflict``. A new alias name needs ``create=True`` unless it is a standard
        one or another model already uses it, so that a typo cannot pass unnoticed.
        """
        alias_ops.check_alias_name(alias)
        with self._ws.tx() as conn:
            model = self._model_row(conn, name)
            if not create:
                alias_ops.check_new_alias(conn, model.id, name, alias)
            if self._status(conn, model.id, name, version) == "archived":
                raise Conflict(
                    f"Model '{name}' version {version} is archived and cannot be "
                    f"{'rolled back to' if action == 'rollback' else 'promoted'}; "
                    "promote an active version."
                )
            alias_ops.move_alias(
                self._ws,
                conn,
                model_id=model.id,
                name=name,
                alias=alias,
                version=version,
                action=action,
                expected_revision=expected_revision,
            )
        return self.get(name, version)

    def rollback_target(self, name: str, alias: str) -> tuple[int, int]:
        """(version ``alias`` would roll back to, the alias's current revision)."""
        with self._ws.db.read() as conn:
            model = self._model_row(conn, name)
            target = alias_ops.rollback_target(conn, model.id, name, alias)
            _, revision = alias_ops.alias_revision(conn, model.id, alias)
        return target, revision

    def archive(self, name: str, version: int) -> ModelVersion:
        """Retire a version; it can no longer be promoted. An alias holding it blocks this."""
        self._ws.authorize("model.archive")
        with self._ws.tx() as conn:
            model = self._model_row(conn, name)
            if self._status(conn, model.id, name, version) == "archived":
                return self.get(name, version)
            held = sorted(a for a, v in self._aliases_of(conn, model.id).items() if v == version)
            if held:
                raise Conflict(
                    f"Model '{name}' version {version} is held by alias(es) "
                    f"{', '.join(held)}; move them first."
                )
            conn.execute(
                model_versions.update()
                .where(model_versions.c.model_id == model.id, model_versions.c.version == version)
                .values(status="archived")
            )
            self._ws.audit.record(conn, "model.archived", f"model:{name}@{version}", {})
        return self.get(name, version)

    # -- rows ------------------------------------------------------------------------
    def _find_model(self, conn: sa.Connection, name: str) -> Any:
        return conn.execute(sa.select(models).where(models.c.name == name)).first()

    def _model_row(self, conn: sa.Connection, name: str) -> Any:
        row = self._find_model(conn, name)
        if row is None:
            names = conn.execute(sa.select(models.c.name).order_by(models.c.name)).scalars().all()
            known = f"models are: {', '.join(names)}" if names else "no models are registered yet"
            raise NotFound(f"Model '{name}' does not exist; {known}.")
        return row

    def _lock_model_or_none(self, conn: sa.Connection, name: str) -> Any:
        query = sa.select(models).where(models.c.name == name)
        if not self._ws.db.is_sqlite:
            query = query.with_for_update()
        return conn.execute(query).first()

    def _lock_model(self, conn: sa.Connection, name: str) -> Any:
        row = self._lock_model_or_none(conn, name)
        return row if row is not None else self._model_row(conn, name)

    def _insert_model(
        self, conn: sa.Connection, name: str, owner: str, description: str, risk_level: str
    ) -> int:
        try:
            with conn.begin_nested():
                result = conn.execute(
                    models.insert().values(
                        name=name,
                        owner=owner or self._ws.actor,
                        description=description,
                        risk_level=risk_level,
                        created_by=self._ws.actor,
                        created_at=datetime.now(UTC),
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"Model '{name}' was created concurrently; run again.") from exc
        self._ws.audit.record(
            conn,
            "model.created",
            f"model:{name}",
            {"owner": owner or self._ws.actor, "risk_level": risk_level},
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def _registered(self, conn: sa.Connection, row: Any) -> RegisteredModel:
        latest = conn.execute(
            sa.select(sa.func.max(model_versions.c.version)).where(
                model_versions.c.model_id == row.id
            )
        ).scalar()
        return RegisteredModel(
            name=row.name,
            owner=row.owner,
            description=row.description or "",
            risk_level=row.risk_level,
            created_by=row.created_by,
            created_at=row.created_at,
            latest_version=int(latest or 0),
            aliases=self._aliases_of(conn, row.id),
        )

    @staticmethod
    def _aliases_of(conn: sa.Connection, model_id: int) -> dict[str, int]:
        rows = conn.execute(
            sa.select(aliases.c.alias, aliases.c.version)
            .where(aliases.c.model_id == model_id)
            .order_by(aliases.c.alias)
        ).all()
        return {r.alias: int(r.version) for r in rows}

    def _resolve(self, conn: sa.Connection, model_id: int, name: str, ref: int | str | None) -> int:
        if ref is None or ref == "latest":
            latest = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.model_id == model_id
                )
            ).scalar()
            if latest is None:
                raise NotFound(f"Model '{name}' has no versions yet; register one.")
            return int(latest)
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        held = self._aliases_of(conn, model_id)
        if str(ref) not in held:
            known = f"aliases are: {', '.join(held)}" if held else "it has no aliases yet"
            raise NotFound(f"Model '{name}' has no alias '{ref}'; {known}.")
        return held[str(ref)]

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
        return f"versions are {version_span(numbers)}" if len(numbers) > 1 else "version is 1"

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

    def _entity(self, conn: sa.Connection, model: Any, row: Any) -> ModelVersion:
        trained = conn.execute(
            sa.select(model_training_data.c.dataset, model_training_data.c.dataset_version)
            .where(model_training_data.c.model_version_id == row.id)
            .order_by(model_training_data.c.dataset, model_training_data.c.dataset_version)
        ).all()
        held = [a for a, v in self._aliases_of(conn, model.id).items() if v == row.version]
        return entity(model, row, (f"{n}@{v}" for n, v in trained), held)


def _check_risk(level: str) -> None:
    if level not in RISK_LEVELS:
        raise InvalidInput(
            f"Risk level '{level}' is not one of {', '.join(RISK_LEVELS)}.", field="risk_level"
        )


def _materialize(model: str | Path | Any, tmp: Path) -> Path:
    if isinstance(model, str | Path):
        path = Path(model)
        if not path.is_file():
            raise InvalidInput(f"Model file '{path}' does not exist.", field="path")
        return path
    if hasattr(model, "predict") and type(model).__module__.startswith("sklearn"):
        from prodline.models import flavors

        path = tmp / "model.skops"
        flavors.save_sklearn(model, path)
        return path
    raise InvalidInput(
        f"Cannot register a {type(model).__name__}: give a .skops or .onnx "
        "file, or a scikit-learn estimator.",
        field="model",
    )


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
