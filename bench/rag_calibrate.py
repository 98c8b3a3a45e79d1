"""Fit the calibrated search relevance and the abstention threshold on the shipped set.

The pydoc-topics knowledge base (CPython's ``pydoc_data.topics``, one Markdown file per
topic, see ``prodline.rag.evaluate.write_pydoc_corpus``) is built once under
``bench/.out/rag_calibrate/`` and reused. The shipped question set
(``src/prodline/rag/evalsets/pydoc_topics.jsonl``) is split in two halves by a hash of
each question's id (stable across runs, ~50/50, answerable and unanswerable alike):

1. **relevance** (``prodline.rag.relevance.RELEVANCE_WEIGHTS``): a logistic regression
   over ``(cosine, coverage)`` of every hit in the top 10 of each TRAIN question; a hit
   is relevant (1) when it comes from one of the question's expected sources, and every
   hit of an unanswerable question is not (0);
2. **abstention** (``prodline.llm.abstain.ABSTAIN_BELOW``): with those weights, the best
   relevance among each TRAIN question's top 5 (what the chat path answers from); the
   threshold makes the fewest TRAIN errors (false + missed abstentions) with false
   abstention at most 5%, and among equals sits in the middle of the widest gap
   between scores (see ``pick_threshold``).

Then both are reported on the TEST half, which played no part in the fit. Paste the
printed constants into the two modules when the embedder or the chunking changes.

Run::

    .venv/bin/python bench/rag_calibrate.py           # ~2-3 min the first time
    .venv/bin/python bench/rag_calibrate.py --fresh   # rebuild the knowledge base
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
RUN = BENCH_DIR / ".out" / "rag_calibrate"
KB = "pydoc"
MAX_FALSE_ABSTENTION = 0.05


def is_train(qid: str) -> bool:
    """The stable half a question belongs to."""
    return hashlib.sha256(qid.encode()).digest()[0] % 2 == 0


def build(fresh: bool) -> object:
    """The workspace with the pydoc-topics KB, built once."""
    from prodline import Workspace
    from prodline.rag.evaluate import write_pydoc_corpus

    if fresh and RUN.exists():
        shutil.rmtree(RUN)
    ready = (RUN / "ready").exists()
    ws = Workspace.open(RUN / "home")
    if not ready:
        docs = RUN / "docs"
        write_pydoc_corpus(docs)
        ws.kbs.create(KB, owner="bench")
        report = ws.kbs.ingest(KB, [docs])
        print(f"built {KB}: {report}", file=sys.stderr)
        (RUN / "ready").write_text("ok\n")
    return ws


def features(ws, questions, k: int):  # type: ignore[no-untyped-def]
    """Per question: [(cosine, coverage, relevant)] of its top ``k`` hits."""
    from prodline.rag.evaluate import source_matches
    from prodline.rag.relevance import coverage, query_terms

    embedder = ws.kbs.embedder()
    out = []
    for q in questions:
        vector = embedder.embed_query(q.question)
        hits = ws.kbs.search(KB, q.question, k=k, vector=vector)
        ids, matrix, _ = ws.kbs._indexes.load_vectors(KB, [h.chunk_id for h in hits])
        by_id = dict(zip(ids, matrix, strict=True))
        wanted = query_terms(q.question)
        rows = []
        for h in hits:
            stored = by_id[h.chunk_id]
            cosine = float(stored @ vector) / max(float(np.linalg.norm(stored)), 1e-12)
            cover = coverage(wanted, h.title, h.heading, h.text)
            relevant = q.answerable and any(source_matches(h.source, s) for s in q.sources)
            rows.append((cosine, cover, int(relevant)))
        out.append(rows)
    return out


def best(rows, weights, k: int) -> float:  # type: ignore[no-untyped-def]
    from prodline.rag.relevance import relevance

    return max((relevance(c, v, weights) for c, v, _ in rows[:k]), default=0.0)


def pick_threshold(scores: list[float], answerable: list[bool]) -> float:
    """The threshold with the fewest train errors, false abstention at most 5%.

    Errors are false abstentions (answerable, best < t) plus missed abstentions
    (unanswerable, best >= t). Candidates are the midpoints between neighbouring
    scores; among the best, the one farthest from any score (the middle of the widest
    gap between the classes), so that it does not sit on the edge of either.
    """
    values = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in pairwise(values)]
    n_answerable = max(1, sum(answerable))

    def errors(t: float) -> tuple[int, float]:
        false = sum(s < t for s, a in zip(scores, answerable, strict=True) if a)
        missed = sum(s >= t for s, a in zip(scores, answerable, strict=True) if not a)
        if false / n_answerable > MAX_FALSE_ABSTENTION:
            return (len(scores) + 1, 0.0)
        return (false + missed, -min(abs(t - s) for s in scores))

    return round(min(candidates, key=errors), 4)


def rates(scores: list[float], answerable: list[bool], t: float) -> tuple[float, float]:
    """(abstention recall on unanswerable, false abstention on answerable)."""
    un = [s < t for s, a in zip(scores, answerable, strict=True) if not a]
    an = [s < t for s, a in zip(scores, answerable, strict=True) if a]
    return sum(un) / max(1, len(un)), sum(an) / max(1, len(an))


def main() -> None:
    from prodline.rag.evaluate import SHIPPED_SETS, load_questions
    from prodline.rag.relevance import fit_weights

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild the knowledge base")
    args = parser.parse_args()
    ws = build(args.fresh)
    questions = load_questions(SHIPPED_SETS["pydoc_topics"])
    train = [q for q in questions if is_train(q.id)]
    test = [q for q in questions if not is_train(q.id)]
    f_train, f_test = features(ws, train, 10), features(ws, test, 10)
    x = [(c, v) for rows in f_train for c, v, _ in rows]
    y = [label for rows in f_train for _, _, label in rows]
    weights = fit_weights(x, y)
    print(f"train: {len(train)} questions ({sum(not q.answerable for q in train)} unanswerable)")
    print(f"test:  {len(test)} questions ({sum(not q.answerable for q in test)} unanswerable)")
    print(f"RELEVANCE_WEIGHTS = {weights!r}")

    from sklearn.metrics import roc_auc_score

    from prodline.rag.relevance import relevance

    xt = [(c, v) for rows in f_test for c, v, _ in rows]
    yt = [label for rows in f_test for _, _, label in rows]
    auc = roc_auc_score(yt, [relevance(c, v, weights) for c, v in xt])
    print(f"hit relevance ROC AUC on test: {auc:.3f} ({len(yt)} hits, {sum(yt)} relevant)")
    s_train = [best(rows, weights, 5) for rows in f_train]
    threshold = pick_threshold(s_train, [q.answerable for q in train])
    print(f"ABSTAIN_BELOW = {threshold}")
    for name, qs, rows in (("train", train, f_train), ("test", test, f_test)):
        scores = [best(r, weights, 5) for r in rows]
        for label, want in (("answerable", True), ("unanswerable", False)):
            values = sorted(
                round(s, 2) for s, q in zip(scores, qs, strict=True) if q.answerable == want
            )
            print(f"  {name} {label} best relevance: {values}")
        recall, false = rates(scores, [q.answerable for q in qs], threshold)
        print(f"{name}: abstention recall {recall:.3f}, false abstention {false:.3f}")


if __name__ == "__main__":
    main()
