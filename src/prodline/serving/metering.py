"""Metering and budget enforcement on both servers (issue 11: costs).

**Metering.** Every prediction request and every RAG call becomes one metered record
(the fields of :class:`prodline.cost.meter.Meter`): its CPU time (``time.thread_time_ns``
around the predict call, shared among the requests of a batch by their rows; around the
retrieval, generation and scoring of a RAG call), tokens and provider/model per LLM call,
rows, latency, and who to charge: ``team`` is the owner of the model or knowledge base
(read once at start) and ``token_user`` the authenticated user under ``--auth token``.
The request path only notes the numbers on what it already queues for its log; the log
writer thread turns them into records, prices them with the price version in force and
hands them to ``ws.costs.meter.write`` in batches (at most one file a second), off the
request path. ``[cost] metering = false`` in ``prodline.toml`` turns it off.

**Budgets.** A :class:`BudgetWatch` keeps the budgets that apply to the server's model or
knowledge base (``ws.costs.budgets.applicable``) and the price version in force, read at
start and every 5 s in a worker thread, never per request. With no hard budget the
request path pays one attribute read (``watch.enforcing``). With one, a request reserves
its estimated cost first (the last request's cost; for a chat call, the price of its
``max_tokens``); a refused reservation is HTTP 429 ``budget_exceeded`` naming the budget
or, for a RAG budget with ``on_exceed = "route"``, the call goes to the budget's
``route_to`` provider and its ``route_reason`` says why. The log writer settles each
reservation with the actual cost. Soft-only budgets are charged by the writer thread,
per batch.

**Prometheus.** ``prodline_cost_usd_total``, ``prodline_tokens_total{direction}`` and
``prodline_compute_ms_total``, labelled by ``route`` (``provider/model`` of an LLM call,
``self-hosted/<model>`` of a prediction or retrieval) and ``team``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from prodline.config import toml_table
from prodline.errors import InvalidInput, ProdlineError

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "BUDGET_STATUS",
    "BudgetRefused",
    "BudgetWatch",
    "CostCounters",
    "MeterSink",
    "budget_refusal",
    "budget_route",
    "is_budget_exceeded",
    "meter_record",
    "metered_predictions",
    "metering_enabled",
    "record_cost",
]

log = logging.getLogger("prodline.serving")

BUDGET_STATUS = 429
"""HTTP status of a request a hard budget refuses."""

REFRESH_S = 5.0
"""How often the servers re-read the applicable budgets and the price version."""

_FLUSH_S = 1.0  # the meter writes at most one file per this many seconds...
_FLUSH_RECORDS = 20_000  # ...unless this many records are waiting


def metering_enabled(home: Any) -> bool:
    """``[cost] metering`` of ``prodline.toml`` (default true).

    Raises
    ------
    InvalidInput
        The key is not a boolean, or ``[cost]`` is not a table.
    """
    table = toml_table(home, "cost")
    if not isinstance(table, Mapping):
        raise InvalidInput("[cost] in prodline.toml must be a table.", field="cost")
    value = table.get("metering", True)
    if not isinstance(value, bool):
        raise InvalidInput(
            f"[cost] metering must be true or false, got {value!r}.", field="cost.metering"
        )
    return value


class BudgetRefused(ProdlineError):
    """A hard budget is spent: the request is refused (HTTP 429, code ``budget_exceeded``)."""

    code = "budget_exceeded"


def _budget_name(exc: BaseException) -> str:
    budget = getattr(exc, "budget", None)
    return str(getattr(budget, "name", budget) or "")


def budget_refusal(exc: BaseException) -> BudgetRefused:
    """The 429 error of a refused reservation, naming the budget."""
    name = _budget_name(exc)
    text = str(getattr(exc, "message", "") or "")
    if f"'{name}'" not in text:
        text = (
            f"The hard budget '{name}' is spent for this period; requests it covers are "
            f"refused until the period ends or an admin raises it (prodline budget show {name})."
        )
    return BudgetRefused(text, budget=name)


def budget_route(exc: BaseException) -> str | None:
    """The provider a refused reservation routes to (``on_exceed = "route"``), or None."""
    if getattr(exc, "on_exceed", "refuse") == "route":
        return getattr(exc, "route_to", None) or None
    return None


def is_budget_exceeded(exc: BaseException) -> bool:
    """Whether ``exc`` is ``prodline.cost.budgets.BudgetExceeded`` (by its shape)."""
    return hasattr(exc, "budget") and hasattr(exc, "on_exceed")


def record_cost(price: Any, record: Mapping[str, Any]) -> tuple[float, bool]:
    """``(cost in USD, known)`` of one metered record under price version ``price``.

    Unknown token prices (or no price version) leave the token part out and say so.
    """
    if price is None:
        return 0.0, False
    cost = float(price.compute_cost(cpu_ms=record["cpu_ms"], gpu_ms=record["gpu_ms"]))
    tin, tout = record["input_tokens"], record["output_tokens"]
    if record["provider"] and (tin or tout):
        tokens = price.token_cost(record["provider"], record["llm_model"], tin, tout)
        if tokens is None:
            return cost, False
        cost += float(tokens)
    return cost, True


class CostCounters:
    """The cost series of one server's ``/metrics``, labelled by route and team."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cost = Counter(
            "prodline_cost_usd",
            "Metered cost in USD (token price + compute price of the price version in "
            "force; calls with an unknown token price count their compute only).",
            ["route", "team"],
            registry=registry,
        )
        self.tokens = Counter(
            "prodline_tokens",
            "LLM tokens metered, by direction (input, output).",
            ["direction", "route", "team"],
            registry=registry,
        )
        self.compute = Counter(
            "prodline_compute_ms",
            "CPU milliseconds metered (amortized over a batch by rows).",
            ["route", "team"],
            registry=registry,
        )
        self.unknown = Counter(
            "prodline_cost_unknown",
            "Metered records whose token price is missing from the price table.",
            ["route", "team"],
            registry=registry,
        )

    def add(self, record: Mapping[str, Any], cost: float, known: bool) -> None:
        provider = record["provider"]
        route = (
            f"{provider}/{record['llm_model']}"
            if provider
            else f"self-hosted/{record['model'] or record['kb']}"
        )
        team = record["team"]
        self.cost.labels(route, team).inc(cost)
        self.compute.labels(route, team).inc(record["cpu_ms"] + record["gpu_ms"])
        if record["input_tokens"]:
            self.tokens.labels("input", route, team).inc(record["input_tokens"])
        if record["output_tokens"]:
            self.tokens.labels("output", route, team).inc(record["output_tokens"])
        if not known and provider:
            self.unknown.labels(route, team).inc()


