"""The support-desk story: documents → knowledge base → governed RAG endpoint.

Ingests the support handbook shipped in ``prodline/demo/docs`` (one page holds personal
data) plus openly licensed text that ships inside scikit-learn (its dataset
descriptions, BSD-3-Clause), serves the KB, and asks questions through the official
``openai`` client: answers come back with citations and three answer scores, a question
the documents do not cover is answered with an abstention (and why), and the question
that retrieves personal data is routed to the self-hosted path. Then ``kb eval``
measures a second KB, CPython's ``pydoc_data`` topics, on the shipped ``pydoc_topics``
question set and prints its table. Needs the ``rag`` extra. Run it on its own::

    PRODLINE_HOME=/tmp/support python examples/support_desk.py

or as the second half of ``prodline demo``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import prodline as pl

KB = "support-desk"
QUESTIONS = [
    "How long do refunds take?",
    "How much does express delivery cost?",
    "Does the warranty cover water damage?",
    "Who handles escalated billing disputes?",
    "How many instances are in the iris dataset?",
    "What is the parental leave policy for our employees?",  # not in the documents
]
EVAL_KB = "pydoc-topics"
EVAL_SET = "pydoc_topics"
console = Console()


def corpus_folder(dest: Path) -> Path:
    """Copy the demo corpus into ``dest``: the handbook and scikit-learn's dataset texts."""
    import sklearn.datasets

    handbook = Path(str(resources.files("prodline.demo") / "docs"))
    dest.mkdir(parents=True, exist_ok=True)
    for page in sorted(handbook.glob("*.md")):
        shutil.copyfile(page, dest / page.name)
    stale = dest / "prodline-README.md"  # earlier demos copied the project README here
    stale.unlink(missing_ok=True)
    descr = Path(sklearn.datasets.__file__).parent / "descr"
    (dest / "sklearn-datasets").mkdir(exist_ok=True)
    for rst in sorted(descr.glob("*.rst")):
        shutil.copyfile(rst, dest / "sklearn-datasets" / rst.name)  # reStructuredText
        (dest / "sklearn-datasets" / f"{rst.stem}.txt").unlink(missing_ok=True)  # older demos
    return dest


def run(ws: pl.Workspace, *, port: int | None = None, servers: bool = True) -> None:
    """Run the RAG story in ``ws``; the server it starts is stopped at the end.

    With ``servers=False`` the knowledge base is built and searched in-process instead.
    """
    console.rule("[bold]6. build the support-desk knowledge base")
    if not any(kb.name == KB for kb in ws.kbs.list()):
        ws.kbs.create(KB, owner="support-team", description="support handbook and reference")
    docs = corpus_folder(ws.home / "demo-corpus")
    with console.status("ingesting (first run loads the embedding model)…"):
        report = ws.kbs.ingest(KB, [docs], prune=True)
    rate = report.chunks_added / report.seconds if report.seconds else 0.0
    console.print(
        f"{KB}@{report.version}: {len(report.added)} added, {report.unchanged} unchanged, "
        f"{report.chunks_added} chunks ({rate:.0f} chunks/s)"
    )
    table = Table(title="sources with personal data")
    for col in ("source", "sensitivity", "kinds"):
        table.add_column(col)
    for source in ws.kbs.sources(KB):
        if source["sensitivity"] != "none":
            table.add_row(source["source"], source["sensitivity"], ", ".join(source["kinds"]))
    console.print(table)

    if not servers:
        console.rule("[bold]7. ask it in-process (the RAG server's chat path, no server)")
        from prodline.llm.abstain import abstention

        with ws.rag_answerer(KB) as chat:
            for question in QUESTIONS:
                answered = chat.answer(question)
                hits = {h.chunk_id: h for h in chat.retrieve(question, 20)}
                cited = [
                    f"[{n}] {hits[c].source}" if c in hits else f"[{n}] chunk {c}"
                    for n, c in enumerate(answered.citations, start=1)
                ]
                console.print(f"[bold]Q:[/] {question}")
                console.print(f"[bold]A:[/] {answered.text}", highlight=False)
                console.print(f"   citations: {', '.join(cited) or '-'}", highlight=False)
                why = abstention(list(hits.values())) if answered.abstained else None
                if answered.abstained:
                    console.print(
                        f"   abstained: {answered.reason or (why.reason if why else '')}",
                        highlight=False,
                    )
    else:
        console.rule("[bold]7. serve it and ask through the official openai client")
        # Answers the groundedness check doubts wait in the human review queue (after the fact).
        ws.reviews.set_policy("kb", KB, mode="after", threshold=0.8, sla="1d")
        _ask_through_a_server(ws, port or _free_port())
    evaluate_pydoc(ws)


