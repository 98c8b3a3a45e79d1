"""``prodline gate``: run a version's checks, sign off, justify, override, show the policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table

if TYPE_CHECKING:
    from prodline.gates.decision import GateReport

app = typer.Typer(
    help="Promotion gates: checks recorded as evidence, sign-off, justification, override.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")


def _print_report(report: GateReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    verdict = "[green]passes[/]" if report.passed else "[red]does not pass yet[/]"
    console.print(f"{report.ref} → '{report.alias}' under policy {report.policy}: {verdict}")
    if not report.required:
        console.print(f"'{report.alias}' is not protected by this policy: nothing is required.")
    rows = [
        [check, "met" if report.met[check] else "unmet", str(report.evidence.get(check, "-"))]
        for check in report.required
    ]
    if rows:
        print_table(f"checks of {report.ref}", ["check", "state", "evidence"], rows)
    for reason in report.reasons:
        console.print(f"  - {reason}")


@app.command("check")
def check(
    ref: str = typer.Argument(..., help="NAME@VERSION, or kb:NAME for a knowledge base."),
    holdout: str = typer.Option(None, "--holdout", help="Holdout dataset DATASET@V."),
    target: str = typer.Option(None, "--target", help="Label column (default: registered)."),
    alias: str = typer.Option("production", "--to", help="The alias the checks are for."),
    as_json: bool = _JSON,
) -> None:
    """Run the checks the version's policy requires; each result is recorded as evidence.

    Exits 1 when a required check is unmet (the report says which and how to meet it).

    Example: prodline gate check credit-risk@2 --holdout german-credit-holdout@1
    """
    with open_workspace() as ws:
        if ref.startswith("kb:"):
            report = ws.gates.kb_status(ref[3:])
        else:
            report = ws.gates.check(ref, holdout=holdout, target=target, alias=alias)
    _print_report(report, as_json)
    if not report.passed:
        raise typer.Exit(1)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME@VERSION, or kb:NAME."),
    alias: str = typer.Option("production", "--to", help="The alias to judge against."),
    as_json: bool = _JSON,
) -> None:
    """Where a version stands against its policy, and the gate evidence recorded on it.

    Example: prodline gate show credit-risk@2
    """
    with open_workspace() as ws:
        report = (
            ws.gates.kb_status(ref[3:])
            if ref.startswith("kb:")
            else ws.gates.status(ref, alias=alias)
        )
        evidence = ws.gates.evidence(ref)
    if as_json:
        print_json({**report.to_dict(), "records": [e.to_dict() for e in evidence]})
        return
    _print_report(report, False)
    print_table(
        f"gate evidence on {ref}",
        ["#", "kind", "passed", "by", "at", "summary"],
        [
            [
                str(e.id),
                e.kind,
                "-" if e.passed is None else str(e.passed).lower(),
                e.created_by,
                e.created_at.strftime("%Y-%m-%d %H:%M"),
                _brief(e.summary),
            ]
            for e in evidence
        ],
    )


def _brief(summary: Any) -> str:
    for key in ("reason", "note", "candidate", "policy"):
        if key in summary:
            text = str(summary[key])
            return text if len(text) <= 60 else text[:57] + "..."
    return ""


@app.command("approve")
def approve(
    ref: str = typer.Argument(..., help="NAME@VERSION."),
    note: str = typer.Option(..., "--note", help="What you reviewed and why it may ship."),
    as_json: bool = _JSON,
) -> None:
    """Sign off a version as a reviewer who did not register it (four-eyes).

    Example: prodline gate approve credit-risk@2 --note "read the fairness audit"
    """
    with open_workspace() as ws:
        ev = ws.gates.approve(ref, note)
    if as_json:
        print_json(ev.to_dict())
        return
    console.print(f"approved {ref} as {ev.created_by} (evidence #{ev.id})")


@app.command("justify")
def justify(
    ref: str = typer.Argument(..., help="NAME@VERSION, or kb:NAME for a knowledge base."),
    reason: str = typer.Option(..., "--reason", help="Why the PII/PHI data is needed."),
    as_json: bool = _JSON,
) -> None:
    """Record why a model (or knowledge base) needs its PII/PHI-tagged data: who and why.

    Example: prodline gate justify credit-risk@2 --reason "age is a legal credit factor"
    """
    with open_workspace() as ws:
        ev = ws.gates.justify(ref, reason)
    if as_json:
        print_json(ev.to_dict())
        return
    console.print(f"justification recorded on {ev.subject} by {ev.created_by} (evidence #{ev.id})")


@app.command("override")
def override(
    ref: str = typer.Argument(..., help="NAME@VERSION."),
    alias: str = typer.Option(..., "--to", help="The protected alias to move."),
    reason: str = typer.Option(..., "--reason", help="Why it must ship past unmet checks."),
    as_json: bool = _JSON,
) -> None:
    """Promote past unmet checks (admin); the reason is recorded as evidence.

    Example: prodline gate override credit-risk@3 --to production --reason "incident 42 hotfix"
    """
    with open_workspace() as ws:
        mv = ws.gates.override(ref, alias, reason)
    if as_json:
        print_json(mv.to_dict())
        return
    console.print(f"[yellow]overridden[/]: {mv.name}@{alias} → v{mv.version} (reason recorded)")


@app.command("policy")
def policy(
    level: str = typer.Argument(None, help="minimal, limited or high (default: all three)."),
    as_json: bool = _JSON,
) -> None:
    """Show the effective policy per risk level (shipped + $PRODLINE_HOME/policies).

    Example: prodline gate policy high
    """
    from prodline.gates.policy import LEVELS

    with open_workspace() as ws:
        policies = [ws.gates.policy(lv) for lv in ([level] if level else LEVELS)]
    if as_json:
        out = [p.to_dict() for p in policies]
        print_json(out[0] if level else out)
        return
    for p in policies:
        aliases = ", ".join(p.protected_aliases) or "none"
        console.print(f"[bold]{p.version}[/]  protects: {aliases}  ({' + '.join(p.sources)})")
        for name, conf in p.checks.items():
            settings = ", ".join(f"{k}={v}" for k, v in conf.items())
            console.print(f"  {name}: {settings or '-'}")