class BudgetWatch:
    """The budgets of one model or knowledge base and the price version in force.

    ``refresh()`` (every ``interval`` seconds in a worker thread, after ``start()``) reads
    ``ws.costs.budgets.applicable(...)`` for each token user seen so far and
    ``ws.costs.prices.at(now)``. ``enforcing`` is what the request path reads: True once
    a hard budget applies (or, under ``--auth token``, a user's budgets are to be read).
    A store error keeps the last values and is logged once per streak.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        team: str,
        model: str = "",
        kb: str = "",
        by_token: bool = False,
        interval: float = REFRESH_S,
        on_refresh: Callable[[BudgetWatch], None] | None = None,
    ) -> None:
        self._ws = ws
        self._on_refresh = on_refresh
        self.team, self.model, self.kb = team, model, kb
        self.by_token = by_token
        self.interval = interval
        self.hard: dict[str, list[Any]] = {"": []}
        self.soft: dict[str, list[Any]] = {"": []}
        self.price: Any = None
        self.enforcing = by_token
        self.last_cost = 0.0
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------
    def _applicable(self, user: str) -> tuple[list[Any], list[Any]]:
        found = self._ws.costs.budgets.applicable(
            team=self.team, model=self.model, kb=self.kb, token_user=user
        )
        hard = [b for b in found if getattr(b, "hard", False)]
        return hard, [b for b in found if not getattr(b, "hard", False)]

    def refresh(self) -> None:
        """Read the budgets of every user seen, and the price version in force."""
        try:
            costs = self._ws.costs
            price = costs.prices.at(datetime.now(UTC))
            hard, soft = {}, {}
            for user in list(self.hard):
                hard[user], soft[user] = self._applicable(user)
        except Exception as exc:
            if not self._failing:
                log.warning("budgets of %s: cannot read: %s", self.model or self.kb, exc)
            self._failing = True
            return
        self._failing = False
        with self._lock:
            self.price = price
            self.hard.update(hard)
            self.soft.update(soft)
            self.enforcing = self.by_token or any(hard.values())
        if self._on_refresh is not None:
            self._on_refresh(self)

    @property
    def charging(self) -> bool:
        """Whether any budget (hard or soft) applies to someone: costs must be measured."""
        return any(self.hard.values()) or any(self.soft.values())

    def budgets_of(self, user: str) -> list[Any]:
        """The hard budgets of ``user`` (read now, once, for a user not seen before)."""
        found = self.hard.get(user)
        if found is None:
            try:
                found, soft = self._applicable(user)
            except Exception as exc:
                log.warning("budgets of token user %s: cannot read: %s", user, exc)
                return self.hard.get("", [])
            with self._lock:
                self.hard[user], self.soft[user] = found, soft
        return found

    async def start(self) -> None:
        """Read now, then every ``interval`` seconds in a background task."""
        await asyncio.to_thread(self.refresh)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="budgets")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.refresh)

    # -- reserving (blocking: worker threads) -----------------------------------------
    def reserve(self, user: str, estimate: float | None = None) -> Any:
        """Reserve ``estimate`` (default: the last request's cost) on ``user``'s hard
        budgets; None when none applies. Raises ``BudgetExceeded`` when one is spent."""
        budgets = self.budgets_of(user)
        if not budgets:
            return None
        cost = self.last_cost if estimate is None else estimate
        return self._ws.costs.budgets.reserve([b.id for b in budgets], cost)

    def settle(self, reservation: Any, actual: float) -> None:
        """Turn a reservation into spend (0 releases it); a store error is logged."""
        if reservation is None:
            return
        try:
            self._ws.costs.budgets.settle(reservation, actual)
        except Exception as exc:
            log.warning("budget: cannot settle a reservation of %.6f USD: %s", actual, exc)

    def charge_soft(self, by_user: Mapping[str, float]) -> None:
        """Charge soft-only budgets with what a batch cost (writer thread)."""
        budgets = self._ws.costs.budgets if any(self.soft.values()) else None
        if budgets is None:
            return
        for user, cost in by_user.items():
            soft = self.soft.get(user) or self.soft.get("", [])
            if soft and cost > 0:
                try:
                    budgets.settle(budgets.reserve([b.id for b in soft], 0.0), cost)
                except Exception as exc:
                    log.warning("soft budgets: cannot charge %.6f USD: %s", cost, exc)


class MeterSink:
    """What a log writer thread hands metered records to.

    ``add(records, settle)`` prices the records (``watch.price``), counts them in
    Prometheus, settles the reservations (``(reservation, record)`` pairs) and charges
    soft budgets, then keeps the records until a second has passed since the last write
    (or many are waiting), and writes them with ``ws.costs.meter.write``. ``flush()``
    writes what is left (at close). A store error is logged and the records are dropped
    (counted in ``prodline_meter_records_total{outcome="dropped"}``): the prediction
    and call logs never wait for the meter.
    """

    def __init__(
        self, ws: Workspace, watch: BudgetWatch, registry: CollectorRegistry, *, enabled: bool
    ) -> None:
        self._ws = ws
        self.watch = watch
        self.enabled = enabled
        self.counters = CostCounters(registry)
        outcomes = Counter(
            "prodline_meter_records",
            "Metered records written to the meter, or dropped on a store error.",
            ["outcome"],
            registry=registry,
        )
        self._written = outcomes.labels("written")
        self._dropped = outcomes.labels("dropped")
        self._pending: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def add(
        self,
        records: Sequence[dict[str, Any]],
        reservations: Sequence[tuple[Any, float]] = (),
        *,
        final: bool = False,
    ) -> None:
        """Meter one log batch (writer thread); ``reservations`` pairs each reservation
        with the index of its record in ``records``."""
        watch = self.watch
        price = watch.price
        costs = [record_cost(price, r) for r in records]
        for reservation, index in reservations:
            watch.settle(reservation, costs[int(index)][0])
        if costs:
            watch.last_cost = costs[-1][0]
        by_user: dict[str, float] = {}
        for record, (cost, _) in zip(records, costs, strict=True):
            by_user[record["token_user"]] = by_user.get(record["token_user"], 0.0) + cost
        watch.charge_soft(by_user)
        if not self.enabled:
            return
        counters = self.counters
        for record, (cost, known) in zip(records, costs, strict=True):
            counters.add(record, cost, known)
        self._pending.extend(records)
        now = time.monotonic()
        if final or len(self._pending) >= _FLUSH_RECORDS or now - self._last >= _FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the records waiting (writer thread, or at close)."""
        pending, self._pending = self._pending, []
        self._last = time.monotonic()
        if not pending:
            return
        try:
            self._ws.costs.meter.write(pending)
        except Exception as exc:
            log.warning("meter: cannot write %d records (%s); dropped", len(pending), exc)
            self._dropped.inc(len(pending))
            return
        self._written.inc(len(pending))


def meter_record(
    *,
    ts: float,
    kind: str,
    request_id: str,
    team: str,
    token_user: str = "",
    model: str = "",
    version: int = 0,
    kb: str = "",
    provider: str = "",
    llm_model: str = "",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cpu_ms: float = 0.0,
    gpu_ms: float = 0.0,
    rows: int = 1,
    latency_ms: float = 0.0,
) -> dict[str, Any]:
    """One record with the fields of ``prodline.cost.meter.Meter.write``."""
    return {
        "ts": datetime.fromtimestamp(ts, UTC),
        "kind": kind,
        "request_id": request_id,
        "team": team,
        "model": model,
        "version": int(version),
        "kb": kb,
        "token_user": token_user,
        "provider": provider or "",
        "llm_model": llm_model or "",
        "input_tokens": int(input_tokens or 0),
        "output_tokens": int(output_tokens or 0),
        "cpu_ms": float(cpu_ms),
        "gpu_ms": float(gpu_ms),
        "rows": int(rows),
        "latency_ms": float(latency_ms),
    }


def metered_predictions(
    batch: Sequence[Any], team: str
) -> tuple[list[dict[str, Any]], list[tuple[Any, int]]]:
    """The metered records of a prediction-log batch (``LogRecord`` tuples) and the
    reservations to settle, each with the index of its record."""
    records: list[dict[str, Any]] = []
    reservations: list[tuple[Any, int]] = []
    for request_id, wall, parsed, outcome, latency_ms in batch:
        served = outcome.served
        if outcome.reservation is not None:
            reservations.append((outcome.reservation, len(records)))
        records.append(
            meter_record(
                ts=wall,
                kind="predict",
                request_id=request_id,
                team=team,
                token_user=outcome.token_user,
                model=served.name,
                version=served.version,
                cpu_ms=outcome.cpu_ms,
                rows=parsed.rows,
                latency_ms=latency_ms,
            )
        )
    return records, reservations
