"""Knowledge-base ingest throughput per embedder: torch fp32 against ONNX Runtime.

One run, one corpus, every embedder of ``[rag] embedder`` (``torch``, ``onnx-fp32``,
``onnx-int8``): each builds its own knowledge base end to end (load, chunk, scan,
embed, store, index) and the row reports

* ``embed/s``: chunks per second of the embedding step inside that ingest;
* ``ingest/s``: chunks per second end to end;
* ``cosine``: mean cosine of its vectors to torch fp32's on 256 of the ingest's own
  texts (evenly spaced; title, heading and chunk as ``embed_text`` builds them), and
  the minimum;
* ``hit@5``: retrieval on the shipped question set (``pydoc_topics``, hybrid search,
  no answers) with that knowledge base.

Model loading (and the one-time ONNX export into ``~/.cache/prodline``) is done
before the clock starts. Corpus: CPython's ``pydoc_data.topics``, one Markdown file per
topic (``write_pydoc_corpus``) — real documentation nobody here wrote. Targets (issue
12): ``onnx-int8`` ≥ 2.5x torch embed/s at mean cosine ≥ 0.99 and hit@5 within 1 point.

Run: ``.venv/bin/python bench/ingest.py [--only torch,onnx-int8]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from prodline.rag.chunking import chunk_document
from prodline.rag.documents import iter_documents
from prodline.rag.embed import EMBEDDERS, configured_embedder
from prodline.rag.evaluate import write_pydoc_corpus
from prodline.rag.ingest import embed_text
from prodline.rag.types import Document
from prodline.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(EMBEDDERS), help="comma-separated embedders")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    if "torch" not in chosen:
        chosen.insert(0, "torch")  # the reference for cosine and the ratios
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_pydoc_corpus(corpus)
        docs = [d for d in iter_documents([corpus]) if isinstance(d, Document)]
        texts = [embed_text(c.title, c.heading, c.text) for d in docs for c in chunk_document(d)]
        sample = [texts[int(i)] for i in np.linspace(0, len(texts) - 1, min(256, len(texts)))]
        reference = None
        for setting in chosen:
            embedder = configured_embedder(setting)
            embedder.embed(["warm up"])  # load / export outside the clock
            vectors = embedder.embed(sample)
            if reference is None:
                reference = vectors
            cosine = (vectors * reference).sum(axis=1)
            os.environ["PRODLINE_EMBEDDER"] = setting
            ws = Workspace.open(Path(tmp) / f"home-{setting}", actor="bench")
            ws.kbs.create("pydoc", owner="bench")
            report = ws.kbs.ingest("pydoc", [corpus])
            quality = ws.kbs.evaluate("pydoc", "pydoc_topics", answer=False, record=False)
            ws.close()
            rows[setting] = {
                "chunks": report.chunks_added,
                "embed": report.chunks_added / max(report.embed_seconds, 1e-9),
                "ingest": report.chunks_added / report.seconds,
                "seconds": report.seconds,
                "cos": float(np.mean(cosine)),
                "cos_min": float(np.min(cosine)),
                "hit5": float(quality.metrics.get("hit@5") or 0.0),
            }
    load = os.getloadavg()[0]
    print(f"{len(docs)} files, {len(texts)} chunks (pydoc topics); load average {load:.1f}")
    head = f"{'embedder':12} {'embed/s':>9} {'ingest/s':>9} {'seconds':>8}"
    print(f"{head} {'cosine':>7} {'min cos':>8} {'hit@5':>6}")
    for setting, r in rows.items():
        print(
            f"{setting:12} {r['embed']:>9.1f} {r['ingest']:>9.1f} {r['seconds']:>8.1f} "
            f"{r['cos']:>7.4f} {r['cos_min']:>8.4f} {r['hit5']:>6.3f}"
        )
    base = rows["torch"]
    for setting, r in rows.items():
        if setting != "torch":
            print(
                f"ratio: {setting}/torch embed {r['embed'] / base['embed']:.2f}x, "
                f"ingest {r['ingest'] / base['ingest']:.2f}x, "
                f"hit@5 {100 * (r['hit5'] - base['hit5']):+.1f} points"
            )


if __name__ == "__main__":
    main()
