"""``prodline compliance`` and ``prodline retention``: EU AI Act documents, record-keeping
bundles, and what the prediction log keeps and for how long."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table, split_ref
from prodline.errors import InvalidInput

app = typer.Typer(help="EU AI Act classification, documents and bundles.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Prediction-log minimisation (keep / hash / drop per column) and retention.",
    no_args_is_help=True,
)


def _answers_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise InvalidInput(f"--answers '{path}' does not exist.", field="--answers") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"--answers '{path}' is not YAML/JSON: {exc}", field="--answers"
        ) from exc
    if not isinstance(loaded, dict):
        raise InvalidInput(f"--answers '{path}' must hold a mapping of key: answer.")
    return dict(loaded)


@app.command("classify")
def classify(
    name: str = typer.Argument(..., help="The registered model."),
    answers: Path = typer.Option(None, "--answers", help="YAML/JSON: purpose and key: true."),
    purpose: str = typer.Option(None, "--purpose", help="The intended purpose, in words."),
    yes: list[str] = typer.Option([], "--yes", help="A question key answered yes (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Classify a model's EU AI Act risk with the Annex III questionnaire (stored as evidence).

    Without --answers or --yes, asks each question on the terminal. The keys are listed by
    prodline compliance questions.

    Example: prodline compliance classify credit-risk --purpose 'score loan applicants'
    --yes essential_services --yes profiling
    """
    from prodline.compliance.annex3 import QUESTIONS

    given: dict[str, Any] = _answers_file(answers) if answers else {}
    if purpose:
        given["purpose"] = purpose
    for key in yes:
        given[key] = True
    if not answers and not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(
                "Give the answers with --answers FILE or --yes KEY (no terminal to ask on)."
            )
        if not given.get("purpose"):
            given["purpose"] = typer.prompt("Intended purpose")
        for q in QUESTIONS:
            given[q.key] = typer.confirm(f"[{q.article}] {q.text}", default=False)
    with open_workspace() as ws:
        verdict = ws.compliance.classify(name, given)
    if as_json:
        print_json(verdict.to_dict())
    else:
        console.print(
            f"{name}: risk class {verdict.risk_class} (risk level {verdict.risk_level})",
            highlight=False,
        )
        for reason in verdict.reasons:
            console.print(f"  {reason['article']}: {reason['why']}", highlight=False)
    if verdict.prohibited:
        raise typer.Exit(1)