def evaluate_pydoc(ws: pl.Workspace) -> None:
    """Build a KB of CPython's ``pydoc_data`` topics and print ``kb eval``'s table for it.

    The KB holds the topics the shipped ``pydoc_topics`` set names as expected sources
    (the set's unanswerable questions are asked too); ``bench/rag_quality.py`` runs the
    same harness over every topic.
    """
    from prodline.rag.eval_questions import (
        load_questions,
        resolve_question_set,
        write_pydoc_corpus,
    )

    console.rule(f"[bold]8. measure answers: kb eval on {EVAL_SET}")
    questions = load_questions(resolve_question_set(EVAL_SET))
    cited = {source for q in questions for source in q.sources}
    topics = [p for p in write_pydoc_corpus(ws.home / "pydoc-corpus") if p.name in cited]
    if not any(kb.name == EVAL_KB for kb in ws.kbs.list()):
        ws.kbs.create(EVAL_KB, owner="docs-team", description="CPython pydoc topics")
    with console.status(f"ingesting {len(topics)} pydoc topics…"):
        ingested = ws.kbs.ingest(EVAL_KB, topics)
    with console.status(f"asking {len(questions)} questions…"):
        report = ws.kbs.evaluate(EVAL_KB, EVAL_SET, k=10)
    counts = report.counts
    table = Table(
        title=f"prodline kb eval {EVAL_KB} {EVAL_SET}: {counts['questions']} questions "
        f"({counts['unanswerable']} unanswerable), {report.variant} retrieval"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in report.rows():
        table.add_row(metric, value)
    console.print(table)
    console.print(f"recorded as rag_eval evidence on kb:{EVAL_KB}@{ingested.version}")


def _ask_through_a_server(ws: pl.Workspace, port: int) -> None:
    from openai import OpenAI

    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PRODLINE_HOME=str(ws.home), PRODLINE_DB_URL=ws.settings.db_url)
    command = [sys.executable, "-m", "prodline.cli.main", "serve", "rag", KB, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            with console.status(f"starting the RAG server on {url}…"):
                _wait_ready(url, proc, timeout=180)
            client = OpenAI(base_url=f"{url}/v1", api_key="not-needed-locally")
            for question in QUESTIONS:
                reply = client.chat.completions.create(
                    model=KB, messages=[{"role": "user", "content": question}]
                )
                _show(question, reply.choices[0].message.content or "", reply.model_extra or {})
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise pl.ProdlineError(
                f"The RAG server exited with code {proc.returncode} before it was ready; "
                f"run `prodline serve rag {KB}` by hand to see why."
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise pl.ProdlineError(f"The RAG server at {url} was not ready within {timeout:.0f} s.")


def _show(question: str, answer: str, extra: dict[str, Any]) -> None:
    grounded = extra.get("groundedness") or {}
    flag = " [red](flagged)[/]" if grounded.get("flagged") else ""
    console.print(f"[bold]Q:[/] {question}")
    console.print(f"[bold]A:[/] {answer}", highlight=False)
    cites = ", ".join(
        f"[{c.get('index')}] {c.get('source', '')}"
        + (f" ({c.get('sensitivity')})" if c.get("sensitivity") != "none" else "")
        for c in extra.get("citations") or []
    )
    console.print(f"   citations: {cites or '-'}", highlight=False)
    abstention = extra.get("abstention") or {}
    if abstention.get("abstained"):
        console.print(f"   abstained: {abstention.get('reason', '')}", highlight=False)
    console.print(
        f"   groundedness {float(grounded.get('score', 0.0)):.2f}{flag} · provider "
        f"{extra.get('provider')} · {extra.get('route_reason', '')}",
        highlight=False,
    )


if __name__ == "__main__":
    with pl.Workspace.open() as workspace:
        run(workspace)
