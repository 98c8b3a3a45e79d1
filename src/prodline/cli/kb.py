"""``prodline kb``: knowledge bases — create, ingest, list, show, search, remove."""

from __future__ import annotations

from pathlib import Path

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table

app = typer.Typer(help="Knowledge bases for retrieval-augmented generation.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Knowledge base name."),
    owner: str = typer.Option(..., "--owner", "-o", help="Owning team."),
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an empty knowledge base.

    Example: prodline kb create support-desk --owner support-team
    """
    with open_workspace() as ws:
        kb = ws.kbs.create(name, owner=owner, description=description)
    if as_json:
        print_json(kb.to_dict())
        return
    console.print(f"[green]created[/] knowledge base {kb.name} (owner {kb.owner})")


@app.command("ingest")
def ingest(
    name: str = typer.Argument(..., help="Knowledge base name."),
    paths: list[Path] = typer.Argument(
        ..., help="Files or folders (.md .rst .txt .html .pdf .docx .ipynb .csv .json)."
    ),
    prune: bool = typer.Option(False, "--prune", help="Drop chunks of files that are gone."),
    owner: str = typer.Option(None, "--owner", help="Owner of these documents (default: KB's)."),
    max_tokens: int = typer.Option(200, "--max-tokens", min=16, help="Chunk token budget."),
    overlap: int = typer.Option(40, "--overlap", min=0, help="Tokens shared between chunks."),
    follow_symlinks: bool = typer.Option(
        False, "--follow-symlinks", help="Also ingest file symlinks pointing outside a folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Ingest documents: unchanged files are skipped, changed ones replaced.

    Example: prodline kb ingest support-desk docs/ faq.md --prune
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from prodline.cli.common import current_console
    from prodline.rag.ingest import IngestProgress

    with open_workspace() as ws:
        ws.kbs.get(name)
        columns = (
            TextColumn("[bold]ingest"),
            BarColumn(),
            DownloadColumn(),
            TextColumn(
                "{task.fields[files]} · {task.fields[chunks]} chunks · "
                "{task.fields[rate]:.0f} chunks/s"
            ),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=current_console(), transient=True, disable=as_json) as bar:
            task = bar.add_task("ingest", total=None, files="", chunks=0, rate=0.0)

            def progress(state: IngestProgress) -> None:
                bar.update(
                    task,
                    total=state.bytes_total or None,
                    completed=state.bytes_done,
                    files=f"{state.files_done}/{state.files_total} files",
                    chunks=state.chunks_done,
                    rate=state.rate,
                )

            report = ws.kbs.ingest(
                name,
                paths,
                prune=prune,
                owner=owner,
                max_tokens=max_tokens,
                overlap=overlap,
                follow_symlinks=follow_symlinks,
                progress=progress,
            )
    if as_json:
        print_json(report.to_dict())
        if report.read_nothing:
            raise typer.Exit(1)
        return
    rate = report.chunks_added / report.seconds if report.seconds else 0.0
    console.print(
        f"[green]{name}@{report.version}[/]: {len(report.added)} added, "
        f"{len(report.updated)} updated, {report.unchanged} unchanged, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped; "
        f"{report.chunks_added} chunks in {report.seconds:.1f} s ({rate:.0f} chunks/s, "
        f"embedding {report.embed_seconds:.1f} s)"
    )
    if report.recovered != (0, 0):
        console.print(
            f"recovered after an interrupted ingest: {report.recovered[0]} chunks "
            f"re-indexed, {report.recovered[1]} stale entries dropped"
        )
    for source, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {source}: {reason}")
    if report.resumed:
        console.print(f"resumed an interrupted ingest of {', '.join(report.resumed)}")
    if report.read_nothing:
        _exit_read_nothing(len(report.skipped))


def _exit_read_nothing(skipped: int) -> None:
    """Exit 1 when every file found was skipped: an ingest that silently did nothing."""
    from prodline.rag.documents import SUPPORTED_SUFFIXES

    console.print(
        f"[red]nothing ingested[/]: all {skipped} files were skipped (reasons above); "
        f"readable types are {' '.join(sorted(SUPPORTED_SUFFIXES))}: convert the files "
        "or point at the folder that holds them"
    )
    raise typer.Exit(1)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List knowledge bases.

    Example: prodline kb list --json
    """
    with open_workspace() as ws:
        items = ws.kbs.list()
    if as_json:
        print_json([kb.to_dict() for kb in items])
        return
    print_table(
        "knowledge bases",
        ("name", "owner", "version", "sources", "chunks", "embedder"),
        ((kb.name, kb.owner, kb.version, kb.sources, kb.chunks, kb.embedder) for kb in items),
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Knowledge base name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with sources)."),
) -> None:
    """Show a knowledge base and its sources with sensitivity tags.

    Example: prodline kb show support-desk --json
    """
    with open_workspace() as ws:
        kb = ws.kbs.get(name)
        sources = ws.kbs.sources(name)
    if as_json:
        print_json(kb.to_dict() | {"source_list": sources})
        return
    console.print(
        f"[bold]{kb.name}[/] v{kb.version}  owner={kb.owner}  sources={kb.sources}  "
        f"chunks={kb.chunks}  embedder={kb.embedder}"
    )
    print_table(
        "sources",
        ("source", "title", "owner", "chunks", "sensitivity", "modified"),
        (
            (
                s["source"],
                s["title"],
                s["owner"],
                s["chunks"],
                s["sensitivity"] + (f" ({', '.join(s['kinds'])})" if s["kinds"] else ""),
                s["modified_at"][:10],
            )
            for s in sources
        ),
    )


