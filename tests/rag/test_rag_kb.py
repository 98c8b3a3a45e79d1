"""Knowledge bases end to end: incremental ingest, crash recovery, hybrid search, filters.

The same tests run over both vector backends (embedded FAISS and Milvus Lite) and both
metadata backends (SQLite and PostgreSQL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.store.tables import kb_chunks
from prodline.workspace import Workspace

pytestmark = pytest.mark.slow

DOCS = {
    "refunds.md": "# Refunds\n\nRefunds are issued within 14 days of the request. "
    "Items must be unused and in the original packaging.\n\n## Exceptions\n\n"
    "Gift cards and downloadable software cannot be refunded.\n",
    "shipping.md": "# Shipping\n\nWe ship worldwide. Standard delivery takes 3 to 5 business "
    "days; express delivery arrives the next business day.\n",
    "warranty.txt": "Warranty\n\nEvery device carries a two-year warranty covering "
    "manufacturing defects. Accidental damage is not covered.\n",
    "escalations.md": "# Escalation contacts\n\nFor urgent billing disputes contact "
    "Maria Keller at maria.keller@example.com or +1 415 555 2671.\n",
}


def _write_docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (root / name).write_text(text)
    return root


# Each index backend once, each metadata backend once: Milvus over PostgreSQL metadata
# would add minutes and no path (the index never reads the metadata database).
@pytest.fixture(params=["embedded-sqlite", "embedded-postgresql", "milvus-sqlite"])
def kb_ws(
    request: pytest.FixtureRequest,
    make_ws: Callable[..., Workspace],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Workspace:
    index, _, backend = str(request.param).partition("-")
    if index == "milvus":
        monkeypatch.setenv("PRODLINE_VECTOR_URL", f"milvus://{tmp_path / 'milvus.db'}")
    db_url = str(request.getfixturevalue("pg_url")) if backend == "postgresql" else None
    ws = make_ws(db_url=db_url)
    ws.kbs.create("support", owner="support-team")
    return ws


def _chunk_ids(ws: Workspace) -> set[int]:
    with ws.db.read() as conn:
        return set(conn.execute(sa.select(kb_chunks.c.id)).scalars())


def test_ingest_is_incremental_and_idempotent(kb_ws: Workspace, tmp_path: Path) -> None:
    docs = _write_docs(tmp_path / "docs")
    (docs / "blob.md").write_bytes(b"\x00\x01binary\x00")
    first = kb_ws.kbs.ingest("support", [docs])
    assert len(first.added) == 4 and first.version == 1 and first.chunks_added >= 4
    assert [Path(s).name for s, _ in first.skipped] == ["blob.md"]
    again = kb_ws.kbs.ingest("support", [docs])
    assert (again.added, again.updated, again.unchanged, again.version) == ([], [], 4, 1)
    (docs / "shipping.md").write_text("# Shipping\n\nWe now ship only within the EU.\n")
    changed = kb_ws.kbs.ingest("support", [docs])
    assert [Path(s).name for s in changed.updated] == ["shipping.md"] and changed.version == 2
    (docs / "warranty.txt").unlink()
    pruned = kb_ws.kbs.ingest("support", [docs], prune=True)
    assert [Path(s).name for s in pruned.removed] == ["warranty.txt"] and pruned.version == 3
    kb = kb_ws.kbs.get("support")
    assert kb.sources == 3 and kb.version == 3
    assert kb_ws.kbs._indexes.vector_index("support").ids() == _chunk_ids(kb_ws)
    hits = kb_ws.kbs.search("support", "where do you ship", k=2)
    assert "EU" in hits[0].text
    events = [e for e in kb_ws.audit.events() if e.action == "kb.ingested"]
    assert [e.subject for e in events] == ["kb:support@3", "kb:support@2", "kb:support@1"]
    assert kb_ws.lineage.upstream("kb:support@3").parents[0].id == "kb:support@2"
    assert kb_ws.audit.verify().ok


def test_hybrid_search_filters_and_sensitivity(kb_ws: Workspace, tmp_path: Path) -> None:
    docs = _write_docs(tmp_path / "docs")
    kb_ws.kbs.ingest("support", [docs])
    hits = kb_ws.kbs.search("support", "how long until I get my money back", k=3)
    assert "14 days" in hits[0].text and set(hits[0].scores) <= {"vector", "bm25"}
    pii = kb_ws.kbs.search("support", "billing dispute contact email", k=1)[0]
    assert pii.sensitivity == "pii" and "email" in pii.kinds
    cleared = kb_ws.kbs.search("support", "billing dispute contact email", k=5, clearance="none")
    assert cleared and all(h.sensitivity == "none" for h in cleared)
    only_txt = kb_ws.kbs.search("support", "refund", k=5, filters={"source": "*.txt"})
    assert only_txt and all(h.source.endswith(".txt") for h in only_txt)
    assert kb_ws.kbs.search("support", "refund", filters={"owner": "nobody"}) == []
    assert kb_ws.kbs.search("support", "refund", filters={"after": "2999-01-01"}) == []
    assert kb_ws.kbs.search("support", "refund", k=2, filters={"before": "2999-01-01"})
    for mode in ("vector", "bm25"):
        assert "14 days" in kb_ws.kbs.search("support", "refund days", k=1, mode=mode)[0].text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": 101}, "k"),
        ({"query": "x", "filters": {"colour": "red"}}, "filter.colour"),
        ({"query": "x", "filters": {"after": "yesterday"}}, "filter.after"),
        ({"query": "x", "clearance": "secret"}, "clearance"),
    ],
)
def test_bad_search_input_names_the_field(
    ws: Workspace, kwargs: dict[str, object], field: str
) -> None:
    ws.kbs.create("support", owner="x")
    with pytest.raises(InvalidInput) as err:
        ws.kbs.search("support", **kwargs)  # type: ignore[arg-type]
    assert err.value.details["field"] == field


def test_kb_errors(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="none exist yet"):
        ws.kbs.get("nope")
    ws.kbs.create("support", owner="x")
    with pytest.raises(Conflict, match="already exists"):
        ws.kbs.create("support", owner="x")
    with pytest.raises(NotFound, match="knowledge bases are: support"):
        ws.kbs.search("other", "q")
    with pytest.raises(InvalidInput, match="not found"):
        ws.kbs.ingest("support", ["/no/such/folder"])
    with pytest.raises(InvalidInput, match="has no source"):
        ws.kbs.remove("support", "/no/such/file.md")


def test_remove_source(ws: Workspace, tmp_path: Path) -> None:
    docs = _write_docs(tmp_path / "docs")
    ws.kbs.create("support", owner="x")
    ws.kbs.ingest("support", [docs])
    removed = ws.kbs.remove("support", str(docs / "refunds.md"))
    assert removed >= 1
    assert all("refunds" not in h.source for h in ws.kbs.search("support", "refund", k=5))
    assert ws.kbs.get("support").version == 2
    assert ws.kbs._indexes.vector_index("support").ids() == _chunk_ids(ws)


INGEST_SCRIPT = """
import sys
from prodline.workspace import Workspace
ws = Workspace.open(sys.argv[1], db_url=sys.argv[3])
def progress(state):
    print(f"progress {state.files_done} {state.chunks_done}", flush=True)
