"""KPIs: definitions, events (bad input named, out-of-order ts), windows per source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prodline.cost.budgets import period_bounds
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.ledger import Prediction, PredictionWriter
from prodline.workspace import Workspace

NOW = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)  # Wednesday; the week began Monday 7th
WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One SQLite workspace for the tests that need no backend of their own (names differ)."""
    with Workspace.open(tmp_path_factory.mktemp("kpis") / "home", actor="tester") as ws:
        yield ws


def _rate_kpi(ws: Workspace, name: str = "grounded", **extra: object) -> None:
    args: dict[str, object] = {
        "definition": "share of questions answered with a grounded answer",
        "source": "events", "aggregate": "rate", "baseline": 0.5, "target": 0.7,
        "direction": "up", "value_per_unit_usd": 2.0, "window": "week",
    }  # fmt: skip
    ws.costs.kpis.create(name, **{**args, **extra})  # type: ignore[arg-type]


def test_events_land_in_the_window_of_their_ts_whatever_the_order(ws: Workspace) -> None:
    _rate_kpi(ws)
    kpis = ws.costs.kpis
    # this week 3 of 4 grounded, last week 1 of 2; sent newest first (a clock going back)
    kpis.record("grounded", 1, ts=NOW - timedelta(hours=1))
    kpis.record("grounded", 0, ts=NOW - WEEK)
    kpis.record_many(
        [
            {"kpi": "grounded", "value": 1, "ts": "2026-12-07T00:00:00Z"},  # the week's first µs
            {"kpi": "grounded", "value": 1, "ts": (NOW - timedelta(hours=3)).isoformat()},
            {"kpi": "grounded", "value": 1.0, "ts": "2026-12-06T23:59:59+00:00"},  # last week
            {"kpi": "grounded", "value": 0, "ts": NOW - timedelta(days=1)},
        ]
    )
    series = kpis.series("grounded", windows=3, now=NOW)
    assert [w.start for w in series] == [
        datetime(2026, 11, 23, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
    ]
    assert [(w.n, w.value, w.met) for w in series] == [
        (0, None, None),
        (2, 0.5, False),
        (4, 0.75, True),
    ]
    assert series[-1].vs_baseline == pytest.approx(0.25)
    recorded = [e for e in ws.audit.events() if e.action == "kpi.recorded"]
    newest = max(recorded, key=lambda e: e.seq)
    assert len(recorded) == 3 and newest.payload == {"events": {"grounded": 4}}


@pytest.mark.parametrize(
    ("aggregate", "values", "expected"),
    [("mean", [2.0, 4.0, 0.0], 2.0), ("sum", [2.0, 4.0, 0.0], 6.0),
     ("count", [2.0, 4.0, 0.0], 3.0), ("rate", [2.0, 4.0, 0.0], 2 / 3)],
)  # fmt: skip
def test_aggregates(
    shared: Workspace, aggregate: str, values: list[float], expected: float
) -> None:
    name = f"agg-{aggregate}"
    _rate_kpi(shared, name, aggregate=aggregate, window="day", direction="down", target=1)
    shared.costs.kpis.record_many(
        [{"kpi": name, "value": v, "ts": NOW - timedelta(minutes=i)} for i, v in enumerate(values)]
    )
    (window,) = shared.costs.kpis.series(name, windows=1, now=NOW)
    assert window.value == pytest.approx(expected) and window.met is (expected <= 1)


def test_bad_events_name_the_field_and_store_nothing(sqlite_ws: Workspace) -> None:
    _rate_kpi(sqlite_ws)
    kpis = sqlite_ws.costs.kpis
    with pytest.raises(NotFound, match=r"KPI 'nope' does not exist.*KPIs are: grounded") as info:
        kpis.record_many([{"kpi": "grounded", "value": 1}, {"kpi": "nope", "value": 1}])
    assert info.value.details["field"] == "kpi"
    for bad in ("abc", None, True, float("nan"), [1]):
        with pytest.raises(InvalidInput) as invalid:
            kpis.record("grounded", bad)  # type: ignore[arg-type]
        assert invalid.value.details["field"] == "value"
    with pytest.raises(InvalidInput) as invalid:
        kpis.record("grounded", 1, ts="yesterday")
    assert invalid.value.details["field"] == "ts"
    assert kpis.series("grounded", windows=1)[0].n == 0
    assert [e.action for e in sqlite_ws.audit.events()] == ["kpi.created"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"source": "tweets"}, "source"), ({"aggregate": "median"}, "aggregate"),
     ({"direction": "sideways"}, "direction"), ({"window": "year"}, "window"),
     ({"baseline": "low"}, "baseline"), ({"value_per_unit_usd": -1}, "value_per_unit_usd"),
     ({"source": "feedback"}, "subject"), ({"definition": " "}, "definition")],
)  # fmt: skip
def test_bad_definitions_name_the_field(
    shared: Workspace, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        _rate_kpi(shared, "never", **change)
    assert info.value.details["field"] == field


def test_definitions_list_get_and_conflict(sqlite_ws: Workspace) -> None:
    _rate_kpi(sqlite_ws, "b")
    _rate_kpi(sqlite_ws, "a", window="month")
    with pytest.raises(Conflict, match="KPI 'a' exists"):
        _rate_kpi(sqlite_ws, "a")
    assert [k.name for k in sqlite_ws.costs.kpis.list()] == ["a", "b"]
    assert sqlite_ws.costs.kpis.get("a").to_dict()["window"] == "month"
    with pytest.raises(NotFound):
        sqlite_ws.costs.kpis.get("c")


def test_load_csv(shared: Workspace, tmp_path: Path) -> None:
    _rate_kpi(shared, "csv", window="day")
    good = tmp_path / "good.csv"
    good.write_text("ts,value\n2026-12-09T10:00:00Z,1\n2026-12-09 11:00,0\n2026-12-08,1\n")
    assert shared.costs.kpis.load_csv("csv", good) == 3
    assert [w.n for w in shared.costs.kpis.series("csv", windows=2, now=NOW)] == [1, 2]
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,value\n2026-12-09T10:00:00Z,1\n2026-12-09T11:00:00Z,lots\n")
    with pytest.raises(InvalidInput, match="line 3: value 'lots'") as info:
        shared.costs.kpis.load_csv("csv", bad)
    assert info.value.details["field"] == "value"


def test_feedback_kpi_is_accuracy_of_labelled_predictions_per_window(
    sqlite_ws: Workspace,
) -> None:
    ws = sqlite_ws
    ws.models.create("clf")
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=50)
    now = datetime.now(UTC)  # labels arrive after their predictions: no future predictions
    start = period_bounds("week", now)[0]
    moments = [start + (now - start) / 2] * 4 + [start - timedelta(days=1)] * 2
    writer.write(
        [
            Prediction(f"r{i}", "clf", 1, t.timestamp(), [{"x": 1.0}], [1], [[0.2, 0.8]], [0, 1], 1)
            for i, t in enumerate(moments)
        ]
    )
    writer.close()
    labels = [1, 1, 1, 0, 0, 1]  # this week 3 of 4 right, last week 1 of 2
    ws.feedback.add_many([{"request_id": f"r{i}", "label": y} for i, y in enumerate(labels)])
    _rate_kpi(ws, "accuracy", source="feedback", subject="clf", baseline=0.6, target=0.8)
    series = ws.costs.kpis.series("accuracy", windows=2, now=now)
    assert [(w.n, w.value, w.met) for w in series] == [(2, 0.5, False), (4, 0.75, False)]
    with pytest.raises(InvalidInput, match="reads feedback, not events") as info:
        ws.costs.kpis.record("accuracy", 1)
    assert info.value.details["field"] == "kpi"


def test_reviews_kpi_is_the_share_approved_without_edit(shared: Workspace) -> None:
    reviews = shared.reviews
    ids = [
        reviews.submit("kb", "desk", mode="after", reason="doubt", input={"q": i}, output="a").id
        for i in range(5)
    ]
    for item_id, decision in zip(ids, ["approve", "approve", "approve", "reject"], strict=False):
        reviews.decide(item_id, decision)
    reviews.decide(ids[4], "edit", output="better")
    _rate_kpi(shared, "approved", source="reviews", subject="desk", target=0.8)
    (window,) = shared.costs.kpis.series("approved", windows=1)
    assert (window.n, window.value, window.met) == (5, 0.6, False)