@app.command("search")
def search(
    name: str = typer.Argument(..., help="Knowledge base name."),
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", help="How many results (1–100)."),
    filters: list[str] = typer.Option(
        [], "--filter", help="source=GLOB, owner=O, after=DATE, before=DATE (repeatable)."
    ),
    clearance: str = typer.Option(
        "phi", "--clearance", help="Highest sensitivity to return: none, pii or phi."
    ),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid, vector or bm25."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Search a knowledge base (BM25 and vectors, fused).

    Example: prodline kb search support-desk "how do refunds work" -k 3 --filter owner=support
    """
    from prodline.rag.retrieve import parse_filter_pairs

    with open_workspace() as ws:
        hits = ws.kbs.search(
            name, query, k=k, filters=parse_filter_pairs(filters), clearance=clearance, mode=mode
        )
    if as_json:
        print_json([h.__dict__ | {"kinds": list(h.kinds)} for h in hits])
        return
    if not hits:
        console.print("no results")
    for rank, h in enumerate(hits, start=1):
        console.print(
            f"[bold]{rank}.[/] {h.score:.4f}  {h.title} › {h.heading}  "
            f"[dim]{h.source}[/]  ({h.sensitivity})"
        )
        console.print(f"   {h.text[:300]}", highlight=False)


@app.command("eval")
def eval_(
    name: str = typer.Argument(..., help="Knowledge base name."),
    questions: str = typer.Argument(
        ..., help="Question set: a .jsonl file or a shipped set name (pydoc_topics)."
    ),
    k: int = typer.Option(10, "--k", "-k", min=1, max=100, help="Chunks ranked per question."),
    mode: str = typer.Option("hybrid", "--mode", help="Retrieval ranked: hybrid, vector, bm25."),
    provider: str = typer.Option(None, "--provider", help="Force one LLM provider."),
    record: bool = typer.Option(True, "--record/--no-record", help="Store it as evidence."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with every question)."),
) -> None:
    """Evaluate a knowledge base: retrieval, answers, abstention, latency.

    Example: prodline kb eval pydoc pydoc_topics
    """
    with open_workspace() as ws:
        kb = ws.kbs.get(name)
        report = ws.kbs.evaluate(name, questions, k=k, mode=mode, provider=provider, record=record)
    if as_json:
        print_json(report.to_dict() | {"kb": name, "version": kb.version})
        return
    counts = report.counts
    console.print(
        f"{name}@{kb.version} on {Path(questions).stem}: {counts['questions']} questions "
        f"({counts['unanswerable']} unanswerable), {mode} retrieval, k={k}",
        highlight=False,
    )
    print_table("evaluation", ("metric", "value"), report.rows())
    if record:
        console.print(f"recorded as rag_eval evidence on kb:{name}@{kb.version}")


@app.command("eval-corpus")
def eval_corpus(
    folder: Path = typer.Argument(..., help="Folder to write the Markdown files into."),
    corpus: str = typer.Option("pydoc", "--corpus", help="Which corpus (pydoc)."),
    as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON."),
) -> None:
    """Write the corpus of a shipped question set as Markdown files, ready to ingest.

    Example: prodline kb eval-corpus pydoc-docs/ --corpus pydoc
    """
    from prodline.errors import InvalidInput
    from prodline.rag.evaluate import write_pydoc_corpus

    if corpus != "pydoc":
        raise InvalidInput(f"Unknown corpus '{corpus}'; the shipped one is pydoc.", field="corpus")
    try:
        written = write_pydoc_corpus(folder)
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write the corpus into '{folder}': {exc.strerror or exc}; "
            "give a writable folder.",
            field="folder",
        ) from exc
    if as_json:
        print_json({"corpus": corpus, "folder": str(folder), "files": [str(p) for p in written]})
        return
    console.print(f"wrote {len(written)} pydoc topics to {folder}")


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Knowledge base name."),
    source: str = typer.Argument(
        ..., help="The source as `kb show` lists it (docs/faq.md), or the file's path."
    ),
) -> None:
    """Remove one source's chunks from a knowledge base.

    Example: prodline kb remove support-desk docs/old-policy.md
    """
    with open_workspace() as ws:
        count = ws.kbs.remove(name, source)
    console.print(f"removed {count} chunks of {source} from {name}")
