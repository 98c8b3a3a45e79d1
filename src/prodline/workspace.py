"""The Workspace: opens the store, artifacts and ledgers; the entry to every part."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.config import Settings
from prodline.errors import StoreUnavailable
from prodline.ledger.audit import AuditLog, load_or_create_key
from prodline.ledger.lineage import Lineage
from prodline.store.artifacts import ArtifactStore
from prodline.store.db import Database, redact_url
from prodline.store.migrate import upgrade

if TYPE_CHECKING:
    from prodline.data.datasets import Datasets
    from prodline.models.registry import ModelRegistry
    from prodline.rag.kb import KnowledgeBases

__all__ = ["Workspace"]


class Workspace:
    """One prodline home: metadata database, artifact store, audit log and lineage.

    Examples
    --------
    >>> import tempfile, prodline
    >>> ws = prodline.Workspace.open(tempfile.mkdtemp())
    >>> ws.audit.verify().ok
    True
    >>> ws.close()
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home
        self.db = Database(settings.db_url)
        try:
            upgrade(self.db)
        except StoreUnavailable:
            self.db.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.db.dispose()
            raise StoreUnavailable(
                f"Cannot prepare the metadata database {redact_url(settings.db_url)}: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        self.artifacts = ArtifactStore(settings.artifacts_url)
        key = load_or_create_key(self.home / "keys" / "audit.key")
        self.audit = AuditLog(self.db, key, self.home / "audit.anchor", settings.actor)
        self.lineage = Lineage(self.db)
        self._datasets: Datasets | None = None
        self._models: ModelRegistry | None = None
        self._kbs: KnowledgeBases | None = None

    @classmethod
    def open(
        cls,
        home: str | os.PathLike[str] | None = None,
        *,
        db_url: str | None = None,
        actor: str | None = None,
    ) -> Workspace:
        """Open (creating on first use) the workspace at ``home``.

        ``home`` defaults to ``PRODLINE_HOME`` or ``./.prodline``; ``db_url`` (or
        ``PRODLINE_DB_URL``) moves metadata to another database, e.g. PostgreSQL.
        """
        settings = Settings.load(home, db_url=db_url, actor=actor)
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings)

    @property
    def actor(self) -> str:
        return self.settings.actor

    @property
    def datasets(self) -> Datasets:
        if self._datasets is None:
            from prodline.data.datasets import Datasets

            self._datasets = Datasets(self)
        return self._datasets

    @property
    def models(self) -> ModelRegistry:
        if self._models is None:
            from prodline.models.registry import ModelRegistry

            self._models = ModelRegistry(self)
        return self._models

    @property
    def kbs(self) -> KnowledgeBases:
        if self._kbs is None:
            from prodline.rag.kb import KnowledgeBases

            self._kbs = KnowledgeBases(self)
        return self._kbs

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction whose audit events and lineage commit with it."""
        with self.db.tx() as conn:
            pending: list[tuple[int, str]] = []
            conn.info["prodline_anchor"] = pending
            yield conn
            conn.info.pop("prodline_anchor", None)
        self.audit.write_anchor(pending)

    def close(self) -> None:
        if self._kbs is not None:
            self._kbs.close()
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(home={str(self.home)!r}, db={redact_url(self.db.url)!r})"