ws.kbs.ingest("support", [sys.argv[2]], progress=progress)
print("done", flush=True)
"""


def test_kill_9_mid_ingest_then_rerun_leaves_index_and_metadata_agreeing(
    make_ws: Callable[..., Workspace], db_url: str, tmp_path: Path
) -> None:
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(60):
        body = "\n\n".join(
            f"Paragraph {j} of note {i}: item {i * 100 + j} ships from warehouse {j % 7}."
            for j in range(30)
        )
        (docs / f"note-{i:03}.md").write_text(f"# Note {i}\n\n{body}\n")
    ws = make_ws(db_url=db_url)
    ws.kbs.create("support", owner="ops")
    home = str(ws.home)
    ws.close()
    script = tmp_path / "ingest.py"
    script.write_text(INGEST_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    proc = subprocess.Popen(
        [sys.executable, str(script), home, str(docs), db_url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    files_seen = 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("progress"):
            files_seen = int(line.split()[1])
            if files_seen >= 15:
                break
        if not line and proc.poll() is not None:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert 15 <= files_seen < 60, "the ingest should have been killed midway"

    ws = make_ws(home=Path(home), db_url=db_url)
    report = ws.kbs.ingest("support", [docs])
    assert report.added and report.unchanged >= 1
    ids = _chunk_ids(ws)
    assert ws.kbs._indexes.vector_index("support").ids() == ids
    with ws.db.read() as conn:
        rows = conn.execute(sa.select(kb_chunks.c.source_id, kb_chunks.c.ordinal)).all()
    assert len(rows) == len(set(rows)), "duplicate chunks after recovery"
    assert ws.kbs.get("support").sources == 60
    hit = ws.kbs.search("support", "item 4207 warehouse", k=1, mode="bm25")[0]
    assert "note-042" in hit.source
    assert ws.audit.verify().ok


def test_a_long_running_reader_sees_another_process_ingest(
    make_ws: Callable[..., Workspace], db_url: str, tmp_path: Path
) -> None:
    docs = _write_docs(tmp_path / "docs")
    writer = make_ws(db_url=db_url)
    writer.kbs.create("support", owner="x")
    writer.kbs.ingest("support", [docs])
    reader = make_ws(
        home=writer.home, db_url=db_url
    )  # stands for `prodline serve rag` holding the index
    assert "Shipping" in reader.kbs.search("support", "delivery", k=1, mode="vector")[0].title
    (docs / "loyalty.md").write_text("# Loyalty points\n\nMembers earn one point per euro.\n")
    writer.kbs.ingest("support", [docs])
    hit = reader.kbs.search("support", "how do members earn points", k=1, mode="vector")[0]
    assert hit.title == "Loyalty points"


def test_bm25_follows_every_chunk_change(ws: Workspace, tmp_path: Path) -> None:
    docs = _write_docs(tmp_path / "docs")
    ws.kbs.create("support", owner="x")
    ws.kbs.ingest("support", [docs])
    assert "14 days" in ws.kbs.search("support", "refund days", k=1, mode="bm25")[0].text
    # Same chunk texts, new bytes: the chunks get new ids, so BM25 must be rebuilt.
    (docs / "refunds.md").write_text(DOCS["refunds.md"] + "\n\n")
    ws.kbs.ingest("support", [docs])
    assert "14 days" in ws.kbs.search("support", "refund days", k=1, mode="bm25")[0].text
    ws.kbs.remove("support", str(docs / "refunds.md"))
    hits = ws.kbs.search("support", "refund days", k=3, mode="bm25")
    assert all("refunds" not in h.source for h in hits)