@app.command("questions")
def questions(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the Annex III questionnaire's keys, provisions and questions.

    Example: prodline compliance questions --json
    """
    from dataclasses import asdict

    from prodline.compliance.annex3 import QUESTIONS

    if as_json:
        print_json([asdict(q) for q in QUESTIONS])
        return
    print_table(
        "Annex III questionnaire",
        ("key", "provision", "question"),
        ((q.key, q.article, q.text) for q in QUESTIONS),
    )


@app.command("docs")
def docs(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME@ALIAS) of a model."),
    fmt: str = typer.Option("md", "--format", help="md, html or pdf."),
    out: Path = typer.Option(None, "--out", help="File to write (default: in the workspace)."),
    as_json: bool = typer.Option(False, "--json", help="Print the path and gaps as JSON."),
) -> None:
    """Generate the Annex IV technical documentation and model card from recorded evidence.

    Every statement cites its audit event; missing evidence is listed as a gap.

    Example: prodline compliance docs credit-risk@3 --format html --out credit-risk.html
    """
    name, which = split_ref(ref, what="model")
    with open_workspace() as ws:
        path = ws.compliance.docs(name, which, fmt, out)
        doc = ws.compliance.document(name, which) if as_json else None
    if as_json and doc is not None:
        print_json({"path": str(path), "gaps": [f"{t}: {g}" for t, g in doc.gaps]})
        return
    console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def _moment(text: str, flag: str) -> datetime:
    """``2026-05-01``, an ISO time, or a duration ago such as ``30d`` / ``12h``."""
    units = {"d": 86400, "h": 3600, "m": 60}
    if text and text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{flag} '{text}' is neither a date (2026-05-01), a time nor a duration (30d).",
            field=flag,
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("export")
def export(
    since: str = typer.Option(..., "--since", help="Start: a date, ISO time or 30d / 12h ago."),
    until: str = typer.Option(None, "--until", help="End (default: now)."),
    out: Path = typer.Option(..., "--out", help="A new folder for the bundle."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Export a period's audit events and prediction logs as a signed bundle.

    Check it offline with prodline audit verify --bundle PATH.

    Example: prodline compliance export --since 30d --out bundle-2026-05
    """
    start = _moment(since, "--since")
    end = _moment(until, "--until") if until else None
    with open_workspace() as ws:
        manifest = ws.compliance.export(out, since=start, until=end)
    if as_json:
        print_json(manifest)
        return
    console.print(
        f"wrote {out}: {manifest['events']['count']} audit events, "
        f"{manifest['predictions']['rows']} prediction rows, signed",
        highlight=False,
    )


@retention_app.command("set")
def retention_set(
    model: str = typer.Argument(..., help="The registered model."),
    column: list[str] = typer.Option(
        [], "--column", help="COLUMN=keep|hash|drop (repeat); hash is a keyed HMAC."
    ),
    days: int = typer.Option(None, "--days", help="Keep prediction records this many days."),
    replace: bool = typer.Option(False, "--replace", help="Forget columns not named now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Set what the prediction log keeps of a model's inputs, and for how long.

    Example: prodline retention set credit-risk --column sex=hash --column age=drop --days 90
    """
    from prodline.cli.common import parse_pairs

    columns = parse_pairs(column, flag="--column")
    with open_workspace() as ws:
        policy = ws.retention.set(model, columns, days=days, replace=replace)
    if as_json:
        print_json(policy.to_dict())
        return
    _print_policies([policy])


def _print_policies(policies: list[Any]) -> None:
    print_table(
        "prediction-log retention",
        ("model", "hashed", "dropped", "days", "updated by"),
        (
            (
                p.model,
                ", ".join(p.hashed) or "-",
                ", ".join(p.dropped) or "-",
                p.days or "forever",
                p.updated_by,
            )
            for p in policies
        ),
    )


@retention_app.command("list")
def retention_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every model's prediction-log policy.

    Example: prodline retention list --json
    """
    with open_workspace() as ws:
        policies = ws.retention.list()
    if as_json:
        print_json([p.to_dict() for p in policies])
        return
    _print_policies(policies)


@retention_app.command("show")
def retention_show(
    model: str = typer.Argument(..., help="The registered model."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one model's policy.

    Example: prodline retention show credit-risk
    """
    with open_workspace() as ws:
        policy = ws.retention.get(model)
    if as_json:
        print_json(policy.to_dict())
        return
    _print_policies([policy])


@retention_app.command("purge")
def retention_purge(
    model: str = typer.Option(None, "--model", help="Only this model."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete prediction records older than each model's retention period (audited).

    Example: prodline retention purge --dry-run
    """
    with open_workspace() as ws:
        results = ws.retention.purge(model, dry_run=dry_run)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    verb = "would remove" if dry_run else "removed"
    for r in results:
        console.print(
            f"{r.model}: {verb} {r.requests} requests logged before {r.cutoff:%Y-%m-%d %H:%M} "
            f"UTC ({r.segments_deleted} segments deleted, {r.segments_rewritten} rewritten)",
            highlight=False,
        )
    if not results:
        console.print("no model has a retention period; set one with prodline retention set")


def audit_key_offline() -> bytes:
    """The workspace key without opening the database (for offline bundle checks)."""
    from prodline.config import Settings
    from prodline.errors import NotFound
    from prodline.ledger.audit import load_or_create_key

    path = Settings.load().home / "keys" / "audit.key"
    if not os.environ.get("PRODLINE_AUDIT_KEY") and not path.exists():
        raise NotFound(
            f"No workspace key at {path}; set PRODLINE_AUDIT_KEY (hex) or PRODLINE_HOME to "
            "the workspace that signed the bundle."
        )
    return load_or_create_key(path)
