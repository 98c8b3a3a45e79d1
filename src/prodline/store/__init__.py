"""Persistence only: database engine, tables, migrations and the artifact store."""

from prodline.store.artifacts import ArtifactStore
from prodline.store.db import Database

__all__ = ["ArtifactStore", "Database"]
