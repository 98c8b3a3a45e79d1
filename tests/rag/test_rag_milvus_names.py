"""KB names map one-to-one onto Milvus collections (Milvus Lite here).

Before the fix ``help-desk`` and ``help_desk`` shared collection ``kb_help_desk``, and
ingesting one deleted the other's vectors as stale.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from prodline.rag.indexes import collection_name
from prodline.store.tables import kb_chunks, kbs
from prodline.workspace import Workspace

pytestmark = pytest.mark.slow

NAMES = ("help-desk", "help_desk", "help.desk", "helpdesk")


@pytest.mark.parametrize(
    ("names", "why"),
    [
        (NAMES, "separators differ"),
        (("a_h", "a-"), "an escape sequence spelled out"),
        (("x" * 199 + "a", "x" * 199 + "b"), "long names keep a hash of the whole name"),
        (("a" + "-" * 199, "a" + "_" * 199), "long escaped names"),
    ],
)
def test_collection_names_are_one_to_one_and_valid(names: tuple[str, ...], why: str) -> None:
    mapped = [collection_name(n) for n in names]
    assert len(set(mapped)) == len(names), why
    for name in mapped:
        assert len(name) <= 255 and name[0].isalpha()
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _chunk_ids(ws: Workspace, kb: str) -> set[int]:
    with ws.db.read() as conn:
        kb_id = conn.execute(sa.select(kbs.c.id).where(kbs.c.name == kb)).scalar_one()
        query = sa.select(kb_chunks.c.id).where(kb_chunks.c.kb_id == kb_id)
        return set(conn.execute(query).scalars())


@pytest.fixture
def milvus_ws(
    make_ws: Callable[..., Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    monkeypatch.setenv("PRODLINE_VECTOR_URL", f"milvus://{tmp_path / 'milvus.db'}")
    return make_ws()


def test_kbs_differing_by_separators_keep_their_own_vectors(
    milvus_ws: Workspace, tmp_path: Path
) -> None:
    for n, name in enumerate(NAMES):
        docs = tmp_path / f"docs-{n}"
        docs.mkdir()
        (docs / "topic.md").write_text(f"# Topic {n}\n\nKnowledge base {name} covers topic {n}.\n")
        milvus_ws.kbs.create(name, owner="support")
        milvus_ws.kbs.ingest(name, [docs])
    for name in NAMES:
        ids = _chunk_ids(milvus_ws, name)
        assert ids and milvus_ws.kbs._indexes.vector_index(name).ids() == ids, name
        hits = milvus_ws.kbs.search(name, "which topic", k=3, mode="vector")
        assert {h.chunk_id for h in hits} == ids, name


def test_an_empty_collection_is_filled_from_the_store_on_first_open(
    milvus_ws: Workspace, make_ws: Callable[..., Workspace], tmp_path: Path
) -> None:
    # A KB served before this mapping has its vectors in the old collection; under its
    # new name the collection starts empty and is filled from the vectors in the store.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days.\n")
    milvus_ws.kbs.create("help-desk", owner="support")
    milvus_ws.kbs.ingest("help-desk", [docs])
    ids = _chunk_ids(milvus_ws, "help-desk")
    index = milvus_ws.kbs._indexes.vector_index("help-desk")
    index.delete(sorted(ids))
    index.flush()
    assert index.count() == 0
    milvus_ws.close()
    again = make_ws()
    hits = again.kbs.search("help-desk", "how long do refunds take", k=1, mode="vector")
    assert [h.chunk_id for h in hits] == sorted(ids)[:1] and "14 days" in hits[0].text
