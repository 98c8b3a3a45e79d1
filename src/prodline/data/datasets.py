"""Datasets: immutable, content-hashed versions with schema, profile and sensitivity tags.

A version keeps two artifacts: the bytes the user gave (CSV/Parquet, hashed as
``content_sha256``) and a canonical Parquet copy that ``load`` reads back with the
same dtypes. Registering content identical to the newest version returns that version
instead of making a duplicate.

pandas and pyarrow load only where a frame is read, written or profiled (``register``,
``load``): listing and showing versions reads stored metadata, and ``prodline data
list`` would otherwise spend most of its time importing them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.core.refs import check_name, parse_ref, version_span
from prodline.core.sensitivity import scan_dataframe
from prodline.data.profile import profile_dataframe, schema_of
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.ledger.lineage import node
from prodline.store.artifacts import sha256_file
from prodline.store.tables import dataset_versions, datasets

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from prodline.data.poisoning import PoisoningReport
    from prodline.workspace import Workspace

__all__ = ["DatasetVersion", "Datasets", "parse_ref"]


def _check_flat(schema: pa.Schema, filename: str) -> None:
    """Refuse nested columns (map, list, struct): profiles, drift and signatures describe
    one value per cell, so a nested column would fail later with a driver error."""
    from pyarrow import types

    nested = [f"'{f.name}' ({f.type})" for f in schema if types.is_nested(f.type)]
    if nested:
        raise InvalidInput(
            f"'{filename}' has nested columns, which datasets cannot hold: "
            f"{', '.join(nested)}; flatten them into one column per field (or JSON text) "
            "and add the file again.",
            field="path",
        )


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset."""

    name: str
    version: int
    content_sha256: str
    format: str
    rows: int
    schema: list[dict[str, str]]
    profile: dict[str, Any]
    sensitivity: dict[str, dict[str, Any]]
    owner: str
    source: str
    description: str
    created_by: str
    created_at: datetime
    data_artifact: str

    @property
    def ref(self) -> str:
        """``name@version``: how commands, lineage and model metadata name this version."""
        return f"{self.name}@{self.version}"

    @property
    def columns(self) -> list[str]:
        """Column names in file order, from the stored schema (no data is loaded)."""
        return [c["name"] for c in self.schema]

    @property
    def sensitive_columns(self) -> dict[str, dict[str, Any]]:
        """The scanner's findings for the columns it flagged as PII or PHI."""
        return {c: s for c, s in self.sensitivity.items() if s.get("level", "none") != "none"}

    @property
    def sensitivity_level(self) -> str:
        """The highest level of any column ("phi" > "pii" > "none"): what policies key on."""
        levels = {s.get("level", "none") for s in self.sensitivity.values()}
        return "phi" if "phi" in levels else "pii" if "pii" in levels else "none"

    def to_dict(self, *, profile: bool = False) -> dict[str, Any]:
        """JSON-ready fields for the CLI and API; ``profile=True`` adds the (large) profile."""
        out = {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "content_sha256": self.content_sha256,
            "format": self.format,
            "rows": self.rows,
            "schema": self.schema,
            "sensitivity": self.sensitivity,
            "sensitivity_level": self.sensitivity_level,
            "owner": self.owner,
            "source": self.source,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }
        if profile:
            out["profile"] = self.profile
        return out


