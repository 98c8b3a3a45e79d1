"""``prodline monitor``, ``prodline alerts`` and ``prodline worker``: watching what is served."""

from __future__ import annotations

from pathlib import Path

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

app = typer.Typer(
    help="Monitors: drift, performance and concept checks on a served model.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(help="Alerts raised by monitors and auto-rollback.", no_args_is_help=True)


def _short(moment: object) -> str:
    return str(moment)[:19] if moment else "-"


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Monitor name."),
    model: str = typer.Option(None, "--model", help="MODEL@ALIAS to watch."),
    kb: str = typer.Option(None, "--kb", help="A knowledge base to watch (RAG checks)."),
    reference: str = typer.Option(
        None, "--reference", help="DATASET@V to compare inputs with (data_drift)."
    ),
    window: str = typer.Option("1000", "--window", help="Last N rows (1000) or a span (1h)."),
    checks: str = typer.Option(
        None,
        "--checks",
        help="Comma-separated: data_drift, prediction_drift, performance, concept; "
        "with --kb: groundedness, rag_drift.",
    ),
    every: str = typer.Option(None, "--every", help="Run by the worker every 30s/10m/1h."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a monitor on a model alias (or a knowledge base).

    Example: prodline monitor create credit-drift --model credit-risk@production
    --reference german-credit@1 --window 1000 --checks data_drift,prediction_drift --every 10m
    """
    chosen = [c.strip() for c in checks.split(",") if c.strip()] if checks else None
    with open_workspace() as ws:
        mon = ws.monitors.create(
            name, model=model, kb=kb, reference=reference, window=window, checks=chosen, every=every
        )
    if as_json:
        print_json(mon.to_dict())
        return
    when = f", every {mon.to_dict()['every']} (run by prodline worker)" if mon.every_seconds else ""
    console.print(
        f"monitor {mon.name} watches {mon.target}: {', '.join(mon.checks)} over "
        f"window {mon.window}{when}",
        highlight=False,
    )


@app.command("run")
def run(
    name: str = typer.Argument(..., help="Monitor name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    wait: float = typer.Option(
        10.0, "--wait", min=0, help="Seconds to keep retrying webhook deliveries."
    ),
) -> None:
    """Run a monitor now; its alerts are recorded and sent to the configured webhooks.

    Example: prodline monitor run credit-drift --json
    """
    with open_workspace() as ws:
        result = ws.monitors.run(name)
        left = ws.alerts.flush(timeout_s=wait) if result.alerts else 0
    if as_json:
        print_json(result.to_dict() | {"undelivered_pending": left})
        return
    print_table(
        f"monitor {name}: run {result.id} {result.status}",
        ("check", "status", "result"),
        ((c, d.get("status"), d.get("message")) for c, d in result.summary["checks"].items()),
    )
    if result.alerts:
        console.print(f"{result.alerts} alert(s) raised; see prodline alerts list", highlight=False)
    if left:
        console.print(f"{left} webhook deliveries still pending (the worker retries them)")


@app.command("list")
def list_monitors(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List monitors with their schedule and last run.

    Example: prodline monitor list --json
    """
    with open_workspace() as ws:
        monitors = ws.monitors.list()
    if as_json:
        print_json([m.to_dict() for m in monitors])
        return
    print_table(
        "monitors",
        ("name", "target", "checks", "window", "every", "last run", "next run"),
        (
            (
                m.name,
                m.target,
                ",".join(m.checks),
                m.window,
                m.to_dict()["every"],
                _short(m.last_run_at),
                _short(m.next_run_at),
            )
            for m in monitors
        ),
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Monitor name."),
    limit: int = typer.Option(10, "--limit", min=1, help="How many recent runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a monitor's settings and its recent runs.

    Example: prodline monitor show credit-drift --limit 5
    """
    with open_workspace() as ws:
        mon = ws.monitors.get(name)
        runs = ws.monitors.runs(name, limit=limit)
    if as_json:
        print_json(mon.to_dict() | {"runs": [r.to_dict() for r in runs]})
        return
    for key, value in mon.to_dict().items():
        console.print(f"{key:12} {value}", highlight=False)
    print_table(
        "recent runs",
        ("run", "started (UTC)", "status", "version", "alerts"),
        ((r.id, _short(r.started_at), r.status, r.model_version, r.alerts) for r in runs),
    )


@app.command("report")
def report(
    name: str = typer.Argument(..., help="Monitor name."),
    html: Path = typer.Option(..., "--html", dir_okay=False, help="Write the report here."),
    as_json: bool = typer.Option(False, "--json", help="Print where it went, as JSON."),
) -> None:
    """Write the newest run's HTML report (charts inline: it opens offline).

    Example: prodline monitor report credit-drift --html report.html
    """
    with open_workspace() as ws:
        data = ws.monitors.report_html(name)
    try:
        html.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write the report to '{html}': {exc.strerror or exc}; "
            "give a writable file path.",
            field="html",
        ) from exc
    if as_json:
        print_json({"monitor": name, "html": str(html), "bytes": len(data)})
        return
    console.print(f"wrote {html}", highlight=False)


@alerts_app.command("list")
def list_alerts(
    monitor: str = typer.Option(None, "--monitor", help="Only this monitor's alerts."),
    kind: str = typer.Option(None, "--kind", help="Only this kind, e.g. data_drift."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List alerts, newest first, with their webhook deliveries.

    Example: prodline alerts list --kind data_drift --json
    """
    with open_workspace() as ws:
        found = ws.alerts.list(monitor=monitor, kind=kind, limit=limit)
        deliveries = {a.id: ws.alerts.deliveries(a.id) for a in found}
    if as_json:
        print_json(
            [a.to_dict() | {"deliveries": [d.to_dict() for d in deliveries[a.id]]} for a in found]
        )
        return
    print_table(
        "alerts (newest first)",
        ("id", "time (UTC)", "kind", "severity", "message", "webhooks"),
        (
            (
                a.id,
                _short(a.created_at),
                a.kind,
                a.severity,
                a.message,
                ", ".join(f"{d.status}" for d in deliveries[a.id]) or "-",
            )
            for a in found
        ),
    )


def worker(
    tick: float = typer.Option(1.0, "--tick", min=0.05, help="Seconds between passes."),
    once: bool = typer.Option(False, "--once", help="Run one pass and exit."),
) -> None:
    """Run scheduled monitors, webhook retries and alert hooks until SIGTERM or Ctrl-C.

    Only one worker per workspace works at a time (a lease in the store); a second
    one waits and takes over when the first stops.

    Example: prodline worker --tick 1
    """
    from prodline.serving.worker import build_worker

    def echo(line: str) -> None:
        console.print(line, highlight=False)

    with open_workspace() as ws:
        runner = build_worker(ws, tick_s=tick, echo=echo)
        runner.install_signal_handlers()
        runner.run(max_ticks=1 if once else None)
