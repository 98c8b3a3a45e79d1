"""``prodline drift``: one-shot data and prediction drift against a dataset version."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import typer

from prodline.cli.common import console, err_console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

__all__ = ["drift", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"1h"``, ``"2d"``, ``"1w"`` → a timedelta.

    Examples
    --------
    >>> parse_duration("1h")
    datetime.timedelta(seconds=3600)
    """
    match = _DURATION.match(text)
    if not match:
        raise InvalidInput(
            f"--since '{text}' is not a duration; write a number and a unit, e.g. 30m, 1h, 2d.",
            field="since",
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def drift(
    reference: str = typer.Argument(..., help="DATASET@V: the reference dataset version."),
    current: str = typer.Argument(..., help="A .csv/.parquet file, or MODEL@ALIAS (its log)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    last: int = typer.Option(None, "--last", min=1, help="MODEL@ALIAS: the newest N rows."),
    since: str = typer.Option(None, "--since", help="MODEL@ALIAS: rows of the last 30m, 1h, 2d."),
    test: list[str] = typer.Option(
        [], "--test", help="COL=TEST (ks, chisquare, psi, wasserstein, jensenshannon); repeat."
    ),
    threshold: list[str] = typer.Option([], "--threshold", help="COL=X; repeat."),
    share: float = typer.Option(
        0.5, "--share", help="The dataset drifts when this share of columns drift."
    ),
) -> None:
    """Compare live data or a model's logged window with a dataset version, per column.

    Defaults follow Evidently: KS / chi-squared (p < 0.05) up to 1000 reference rows,
    normalized Wasserstein / Jensen-Shannon (>= 0.1) above. Exit code 0 either way.

    Example: prodline drift german-credit@1 credit-risk@production --last 1000;
    prodline drift german-credit@1 live.csv --test age=psi --threshold age=0.2 --json
    """
    from prodline.cli.common import parse_pairs
    from prodline.monitor.drift import DriftOptions

    tests = parse_pairs(test, flag="--test")
    thresholds = parse_pairs(threshold, flag="--threshold", numeric=True)
    overrides = {
        col: (tests.get(col), thresholds.get(col)) for col in sorted({*tests, *thresholds})
    }
    options = DriftOptions(columns=overrides, drift_share=share)
    window = parse_duration(since) if since is not None else None
    target: str | Path = current
    with open_workspace() as ws:
        report = ws.drift(reference, target, last=last, since=window, options=options)
    if as_json:
        print_json(report.to_dict())
        for name, note in report.notes.items():
            err_console.print(f"note: {name}: {note}", highlight=False, soft_wrap=True)
        return
    rows = []
    for name, c in report.columns.items():
        value = c.p_value if c.p_value is not None else c.score
        rows.append(
            (
                name,
                c.type,
                c.test,
                _num(c.statistic),
                ("p=" if c.p_value is not None else "") + _num(value),
                _num(c.threshold),
                "DRIFT" if c.drift else ("-" if c.statistic is None else "ok"),
                c.note or "",
            )
        )
    print_table(
        f"drift of {current} against {reference} "
        f"({report.rows_current:,} vs {report.rows_reference:,} rows)",
        ["column", "type", "test", "statistic", "p-value/score", "threshold", "verdict", "note"],
        rows,
    )
    for name, why in report.left_out.items():
        console.print(f"left out: {name} ({why})", highlight=False)
    verdict = "DRIFT" if report.dataset_drift else "no drift"
    console.print(
        f"dataset: {verdict} — {report.share:.0%} of columns drifted "
        f"(threshold {report.drift_share:.0%})",
        highlight=False,
    )


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return f"{value:.4g}"