class Datasets:
    """Register, list, show and load dataset versions (reached as ``ws.datasets``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def register(
        self,
        data: str | Path | pd.DataFrame,
        *,
        name: str,
        owner: str,
        source: str = "",
        description: str = "",
    ) -> DatasetVersion:
        """Register a CSV/Parquet file or a DataFrame as a new immutable version."""
        self._ws.authorize("dataset.register")
        import pandas as pd

        check_name("Dataset", name)
        if not owner:
            raise InvalidInput("A dataset needs an owner (team); pass --owner.", field="owner")
        frame, fmt, content_sha, source_artifact = self._read(data)
        if frame.shape[1] == 0:
            raise InvalidInput("The data has no columns; give a file with a header row.")
        source = source or (str(data) if not isinstance(data, pd.DataFrame) else "dataframe")
        latest = self._latest_or_none(name)
        if latest is not None and latest.content_sha256 == content_sha:
            return latest
        schema = schema_of(frame)
        profile = profile_dataframe(frame)
        sensitivity = {c: s.to_dict() for c, s in scan_dataframe(frame).items()}
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        data_artifact = self._ws.artifacts.put_bytes(buf.getvalue())
        if source_artifact is None:
            source_artifact = data_artifact
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            dataset_id = self._lock_or_create(conn, name, owner, now)
            current = conn.execute(
                sa.select(sa.func.max(dataset_versions.c.version)).where(
                    dataset_versions.c.dataset_id == dataset_id
                )
            ).scalar()
            version = int(current or 0) + 1
            row = {
                "dataset_id": dataset_id,
                "version": version,
                "content_sha256": content_sha,
                "data_artifact": data_artifact,
                "source_artifact": source_artifact,
                "format": fmt,
                "rows": len(frame),
                "schema": schema,
                "profile": profile,
                "sensitivity": sensitivity,
                "owner": owner,
                "source": source,
                "description": description,
                "created_by": self._ws.actor,
                "created_at": now,
            }
            conn.execute(dataset_versions.insert().values(**row))
            ref = f"{name}@{version}"
            self._ws.audit.record(
                conn,
                "dataset.registered",
                f"dataset:{ref}",
                {
                    "sha256": content_sha,
                    "rows": len(frame),
                    "owner": owner,
                    "source": source,
                    "sensitive_columns": sorted(
                        c for c, s in sensitivity.items() if s["level"] != "none"
                    ),
                },
            )
            self._ws.lineage.record(
                conn, f"source:{source}@-", node("dataset", name, version), "ingested_from"
            )
        return self.get(name, version)

    def _read(self, data: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, str, str | None]:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(data, pd.DataFrame):
            buf = io.BytesIO()
            try:
                data.to_parquet(buf, index=False)
            except (pa.ArrowException, ValueError, TypeError) as exc:
                raise InvalidInput(f"The DataFrame cannot be stored as Parquet: {exc}") from exc
            sha = self._ws.artifacts.put_bytes(buf.getvalue())
            return data.reset_index(drop=True), "dataframe", sha, sha
        path = Path(data)
        if not path.is_file():
            raise InvalidInput(f"File '{path}' does not exist.", field="path")
        suffix = path.suffix.lower()
        try:
            if suffix in {".parquet", ".pq"}:
                _check_flat(pq.read_schema(path), path.name)
                frame, fmt = pd.read_parquet(path), "parquet"
            elif suffix in {".csv", ".txt", ".tsv"}:
                sep = "\t" if suffix == ".tsv" else ","
                with warnings.catch_warnings():  # a row wider than the header is an error
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    frame, fmt = pd.read_csv(path, sep=sep, index_col=False), "csv"
            else:
                raise InvalidInput(
                    f"'{path.name}' has an unsupported format; give a .csv, .tsv or .parquet file.",
                    field="path",
                )
        except (
            pd.errors.ParserError,
            pd.errors.ParserWarning,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
        ) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(
                f"'{path.name}' is not a well-formed {suffix[1:].upper()} file: {first}.",
                field="path",
            ) from exc
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(
                f"'{path.name}' is not a readable Parquet file: {exc}.", field="path"
            ) from exc
        return frame, fmt, sha256_file(path), self._ws.artifacts.put_file(path)

    def _lock_or_create(self, conn: sa.Connection, name: str, owner: str, now: datetime) -> int:
        query = sa.select(datasets.c.id).where(datasets.c.name == name)
        if not self._ws.db.is_sqlite:
            query = query.with_for_update()
        found = conn.execute(query).scalar()
        if found is not None:
            return int(found)
        try:
            with conn.begin_nested():
                result = conn.execute(
                    datasets.insert().values(name=name, owner=owner, created_at=now)
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"Dataset '{name}' was created concurrently; run again.") from exc
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    # -- reading ---------------------------------------------------------------------
    def _select(self) -> sa.Select[Any]:
        return sa.select(dataset_versions, datasets.c.name).join(
            datasets, datasets.c.id == dataset_versions.c.dataset_id
        )

    @staticmethod
    def _entity(row: Any) -> DatasetVersion:
        created = row.created_at  # UTC-aware: the column type sees to it
        return DatasetVersion(
            name=row.name,
            version=row.version,
            content_sha256=row.content_sha256,
            format=row.format,
            rows=row.rows,
            schema=list(row.schema),
            profile=dict(row.profile),
            sensitivity=dict(row.sensitivity),
            owner=row.owner,
            source=row.source,
            description=row.description or "",
            created_by=row.created_by,
            created_at=created,
            data_artifact=row.data_artifact,
        )

    def _latest_or_none(self, name: str) -> DatasetVersion | None:
        with self._ws.db.read() as conn:
            row = conn.execute(
                self._select()
                .where(datasets.c.name == name)
                .order_by(dataset_versions.c.version.desc())
                .limit(1)
            ).first()
        return self._entity(row) if row else None

    def get(self, name: str, version: int | str | None = None) -> DatasetVersion:
        """A version (newest when ``version`` is None); accepts ``"name@3"`` as name."""
        if version is None and "@" in name:
            name, ref = parse_ref(name)
            version = ref
        if version is None or version == "latest":
            found = self._latest_or_none(name)
            if found is None:
                raise NotFound(f"Dataset '{name}' does not exist; {self._known()}.")
            return found
        try:
            number = int(version)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"Dataset version '{version}' is not a number.") from exc
        with self._ws.db.read() as conn:
            row = conn.execute(
                self._select().where(datasets.c.name == name, dataset_versions.c.version == number)
            ).first()
        if row is None:
            versions = [v.version for v in self.versions(name)]
            if not versions:
                raise NotFound(f"Dataset '{name}' does not exist; {self._known()}.")
            raise NotFound(
                f"Dataset '{name}' has no version {number}; versions are {version_span(versions)}."
            )
        return self._entity(row)

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of dataset ``name``, oldest first ([] when there is no such dataset)."""
        with self._ws.db.read() as conn:
            rows = conn.execute(
                self._select().where(datasets.c.name == name).order_by(dataset_versions.c.version)
            ).all()
        return [self._entity(r) for r in rows]

    def list(self) -> list[DatasetVersion]:
        """The newest version of every dataset, by name."""
        newest = (
            sa.select(
                dataset_versions.c.dataset_id, sa.func.max(dataset_versions.c.version).label("v")
            )
            .group_by(dataset_versions.c.dataset_id)
            .subquery()
        )
        query = (
            self._select()
            .join(
                newest,
                sa.and_(
                    newest.c.dataset_id == dataset_versions.c.dataset_id,
                    newest.c.v == dataset_versions.c.version,
                ),
            )
            .order_by(datasets.c.name)
        )
        with self._ws.db.read() as conn:
            return [self._entity(r) for r in conn.execute(query).all()]

    def load(self, name: str, version: int | str | None = None) -> pd.DataFrame:
        """The version's data, as registered (same columns, order and dtypes)."""
        item = self.get(name, version)
        path = self._ws.artifacts.path(item.data_artifact, name=f"dataset {item.ref}")
        import pandas as pd

        return pd.read_parquet(path)

    def scan_poisoning(self, ref: str, *, target: str, **options: Any) -> PoisoningReport:
        """Scan version ``ref`` (``"name@3"``) for suspect training rows: label errors,
        outliers, conflicting duplicates, odd provenance (see ``prodline.data.poisoning``).

        ``options`` go to :func:`~prodline.data.poisoning.scan_poisoning` (``features``,
        ``provenance_column``, ``threshold``, ``seed``). Reading only: nothing is recorded;
        the gates store the report as evidence.
        """
        from prodline.data.poisoning import scan_poisoning

        return scan_poisoning(self.load(ref), target, **options)

    def _known(self) -> str:
        names = [d.name for d in self.list()]
        return f"datasets are: {', '.join(names)}" if names else "no datasets are registered yet"
