"""Relative sources (and old absolute ones) and large files committed in batches, resumed.

A file of more than ``FILE_BATCH`` chunks is committed a batch at a time; a crash (an
exception, or kill -9 in a child process) inside it leaves the stored batches, and the
next ingest embeds only the chunks that are missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import prodline.rag.ingest as ingest_module
from prodline.rag.ingest import IngestProgress
from prodline.store.tables import kb_chunks, kb_sources
from prodline.workspace import Workspace

pytestmark = pytest.mark.slow


def _big(path: Path, paragraphs: int) -> Path:
    body = "\n\n".join(
        f"Paragraph {j}: parcel {j * 13} leaves depot {j % 11} on route {j % 5}. " * 6
        for j in range(paragraphs)
    )
    path.write_text(f"# Depot log\n\n{body}\n")
    return path


def _rows(ws: Workspace) -> list[tuple[int, int]]:
    with ws.db.read() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(kb_chunks.c.source_id, kb_chunks.c.ordinal))
        ]


def test_old_absolute_sources_keep_working_and_are_renamed(ws: Workspace, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days.\n")
    (docs / "shipping.md").write_text("# Shipping\n\nExpress delivery arrives next day.\n")
    ws.kbs.create("kb", owner="support")
    ws.kbs.ingest("kb", [docs])
    with ws.tx() as conn:  # as ingests before relative sources stored them
        for name in ("refunds.md", "shipping.md"):
            conn.execute(
                kb_sources.update()
                .where(kb_sources.c.source == f"docs/{name}")
                .values(source=str((docs / name).resolve()))
            )
    assert ws.kbs.search("kb", "refund days", k=1)[0].source == str((docs / "refunds.md").resolve())
    ws.kbs.remove("kb", str(docs / "shipping.md"))  # an old source, by its path
    again = ws.kbs.ingest("kb", [docs])
    assert (again.added, again.unchanged, again.chunks_added) == (["docs/shipping.md"], 1, 1)
    assert sorted(s["source"] for s in ws.kbs.sources("kb")) == [
        "docs/refunds.md",
        "docs/shipping.md",
    ]
    assert ws.kbs.search("kb", "refund days", k=1)[0].source == "docs/refunds.md"
    (docs / "refunds.md").unlink()
    assert ws.kbs.ingest("kb", [docs], prune=True).removed == ["docs/refunds.md"]


def test_a_large_file_is_committed_in_batches_and_resumed_after_a_crash(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "FILE_BATCH", 8)
    big = _big(tmp_path / "log.md", 80)
    ws.kbs.create("kb", owner="ops")
    seen: list[IngestProgress] = []

    def crash_after_two_batches(state: IngestProgress) -> None:
        seen.append(state)
        if sum(s.event == "batch" for s in seen) == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        ws.kbs.ingest("kb", [big], progress=crash_after_two_batches)
    assert len(_rows(ws)) == 16  # two batches of 8 survived
    assert (
        seen[-1].bytes_total == big.stat().st_size
        and 0 < seen[-1].bytes_done < seen[-1].bytes_total
    )
    [source] = ws.kbs.sources("kb")
    total = source["chunks"]
    assert total > 24

    embedded: list[int] = []  # chunks per model call (their sentences ride along)
    real = ingest_module.embed_with_sentences

    def counting(embed: Any, chunk_texts: list[str], texts: list[str]) -> Any:
        embedded.append(len(chunk_texts))
        return real(embed, chunk_texts, texts)

    monkeypatch.setattr(ingest_module, "embed_with_sentences", counting)
    report = ws.kbs.ingest("kb", [big])
    assert report.resumed == ["log.md"] and report.updated == ["log.md"]
    assert sum(embedded) == total - 16 and max(embedded) <= 8
    rows = _rows(ws)
    assert len(rows) == total == len(set(rows))
    assert ws.kbs._indexes.vector_index("kb").ids() == {i for i in _ids(ws)}
    assert ws.kbs.ingest("kb", [big]).unchanged == 1
    hit = ws.kbs.search("kb", "parcel 507 depot", k=1, mode="bm25")[0]
    assert "parcel 507" in hit.text and hit.source == "log.md"


def _ids(ws: Workspace) -> set[int]:
    with ws.db.read() as conn:
        return set(conn.execute(sa.select(kb_chunks.c.id)).scalars())


SCRIPT = """
import sys
import prodline.rag.ingest as ingest_module
from prodline.workspace import Workspace
ingest_module.FILE_BATCH = 8
ws = Workspace.open(sys.argv[1], db_url=sys.argv[3])
def progress(state):
    print(f"{state.event} {state.chunks_done}", flush=True)
ws.kbs.ingest("kb", [sys.argv[2]], progress=progress)
print("done", flush=True)
"""


def test_kill_9_inside_a_large_file_resumes_where_it_stopped(
    make_ws: Callable[..., Workspace], db_url: str, tmp_path: Path
) -> None:
    big = _big(tmp_path / "log.md", 120)
    ws = make_ws(db_url=db_url)
    ws.kbs.create("kb", owner="ops")
    home = str(ws.home)
    ws.close()
    script = tmp_path / "ingest.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    proc = subprocess.Popen(
        [sys.executable, str(script), home, str(big), db_url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline, done = time.monotonic() + 240, 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("batch"):
            done = int(line.split()[1])
            if done >= 24:
                break
        if not line and proc.poll() is not None:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    ws = make_ws(home=Path(home), db_url=db_url)
    stored = len(_rows(ws))
    total = ws.kbs.sources("kb")[0]["chunks"]
    assert 24 <= stored < total, "the ingest should have been killed inside the file"
    report = ws.kbs.ingest("kb", [big])
    assert report.resumed == ["log.md"] and report.chunks_added == total - stored
    rows = _rows(ws)
    assert len(rows) == total == len(set(rows)), "missing or duplicate chunks after resuming"
    assert ws.kbs._indexes.vector_index("kb").ids() == _ids(ws)
    assert ws.kbs.get("kb").version == 1
