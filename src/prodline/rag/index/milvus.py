"""The scale-out twin: one Milvus collection per index, through ``pymilvus.MilvusClient``.

The same contract as ``EmbeddedIndex``: fields ``id`` (INT64 primary key), ``vector``
(FLOAT_VECTOR, unit length), ``source_id``/``owner_id`` (INT64), ``modified_at``
(DOUBLE), ``sensitivity`` (INT8); an HNSW index (M=32, efConstruction=200, metric IP),
which both Milvus servers and Milvus Lite 3 build. A ``SearchFilter`` becomes a Milvus
boolean expression passed as ``filter=``, evaluated by Milvus during the search.

A ``.db`` path runs Milvus Lite in this process (a gRPC server on a thread, started by
pymilvus); it stays up while any ``MilvusIndex`` on that file is open and stops when the
last one closes. Collections use Strong consistency so a search sees every upsert
before it. pymilvus errors become ``StoreUnavailable`` (``InvalidInput`` for rejected
parameters).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException, ParamError

from prodline.errors import InvalidInput, StoreUnavailable
from prodline.rag.index._validate import as_ids, as_query, as_unit_rows, check_k, meta_columns
from prodline.rag.types import ChunkMeta, SearchFilter

__all__ = ["MilvusIndex", "filter_expression"]

_BATCH = 2_000  # rows per insert request, well under gRPC's 64 MiB message cap
_EF_MIN = 64
_FIELDS = ("id", "vector", "source_id", "owner_id", "modified_at", "sensitivity")

_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}


def filter_expression(flt: SearchFilter | None) -> str | None:
    """The Milvus boolean expression for ``flt`` ("" for no filter, None if nothing passes).

    >>> filter_expression(SearchFilter(source_ids=frozenset({3, 1}), max_sensitivity=1))
    'source_id in [1, 3] and sensitivity <= 1'
    """
    if flt is None:
        return ""
    parts: list[str] = []
    for field, values in (("source_id", flt.source_ids), ("owner_id", flt.owner_ids)):
        if values is not None:
            if not values:
                return None
            parts.append(f"{field} in [{', '.join(str(int(v)) for v in sorted(values))}]")
    if flt.modified_after is not None:
        parts.append(f"modified_at >= {float(flt.modified_after)!r}")
    if flt.modified_before is not None:
        parts.append(f"modified_at <= {float(flt.modified_before)!r}")
    if flt.max_sensitivity is not None:
        parts.append(f"sensitivity <= {int(flt.max_sensitivity)}")
    return " and ".join(parts)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn pymilvus errors into prodline errors at the boundary."""
    try:
        yield
    except ParamError as exc:
        raise InvalidInput(f"Milvus rejected the {what}: {exc.message}") from exc
    except MilvusException as exc:
        raise StoreUnavailable(
            f"Milvus failed to {what}: {exc.message} (code {exc.code}); check that the "
            "server is up and the collection exists, then retry."
        ) from exc


