"""Knowledge-base ingest throughput: chunks/s end to end and the embedding share of it.

Baseline, measured in the same run: the embedding model alone on the same texts the
ingest embeds (title, heading and chunk; ``MiniLMEmbedder.embed``, batch 64) — the floor
an ingest can approach, since loading, chunking, scanning, storing and indexing all come
on top of it.

Corpus: the support handbook shipped in ``prodline/demo/docs`` plus scikit-learn's
dataset descriptions (BSD-3-Clause), copied ``--copies`` times with a per-copy marker so
every file is new content. Run: ``.venv/bin/python bench/ingest.py [--copies 4]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from prodline.cli.demo import load_example
from prodline.rag.chunking import chunk_document
from prodline.rag.documents import iter_documents
from prodline.rag.embed import default_embedder
from prodline.rag.ingest import embed_text
from prodline.rag.types import Document
from prodline.workspace import Workspace


def build_corpus(root: Path, copies: int) -> Path:
    base = load_example("support_desk").corpus_folder(root / "base")
    out = root / "corpus"
    for i in range(copies):
        for src in base.rglob("*"):
            if src.is_file():
                dest = out / f"copy{i}" / src.relative_to(base)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(src.read_text() + f"\n\nCopy marker {i}.\n")
    shutil.rmtree(base)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp), args.copies)
        embedder = default_embedder()
        embedder.embed(["warm up"])  # model load is not part of either measurement
        docs = [d for d in iter_documents([corpus]) if isinstance(d, Document)]
        texts = [embed_text(c.title, c.heading, c.text) for d in docs for c in chunk_document(d)]
        t0 = time.perf_counter()
        embedder.embed(texts)
        raw_s = time.perf_counter() - t0
        ws = Workspace.open(Path(tmp) / "home", actor="bench")
        ws.kbs.create("bench", owner="bench")
        report = ws.kbs.ingest("bench", [corpus])
        again = ws.kbs.ingest("bench", [corpus])
        ws.close()
    raw_rate = len(texts) / raw_s
    ours_rate = report.chunks_added / report.seconds
    load = os.getloadavg()[0]
    print(f"{len(docs)} files, {report.chunks_added} chunks; load average {load:.1f}")
    print(f"{'':34} {'chunks/s':>10} {'seconds':>9}")
    print(f"{'embedding only (baseline)':34} {raw_rate:>10.1f} {raw_s:>9.1f}")
    print(f"{'prodline kb ingest (end to end)':34} {ours_rate:>10.1f} {report.seconds:>9.1f}")
    print(f"{'re-ingest, nothing changed':34} {'-':>10} {again.seconds:>9.2f}")
    share = report.embed_seconds / report.seconds
    print(
        f"ratio: ingest/embedding-only throughput = {ours_rate / raw_rate:.2f}x; "
        f"embedding share of ingest time = {share:.0%}"
    )


if __name__ == "__main__":
    main()
