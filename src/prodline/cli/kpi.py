"""``prodline kpi``: business KPIs, their events, their value per window and their ROI."""

from __future__ import annotations

from pathlib import Path

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

app = typer.Typer(
    help="KPIs: what a model or KB should move, per window, against baseline and target.",
    no_args_is_help=True,
)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@app.command("create")
def create(
    name: str = typer.Argument(..., help="KPI name."),
    definition: str = typer.Option(..., "--definition", help="What it measures, in words."),
    source: str = typer.Option("events", "--source", help="events, feedback or reviews."),
    aggregate: str = typer.Option("rate", "--aggregate", help="mean, sum, count or rate."),
    baseline: float = typer.Option(..., "--baseline", help="The value before the model."),
    target: float = typer.Option(..., "--target", help="The value to reach."),
    direction: str = typer.Option("up", "--direction", help="up or down: which is better."),
    value_per_unit: float = typer.Option(
        0.0, "--value-per-unit", help="USD per unit of change (for ROI)."
    ),
    window: str = typer.Option("week", "--window", help="day, week or month."),
    subject: str = typer.Option(
        None, "--subject", help="The model or KB (needed by feedback and reviews)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Define a KPI.

    Example: prodline kpi create grounded --definition "grounded answers" --baseline 0.6
    --target 0.8
    """
    with open_workspace() as ws:
        kpi = ws.costs.kpis.create(
            name, definition=definition, source=source, aggregate=aggregate,
            baseline=baseline, target=target, direction=direction,
            value_per_unit_usd=value_per_unit, window=window, subject=subject,
        )  # fmt: skip
    if as_json:
        print_json(kpi.to_dict())
        return
    console.print(
        f"kpi {kpi.name}: {kpi.aggregate} of {kpi.source} per {kpi.window}, baseline "
        f"{kpi.baseline:g}, target {kpi.target:g} ({kpi.direction})",
        highlight=False,
    )


@app.command("record")
def record(
    name: str = typer.Argument(..., help="KPI name."),
    value: str = typer.Argument(None, help="The event's value (or give --csv)."),
    ts: str = typer.Option(None, "--ts", help="When it happened (ISO; default now)."),
    csv_file: Path = typer.Option(None, "--csv", help="A CSV file with columns ts,value."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Record a business event of a KPI, or a CSV file of them.

    Example: prodline kpi record grounded 1 --ts 2026-12-01T10:00:00Z
    """
    if (value is None) == (csv_file is None):
        raise InvalidInput("Give a VALUE or --csv FILE (not both).", field="value")
    with open_workspace() as ws:
        if csv_file is not None:
            count = ws.costs.kpis.load_csv(name, csv_file)
        else:
            try:
                number = float(value)
            except ValueError:
                raise InvalidInput(f"value {value!r} is not a number.", field="value") from None
            count = ws.costs.kpis.record(name, number, ts=ts, source="cli")
    if as_json:
        print_json({"kpi": name, "accepted": count})
        return
    console.print(f"recorded {count} event(s) of {name}", highlight=False)


@app.command("list")
def list_kpis(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List KPIs.

    Example: prodline kpi list
    """
    with open_workspace() as ws:
        found = ws.costs.kpis.list()
    if as_json:
        print_json([k.to_dict() for k in found])
        return
    print_table(
        "KPIs",
        ["name", "source", "aggregate", "subject", "baseline", "target", "window", "USD/unit"],
        [
            (
                k.name,
                k.source,
                k.aggregate,
                k.subject,
                f"{k.baseline:g}",
                f"{k.target:g} ({k.direction})",
                k.window,
                f"{k.value_per_unit_usd:g}",
            )
            for k in found
        ],
    )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="KPI name."),
    windows: int = typer.Option(8, "--windows", help="How many windows, the current last."),
    period: str = typer.Option("30d", "--period", help="ROI over this period (30d, 2w…)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a KPI per window against baseline and target, and its ROI over --period.

    Example: prodline kpi show grounded --windows 4 --period 30d
    """
    with open_workspace() as ws:
        kpi = ws.costs.kpis.get(name)
        series = ws.costs.kpis.series(name, windows=windows)
        roi = ws.costs.kpis.roi(name, period=period)
    if as_json:
        print_json(
            {**kpi.to_dict(), "windows": [w.to_dict() for w in series], "roi": roi.to_dict()}
        )
        return
    console.print(f"kpi {kpi.name}: {kpi.definition}", highlight=False, markup=False)
    print_table(
        f"{kpi.aggregate} of {kpi.source} per {kpi.window} (baseline {kpi.baseline:g}, "
        f"target {kpi.target:g} {kpi.direction})",
        ["window", "n", "value", "vs baseline", "met"],
        [
            (
                f"{w.start:%Y-%m-%d}",
                w.n,
                _number(w.value),
                _number(w.vs_baseline),
                "-" if w.met is None else ("yes" if w.met else "no"),
            )
            for w in series
        ],
    )
    ratio = "-" if roi.ratio is None else f"{roi.ratio:.2f}x"
    console.print(
        f"ROI over {period}: benefit ${roi.benefit_usd:.2f} (current {_number(roi.current)} "
        f"over {roi.n}), cost ${roi.cost_usd:.4f}, net ${roi.net_usd:.2f}, ratio {ratio}"
        + (f"  ({roi.note})" if roi.note else ""),
        highlight=False,
        markup=False,
    )