class MilvusIndex:
    """A ``VectorIndex`` stored in a Milvus collection (server URL or Milvus Lite file)."""

    def __init__(self, uri: str, *, dim: int, name: str, token: str = "") -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 32_768:
            raise InvalidInput(f"Vector dimension {dim!r} is not valid; use an int in 1..32768.")
        self.dim = dim
        self.name = name
        self.uri = uri
        self._closed = False
        self._lite: str | None = None
        if "://" not in uri:
            path = Path(uri).resolve()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"Cannot create {path.parent} for Milvus Lite: {exc}; check the path."
                ) from exc
            self._lite = str(path)
            with _lite_lock:
                _lite_users[self._lite] = _lite_users.get(self._lite, 0) + 1
        try:
            with _translated("connect"):
                self._client = MilvusClient(uri=self._lite or uri, token=token)
                self._ensure_collection()
        except Exception:
            client = getattr(self, "_client", None)
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            self._release_lite()
            raise

    # ------------------------------------------------------------------ changes

    def upsert(self, ids: Sequence[int], vectors: np.ndarray, metas: Sequence[ChunkMeta]) -> None:
        """Store vectors (normalized here) with their filter fields; an existing id is replaced."""
        keys = as_ids(ids)
        x = as_unit_rows(vectors, len(keys), self.dim)
        if len(metas) != len(keys):
            raise InvalidInput(f"Got {len(keys)} ids but {len(metas)} metas; pass one per id.")
        cols = meta_columns(keys, metas)
        self._check_open()
        columns = {
            "id": keys.tolist(),
            "source_id": cols["source"].tolist(),
            "owner_id": cols["owner"].tolist(),
            "modified_at": cols["modified"].tolist(),
            "sensitivity": cols["sensitivity"].tolist(),
        }
        with _translated("upsert vectors"):
            for start in range(0, len(keys), _BATCH):
                end = min(start + _BATCH, len(keys))
                rows = [
                    {
                        "vector": x[i].tolist(),
                        **{field: values[i] for field, values in columns.items()},
                    }
                    for i in range(start, end)
                ]
                self._client.upsert(self.name, data=rows)

    def delete(self, ids: Sequence[int]) -> None:
        """Remove these ids; unknown ids are ignored."""
        keys = as_ids(ids, unique=False)
        self._check_open()
        if len(keys):
            with _translated("delete vectors"):
                self._client.delete(self.name, ids=keys.tolist())

    # ------------------------------------------------------------------ reads

    def search(
        self, vector: np.ndarray, k: int, flt: SearchFilter | None = None
    ) -> list[tuple[int, float]]:
        """Up to ``k`` ``(id, cosine)`` pairs that pass ``flt``, best first.

        The filter runs inside Milvus as a boolean expression, so excluded vectors
        never crowd out the ones allowed.
        """
        check_k(k)
        q = as_query(vector, self.dim)
        self._check_open()
        expr = filter_expression(flt)
        if expr is None:
            return []
        with _translated("search"):
            result = self._client.search(
                self.name,
                data=[q[0].tolist()],
                limit=k,
                filter=expr,
                output_fields=["id"],
                search_params={"metric_type": "IP", "params": {"ef": max(_EF_MIN, 2 * k)}},
            )
        return [(int(hit["id"]), float(hit["distance"])) for hit in result[0]]

    def ids(self) -> set[int]:
        """Every stored id, read in batches (to reconcile with the metadata store)."""
        self._check_open()
        found: set[int] = set()
        with _translated("list ids"):
            it = self._client.query_iterator(
                self.name, batch_size=4_096, filter="", output_fields=["id"]
            )
            try:
                while batch := it.next():
                    found.update(int(row["id"]) for row in batch)
            finally:
                it.close()
        return found

    def count(self) -> int:
        """How many ids the collection holds."""
        self._check_open()
        with _translated("count vectors"):
            rows = self._client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    # ------------------------------------------------------------------ lifecycle

    def flush(self) -> None:
        """Seal Milvus's growing segments so every change so far is durable."""
        self._check_open()
        with _translated("flush"):
            self._client.flush(self.name)

    def close(self) -> None:
        """Flush, disconnect, and stop Milvus Lite when this was its last user."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            try:
                self._client.close()
            finally:
                self._release_lite()

    def drop(self) -> None:
        """Delete the collection and everything in it (tests, knowledge-base removal)."""
        self._check_open()
        with _translated("drop the collection"):
            self._client.drop_collection(self.name)
        self._closed = True
        self._client.close()
        self._release_lite()

    def __enter__(self) -> MilvusIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"Milvus index {self.name!r} is closed; open it again.")

    def _release_lite(self) -> None:
        if self._lite is None:
            return
        path, self._lite = self._lite, None
        with _lite_lock:
            left = _lite_users.get(path, 1) - 1
            if left > 0:
                _lite_users[path] = left
                return
            _lite_users.pop(path, None)
        from milvus_lite import server_manager_instance

        server_manager_instance.release_server(path)

    def _ensure_collection(self) -> None:
        client = self._client
        if client.has_collection(self.name):
            info: dict[str, Any] = client.describe_collection(self.name)
            fields = {f["name"]: f for f in info.get("fields", [])}
            vector = fields.get("vector", {})
            have = vector.get("params", {}).get("dim")
            if set(_FIELDS) - set(fields) or int(have or -1) != self.dim:
                raise InvalidInput(
                    f"Milvus collection {self.name!r} exists with another layout "
                    f"(vector dim {have}, fields {sorted(fields)}); open it with its own "
                    "dimension or use another index name."
                )
            client.load_collection(self.name)
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("source_id", DataType.INT64)
        schema.add_field("owner_id", DataType.INT64)
        schema.add_field("modified_at", DataType.DOUBLE)
        schema.add_field("sensitivity", DataType.INT8)
        index_params = client.prepare_index_params()
        index_params.add_index(
            field_name="vector",
            index_type="HNSW",
            metric_type="IP",
            params={"M": 32, "efConstruction": 200},
        )
        client.create_collection(
            self.name, schema=schema, index_params=index_params, consistency_level="Strong"
        )
