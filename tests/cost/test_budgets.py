"""Budgets: definitions, overlap, soft alerts once, and exact hard limits under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from prodline.cost.budgets import BudgetExceeded, Budgets, period_bounds
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.workspace import Workspace

NOW = datetime(2026, 12, 9, 15, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One SQLite workspace for the tests that need no backend of their own (names differ)."""
    with Workspace.open(tmp_path_factory.mktemp("budgets") / "home", actor="tester") as ws:
        yield ws


def _alerts(ws: Workspace, budget: str) -> list[str]:
    found = [a for a in ws.alerts.list() if a.subject == f"budget:{budget}"]
    return [a.kind for a in sorted(found, key=lambda a: a.id)]


def test_periods_are_utc_calendar_periods() -> None:
    assert period_bounds("day", NOW) == (
        datetime(2026, 12, 9, tzinfo=UTC),
        datetime(2026, 12, 10, tzinfo=UTC),
    )
    assert period_bounds("week", NOW)[0] == datetime(2026, 12, 7, tzinfo=UTC)
    assert period_bounds("month", NOW) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scope_kind": "galaxy"}, "scope_kind"),
        ({"scope": ""}, "scope"),
        ({"period": "year"}, "period"),
        ({"amount_usd": 0}, "amount_usd"),
        ({"amount_usd": "ten"}, "amount_usd"),
        ({"soft_share": 1.5}, "soft_share"),
        ({"on_exceed": "panic"}, "on_exceed"),
        ({"on_exceed": "route"}, "route_to"),
    ],
)
def test_bad_definitions_name_the_field(
    shared: Workspace, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {
        "scope_kind": "team", "scope": "risk", "period": "month", "amount_usd": 10.0,
    }  # fmt: skip
    with pytest.raises(InvalidInput) as info:
        Budgets(shared).create("b", **{**args, **kwargs})  # type: ignore[arg-type]
    assert info.value.details["field"] == field


def test_overlapping_budget_conflicts_and_delete_frees_the_scope(sqlite_ws: Workspace) -> None:
    budgets = Budgets(sqlite_ws)
    budgets.create("risk-month", scope_kind="team", scope="risk", period="month", amount_usd=10)
    budgets.create("risk-day", scope_kind="team", scope="risk", period="day", amount_usd=1)
    with pytest.raises(Conflict, match="overlaps budget 'risk-month'"):
        budgets.create("again", scope_kind="team", scope="risk", period="month", amount_usd=5)
    with pytest.raises(Conflict, match="exists"):
        budgets.create("risk-day", scope_kind="team", scope="ops", period="day", amount_usd=1)
    budgets.delete("risk-month")
    with pytest.raises(NotFound, match="budgets are: risk-day"):
        budgets.get("risk-month")
    budgets.create("risk-month-2", scope_kind="team", scope="risk", period="month", amount_usd=5)
    assert [b.name for b in budgets.list()] == ["risk-day", "risk-month-2"]
    actions = [e.action for e in sqlite_ws.audit.events()]
    assert actions.count("budget.created") == 3 and actions.count("budget.deleted") == 1


def test_applicable_matches_the_call(shared: Workspace) -> None:
    budgets = Budgets(shared)
    budgets.create("all", scope_kind="all", period="month", amount_usd=100)
    budgets.create("kb", scope_kind="kb", scope="a-desk", period="day", amount_usd=1)
    budgets.create("team", scope_kind="team", scope="a-risk", period="week", amount_usd=5)
    budgets.create("tok", scope_kind="token", scope="a-svc", period="day", amount_usd=2)
    names = lambda found: sorted(b.name for b in found)  # noqa: E731
    assert names(budgets.applicable(kb="a-desk", team="ops")) == ["all", "kb"]
    assert names(budgets.applicable(model="clf", team="a-risk", token_user="a-svc")) == [
        "all", "team", "tok",
    ]  # fmt: skip


def test_soft_budget_alerts_once_at_its_share(shared: Workspace) -> None:
    budgets = Budgets(shared)
    b = budgets.create("soft", scope_kind="model", scope="s", period="day", amount_usd=1.0,
                       soft_share=0.5)  # fmt: skip
    for _ in range(12):  # 12 x 0.1: past the share at 0.5, past the amount at 1.0
        budgets.settle(budgets.reserve([b.id], 0.1, now=NOW), 0.1)
    assert _alerts(shared, "soft") == ["budget_soft", "budget_exceeded"]
    status = budgets.status("soft", now=NOW)
    assert status.spent_usd == pytest.approx(1.2) and status.reserved_usd == pytest.approx(0)
    assert status.state == "exceeded" and status.period_start == datetime(2026, 12, 9, tzinfo=UTC)
    # a fresh service (another server process) does not alert again this period
    Budgets(shared).settle(Budgets(shared).reserve([b.id], 0.1, now=NOW), 0.1)
    assert len(_alerts(shared, "soft")) == 2
    # the next day is a new period with nothing spent
    assert budgets.status("soft", now=NOW + timedelta(days=1)).spent_usd == 0
    # one call past both thresholds, settled by another process's service: both alerts
    jump = budgets.create("jump", scope_kind="model", scope="j", period="week", amount_usd=1.0)
    Budgets(shared).settle(budgets.reserve([jump.id], 0.1, now=NOW), 1.5)
    assert _alerts(shared, "jump") == ["budget_soft", "budget_exceeded"]


def test_hard_budget_refuses_naming_it_and_reserves_nothing(shared: Workspace) -> None:
    budgets = Budgets(shared)
    soft = budgets.create("wide", scope_kind="team", scope="t", period="day", amount_usd=100)
    hard = budgets.create(
        "desk", scope_kind="kb", scope="desk", period="day", amount_usd=1.0, hard=True,
        on_exceed="route", route_to="extractive",
    )  # fmt: skip
    budgets.settle(budgets.reserve([soft.id, hard.id], 0.9, now=NOW), 0.9)
    with pytest.raises(BudgetExceeded, match="budget 'desk'") as info:
        budgets.reserve([soft.id, hard.id], 0.2, now=NOW)
    assert (info.value.budget, info.value.on_exceed, info.value.route_to) == (
        "desk", "route", "extractive",
    )  # fmt: skip
    assert info.value.details["budget"] == "desk"
    assert budgets.status("wide", now=NOW).reserved_usd == 0  # rolled back with the refusal
    assert _alerts(shared, "desk") == ["budget_soft", "budget_exceeded"]
    with pytest.raises(BudgetExceeded):
        Budgets(shared).reserve([hard.id], 0.2, now=NOW)
    assert len(_alerts(shared, "desk")) == 2  # once per budget-period


def test_hard_budget_is_exact_under_concurrency(make_ws: object, db_url: str) -> None:
    """8 threads reserve and settle many small costs against one hard budget."""
    ws = make_ws(db_url=db_url)  # type: ignore[operator]
    amount, cost = 1.0, 0.03
    b = Budgets(ws).create("hard", scope_kind="all", period="day", amount_usd=amount, hard=True)
    granted: list[int] = []
    refused: list[BudgetExceeded] = []
    errors: list[BaseException] = []

    def worker() -> None:
        budgets = Budgets(ws)
        try:
            for _ in range(10):
                try:
                    r = budgets.reserve([b.id], cost, now=NOW)
                except BudgetExceeded as exc:
                    refused.append(exc)
                    continue
                budgets.settle(r, cost)
                granted.append(1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    status = Budgets(ws).status("hard", now=NOW)
    assert status.spent_usd <= amount + cost
    assert len(granted) == int(amount / cost + 1e-9)  # every unit that fits was spent
    assert len(refused) == 80 - len(granted)
    assert all(e.budget == "hard" and "budget 'hard'" in e.message for e in refused)
    assert status.reserved_usd == pytest.approx(0)
