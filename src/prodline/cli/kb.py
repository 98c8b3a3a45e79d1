"""``prodline kb``: knowledge bases — create, ingest, list, show, search, remove, and the
injection guard's view of them (poisoning, scan, update)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    """Ingest documents: unchanged files are skipped, changed ones replaced; every chunk is
    scanned for prompt injection and the KB's injection policy applied.

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
    for source, reason in report.blocked:
        console.print(f"[red]blocked[/] {source}: {reason}", highlight=False)
    if report.chunks_flagged:
        console.print(
            f"[yellow]flagged[/] {report.chunks_flagged} chunks as possible prompt injection "
            f"({report.chunks_quarantined} quarantined) in {', '.join(report.flagged_sources)}; "
            f"see prodline kb poisoning {name}",
            highlight=False,
        )
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
    """Show a knowledge base, its policies, its sources with sensitivity tags, and the
    chunks the input guard flagged (the highest-scoring 20).

    Example: prodline kb show support-desk --json
    """
    with open_workspace() as ws:
        kb = ws.kbs.get(name)
        sources = ws.kbs.sources(name)
        poisoning = ws.kbs.poisoning(name)
    top = poisoning.top(SHOW_FLAGGED)
    if as_json:
        print_json(
            kb.to_dict()
            | {
                "source_list": sources,
                "flagged": poisoning.flagged,
                "quarantined": poisoning.quarantined,
                "unscanned": poisoning.unscanned,
                "flagged_chunks": top,
            }
        )
        return
    console.print(
        f"[bold]{kb.name}[/] v{kb.version}  owner={kb.owner}  sources={kb.sources}  "
        f"chunks={kb.chunks}  embedder={kb.embedder}"
    )
    console.print(f"privacy={kb.privacy}  injection_policy={kb.injection_policy}")
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
    _print_flagged(name, poisoning.flagged, poisoning.unscanned, top)


SHOW_FLAGGED = 20  # flagged chunks `kb show` lists; `kb poisoning` lists them all


def _print_unscanned(name: str, unscanned: int) -> None:
    if unscanned:
        console.print(
            f"[yellow]{unscanned} chunks not scanned[/] for prompt injection (ingested before "
            f"scanning) — run prodline kb scan {name}, or re-ingest to scan",
            highlight=False,
        )


