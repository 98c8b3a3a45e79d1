"""``prodline kpi`` and ``prodline budget``: the round trip, --json, and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]


def test_budget_commands(cli: CLI) -> None:
    assert cli("init").code == 0
    made = cli("budget", "create", "desk", "--scope", "kb:support-desk", "--amount", "50",
               "--hard", "--on-exceed", "route", "--route-to", "extractive")  # fmt: skip
    assert made.code == 0 and "budget desk: $50 per month for kb:support-desk" in made.out
    assert (
        cli("budget", "create", "all", "--scope", "all", "--period", "day", "--amount", "5").code
        == 0
    )
    overlap = cli("budget", "create", "again", "--scope", "kb:support-desk", "--amount", "9")
    assert overlap.code == 2 and "overlaps budget 'desk'" in overlap.err
    assert len(overlap.err.strip().splitlines()) == 1
    listed = json.loads(cli("budget", "list", "--json").out)
    assert [s["budget"]["name"] for s in listed] == ["all", "desk"]
    table = cli("budget", "list").out
    assert "hard, route to extractive" in table and "kb:support-desk" in table
    shown = json.loads(cli("budget", "show", "desk", "--json").out)
    assert shown["state"] == "ok" and shown["spent_usd"] == 0
    assert "reserved in flight" in cli("budget", "show", "desk").out
    bad = cli("budget", "create", "x", "--scope", "kb", "--amount", "1")
    assert bad.code == 2 and "KIND:NAME" in bad.err
    assert cli("budget", "delete", "desk").code == 0
    missing = cli("budget", "show", "desk")
    assert missing.code == 2 and "Budget 'desk' does not exist" in missing.err


def test_kpi_commands(cli: CLI, tmp_path: Path) -> None:
    assert cli("init").code == 0
    made = cli("kpi", "create", "grounded", "--definition", "grounded answers", "--baseline",
               "0.5", "--target", "0.8", "--value-per-unit", "2", "--window", "day")  # fmt: skip
    assert made.code == 0 and "rate of events per day" in made.out
    assert cli("kpi", "record", "grounded", "1").code == 0
    assert cli("kpi", "record", "grounded", "0", "--ts", "2020-01-01T00:00:00Z").code == 0
    events = tmp_path / "events.csv"
    events.write_text("ts,value\n" + "".join(f"2020-01-0{i + 2}T10:00:00Z,1\n" for i in range(3)))
    loaded = cli("kpi", "record", "grounded", "--csv", str(events), "--json")
    assert json.loads(loaded.out) == {"kpi": "grounded", "accepted": 3}
    bad = cli("kpi", "record", "grounded", "lots")
    assert bad.code == 2 and "value 'lots' is not a number" in bad.err
    unknown = cli("kpi", "record", "nope", "1")
    assert unknown.code == 2 and "KPI 'nope' does not exist" in unknown.err
    assert [k["name"] for k in json.loads(cli("kpi", "list", "--json").out)] == ["grounded"]
    assert "grounded" in cli("kpi", "list").out
    shown = json.loads(cli("kpi", "show", "grounded", "--windows", "2", "--json").out)
    assert shown["windows"][-1]["n"] == 1 and shown["windows"][-1]["met"] is True
    assert shown["roi"]["n"] == 1 and shown["roi"]["benefit_usd"] == 2 * (1 - 0.5) * 1
    text = cli("kpi", "show", "grounded", "--windows", "2").out
    assert "ROI over 30d: benefit" in text and "vs baseline" in text
