"""RAG answer quality on the shipped question set, per retrieval variant.

The knowledge base is CPython's ``pydoc_data.topics`` (79 topics, one Markdown file
each, written by ``prodline.rag.evaluate.write_pydoc_corpus``): documentation every
Python installs and nobody here wrote. It is built once under
``bench/.out/rag_quality/`` (``--fresh`` rebuilds it) and evaluated with the harness
(``ws.kbs.evaluate``) on ``src/prodline/rag/evalsets/pydoc_topics.jsonl``:

* ``bm25`` and ``vector``: one retriever alone, ranked only (no answers);
* ``hybrid``: both fused by reciprocal rank, no later stage: the baseline;
* ``hybrid+rerank``, ``hybrid+neighbours``, ``hybrid+rerank+neighbours``: the stages of
  ``prodline.rag.retrieve.RetrievalOptions``, when this checkout has them;
* ``shipped``: what ``RetrievalOptions`` defaults to (what ``prodline serve rag`` runs),
  when that is not the plain ``hybrid`` row already.

Answer rows go through the RAG server's chat path with the offline (extractive)
answerer, so correctness, faithfulness, abstention and latency are the server's. The
last lines compare the shipped variant with the targets of issue 12 (hit@5 >= 0.90,
correctness >= 0.75, abstention recall >= 0.90 at <= 5% false abstention) and print
``ratio:`` lines against the hybrid baseline measured in the same run.

Run::

    .venv/bin/python bench/rag_quality.py            # ~3-6 min the first time (ingest)
    .venv/bin/python bench/rag_quality.py --fresh    # rebuild the knowledge base
    .venv/bin/python bench/rag_quality.py --only hybrid,shipped --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RUN = BENCH_DIR / ".out" / "rag_quality"
KB = "pydoc"
SET = "pydoc_topics"
TARGETS = {"hit@5": 0.90, "correctness": 0.75, "abstention_recall": 0.90}
MAX_FALSE_ABSTENTION = 0.05
COLUMNS = (
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"),
    ("correctness", "correct"),
    ("faithfulness", "faithful"),
    ("answer_relevance", "ans.rel"),
    ("abstention_precision", "abst.P"),
    ("abstention_recall", "abst.R"),
    ("false_abstention", "false.abst"),
    ("answer_words", "words"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def build(fresh: bool) -> tuple[Any, float | None]:
    """The workspace holding the pydoc KB, built once; and the ingest seconds if built now."""
    from prodline import Workspace
    from prodline.rag.evaluate import write_pydoc_corpus

    if fresh and RUN.exists():
        shutil.rmtree(RUN)
    ready = RUN / "ready"
    if ready.exists():
        return Workspace.open(RUN / "home", actor="bench"), None
    if RUN.exists():
        shutil.rmtree(RUN)  # a build that did not finish
    ws = Workspace.open(RUN / "home", actor="bench")
    docs = write_pydoc_corpus(RUN / "docs")
    ws.kbs.create(KB, owner="bench")
    t0 = time.perf_counter()
    report = ws.kbs.ingest(KB, [RUN / "docs"])
    seconds = time.perf_counter() - t0
    print(
        f"built {KB}: {len(docs)} topics, {report.chunks_added} chunks in {seconds:.0f} s",
        flush=True,
    )
    ready.write_text("ok\n")
    return ws, seconds


@contextmanager
def retrieval_options(**stages: Any) -> Iterator[None]:
    """Run with ``prodline.rag.retrieve.OPTIONS`` set to these stages, then restore it."""
    from prodline.rag import retrieve

    saved = retrieve.OPTIONS
    retrieve.OPTIONS = type(saved)(**stages)
    try:
        yield
    finally:
        retrieve.OPTIONS = saved


@contextmanager
def unchanged() -> Iterator[None]:
    yield


def variants() -> list[tuple[str, str, bool, Callable[[], Any]]]:
    """(name, mode, answer?, context) per variant this checkout supports."""
    from prodline.rag import retrieve

    rows: list[tuple[str, str, bool, Callable[[], Any]]] = [
        ("bm25", "bm25", False, unchanged),
        ("vector", "vector", False, unchanged),
    ]
    options = getattr(retrieve, "OPTIONS", None)
    if options is None:  # no later stages in this checkout: hybrid is all there is
        return [*rows, ("hybrid", "hybrid", True, unchanged)]
    fields = set(getattr(options, "__dataclass_fields__", {}))
    rows.append(("hybrid", "hybrid", True, lambda: retrieval_options()))
    if "rerank" in fields:
        rows.append(("hybrid+rerank", "hybrid", True, lambda: retrieval_options(rerank=True)))
    if "neighbours" in fields:
        rows.append(("hybrid+neighbours", "hybrid", True, lambda: retrieval_options(neighbours=1)))
    if {"rerank", "neighbours"} <= fields:
        rows.append(
            (
                "hybrid+rerank+neighbours",
                "hybrid",
                True,
                lambda: retrieval_options(rerank=True, neighbours=1),
            )
        )
    if options != type(options)():  # the shipped defaults turn a stage on
        rows.append(("shipped", "hybrid", True, unchanged))
    return rows


def cell(value: float | None, name: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if name.endswith(("_ms", "_words")) else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="Rebuild the knowledge base.")
    parser.add_argument("--only", default="", help="Comma-separated variant names.")
    parser.add_argument("--json", type=Path, help="Also write every report here.")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    ws, _ = build(args.fresh)
    kb = ws.kbs.get(KB)
    print(f"{KB}@{kb.version}: {kb.sources} sources, {kb.chunks} chunks; set {SET}", flush=True)
    wanted = {v for v in args.only.split(",") if v}
    reports: dict[str, Any] = {}
    for name, mode, answer, context in variants():
        if wanted and name not in wanted:
            continue
        t0 = time.perf_counter()
        with context():
            report = ws.kbs.evaluate(KB, SET, mode=mode, variant=name, answer=answer)
        reports[name] = report
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    ws.close()

    first = next(iter(reports.values()), None)
    if first is None:
        print("no variant ran (check --only)")
        return 2
    counts = first.counts
    print(
        f"\n{counts['questions']} questions ({counts['unanswerable']} unanswerable), k=10, "
        "answers: offline extractive answerer through the chat path"
    )
    header = ["variant", *(label for _, label in COLUMNS)]
    rows = [
        [name, *(cell(r.metrics.get(key), key) for key, _ in COLUMNS)]
        for name, r in reports.items()
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )

    verdicts = []
    shipped = reports.get("shipped") or reports.get("hybrid")
    if shipped is not None:
        got = shipped.metrics
        for key, goal in TARGETS.items():
            value = got.get(key)
            ok = value is not None and value >= goal
            verdicts.append(ok)
            print(f"target {key} >= {goal:.2f}: {cell(value, key)} {'PASS' if ok else 'FAIL'}")
        false_rate = got.get("false_abstention")
        ok = false_rate is not None and false_rate <= MAX_FALSE_ABSTENTION
        verdicts.append(ok)
        print(
            f"target false_abstention <= {MAX_FALSE_ABSTENTION:.2f}: "
            f"{cell(false_rate, 'false_abstention')} {'PASS' if ok else 'FAIL'}"
        )
    base = reports.get("hybrid")
    if base is not None:
        for name, r in reports.items():
            if name == "hybrid":
                continue
            for key in ("hit@5", "correctness"):
                b, v = base.metrics.get(key), r.metrics.get(key)
                if b and v is not None:
                    print(f"ratio: {name} / hybrid {key} = {v / b:.3f}")
    if args.json:
        args.json.write_text(
            json.dumps({n: r.to_dict() for n, r in reports.items()}, indent=1), encoding="utf-8"
        )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