def _print_flagged(name: str, flagged: int, unscanned: int, top: list[dict[str, Any]]) -> None:
    _print_unscanned(name, unscanned)
    if not flagged:
        console.print("no chunk flagged as possible prompt injection")
        return
    shown = f" (the {len(top)} highest shown)" if flagged > len(top) else ""
    print_table(
        f"{flagged} flagged chunks{shown}",
        ("source", "chunk", "score", "quarantined", "excerpt"),
        (
            (
                c["source"],
                c["ordinal"],
                f"{c['score']:.2f}",
                "yes" if c["quarantined"] else "no",
                c["excerpt"][:80],
            )
            for c in top
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
    from prodline.errors import InvalidInput
    from prodline.rag.retrieve import parse_filter_pairs

    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:  # bytes that are not UTF-8 reach argv as lone surrogates
        raise InvalidInput(
            f"The query is not valid text (character {exc.start} is not UTF-8); pass it as UTF-8.",
            field="query",
        ) from None
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
    failures = counts.get("judge_failures")
    console.print(
        f"correctness graded by {report.correctness_method}"
        + (f" ({failures} judge failures fell back to the lexical score)" if failures else ""),
        highlight=False,
    )
    if record:
        console.print(f"recorded as rag_eval evidence on kb:{name}@{kb.version}")


@app.command("gate")
def gate(
    name: str = typer.Argument(..., help="Knowledge base name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the KB's current version against the [rag.gate] minimums of prodline.toml,
    using its latest `kb eval` evidence. Exit 0 when it passes, 1 when it does not.

    Example: prodline kb gate pydoc --json
    """
    with open_workspace() as ws:
        report = ws.kbs.gate(name)
    if as_json:
        print_json(report.to_dict())
    else:
        verdict = "[green]passes[/]" if report.passed else "[red]does not pass[/]"
        console.print(f"{report.subject} quality gate: {verdict}")
        rows = [
            (
                c["metric"],
                f"{'≥' if c['bound'] == 'min' else '≤'} {c['limit']:g}",
                "n/a" if c["value"] is None else f"{c['value']:.3f}",
                "met" if c["met"] else "unmet",
            )
            for c in report.checks
        ]
        if rows:
            print_table(f"gate of {report.subject}", ("metric", "required", "value", "state"), rows)
        for reason in report.reasons:
            console.print(f"  - {reason}", highlight=False)
    if not report.passed:
        raise typer.Exit(1)


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


@app.command("poisoning")
def poisoning(
    name: str = typer.Argument(..., help="Knowledge base name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The poisoning report: per source, the chunks the input guard flagged as possible
    prompt injection, their scores and whether they are quarantined.

    Example: prodline kb poisoning support-desk --json
    """
    with open_workspace() as ws:
        report = ws.kbs.poisoning(name)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"[bold]{name}[/]: {report.flagged} of {report.chunks} chunks flagged, "
        f"{report.quarantined} quarantined (injection_policy={report.policy}, "
        f"privacy={report.privacy})",
        highlight=False,
    )
    _print_unscanned(name, report.unscanned)
    for src in report.sources:
        print_table(
            f"{src['source']}: {src['flagged']} flagged, max score {src['max_score']:.2f}",
            ("chunk", "score", "quarantined", "excerpt"),
            (
                (
                    c["ordinal"],
                    f"{c['score']:.2f}",
                    "yes" if c["quarantined"] else "no",
                    c["excerpt"],
                )
                for c in src["chunks"]
            ),
        )


@app.command("scan")
def scan(
    name: str = typer.Argument(..., help="Knowledge base name."),
    rescan: bool = typer.Option(False, "--all", help="Rescan every chunk, not only unscanned."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Scan stored chunks for prompt injection in place (those ingested before scanning,
    or every chunk with --all) and apply the KB's injection policy.

    Example: prodline kb scan support-desk --json
    """
    with open_workspace() as ws:
        report = ws.kbs.scan(name, rescan=rescan)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"scanned {report.scanned} chunks of {name} in {report.seconds:.1f} s: "
        f"{report.flagged} flagged, {report.quarantined} quarantined "
        f"(injection_policy={report.policy})"
        + (f" in {', '.join(report.flagged_sources)}" if report.flagged_sources else ""),
        highlight=False,
    )


@app.command("update")
def update(
    name: str = typer.Argument(..., help="Knowledge base name."),
    privacy: str = typer.Option(
        None, "--privacy", help="route, redact or refuse: sensitive context to cloud providers."
    ),
    injection_policy: str = typer.Option(
        None, "--injection-policy", help="tag, quarantine or block: what a flagged chunk gets."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Change a knowledge base's privacy or injection policy (audited); a new injection
    policy re-applies to the chunks already flagged.

    Example: prodline kb update support-desk --privacy redact --injection-policy quarantine
    """
    with open_workspace() as ws:
        changes = ws.kbs.update(name, privacy=privacy, injection_policy=injection_policy)
        kb = ws.kbs.get(name)
    if as_json:
        print_json(
            {
                "kb": name,
                "privacy": kb.privacy,
                "injection_policy": kb.injection_policy,
                "changes": changes,
            }
        )
        return
    if not changes:
        console.print(
            f"{name} unchanged: privacy={kb.privacy}, injection_policy={kb.injection_policy}"
        )
        return
    moved = ""
    if "requarantined" in changes:
        moved = f"; {changes['requarantined']} flagged chunks quarantined"
    elif "released" in changes:
        moved = f"; {changes['released']} flagged chunks released from quarantine"
    console.print(
        f"[green]updated[/] {name}: privacy={kb.privacy}, "
        f"injection_policy={kb.injection_policy}{moved}",
        highlight=False,
    )
