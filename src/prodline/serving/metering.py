"""Metering and budget enforcement on both servers (issue 11: costs).

**Metering.** Every prediction request and every RAG call becomes one metered record
(the fields of :class:`prodline.cost.meter.Meter`): its CPU time (``time.thread_time_ns``
around the predict call, shared among the requests of a batch by their rows; around the
retrieval, generation and scoring of a RAG call), tokens and provider/model per LLM call,
rows, latency, and who to charge: ``team`` is the owner of the model or knowledge base
(read once at start) and ``token_user`` the authenticated user under ``--auth token``.
The request path only notes the numbers on what it already queues for its log; the log
writer thread turns them into records, prices them with the price version in force and
hands them to ``ws.costs.meter`` in batches (at most one file every 30 seconds), off the
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
    "COLUMNS",
    "Columns",
    "columns_of",
    "costs_of",
    "meter_record",
    "metered_predictions",
    "metering_enabled",
]

log = logging.getLogger("prodline.serving")

BUDGET_STATUS = 429
"""HTTP status of a request a hard budget refuses."""

REFRESH_S = 5.0
"""How often the servers re-read the applicable budgets and the price version."""

_FLUSH_S = 30.0  # the meter writes at most one file per this many seconds...
_FLUSH_RECORDS = 100_000  # ...unless this many records are waiting


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


COLUMNS = (
    "ts",
    "kind",
    "request_id",
    "team",
    "model",
    "version",
    "kb",
    "token_user",
    "provider",
    "llm_model",
    "input_tokens",
    "output_tokens",
    "cpu_ms",
    "gpu_ms",
    "rows",
    "latency_ms",
)
"""The metered record's fields (``prodline.cost.meter.METER_SCHEMA``), in order."""

Columns = dict[str, list[Any]]
"""Metered records as one list per field of ``COLUMNS`` (``ts``: epoch microseconds)."""


def columns_of(records: Sequence[Mapping[str, Any]]) -> Columns:
    """Records (dicts of :func:`meter_record`) as columns."""
    return {name: [r[name] for r in records] for name in COLUMNS}


def costs_of(price: Any, columns: Columns) -> tuple[list[float], list[bool]]:
    """Each record's cost in USD under price version ``price``, and whether its token
    price is unknown (then only its compute is counted; no price version: all 0)."""
    n = len(columns["request_id"])
    unknown = [False] * n
    if price is None:
        return [0.0] * n, unknown
    cpu_rate = float(price.compute_cost(cpu_ms=1.0))
    gpu_rate = float(price.compute_cost(gpu_ms=1.0))
    cpu, gpu = columns["cpu_ms"], columns["gpu_ms"]
    costs = [c * cpu_rate + g * gpu_rate for c, g in zip(cpu, gpu, strict=True)]
    providers = columns["provider"]
    if any(providers):
        tin, tout, models = columns["input_tokens"], columns["output_tokens"], columns["llm_model"]
        for i, provider in enumerate(providers):
            if provider and (tin[i] or tout[i]):
                tokens = price.token_cost(provider, models[i], tin[i], tout[i])
                if tokens is None:
                    unknown[i] = True
                else:
                    costs[i] += float(tokens)
    return costs, unknown


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

    def add(self, columns: Columns, costs: list[float], unknown: list[bool]) -> None:
        """Count a batch: summed per route and team (one ``inc`` per series)."""
        provider, llm = columns["provider"], columns["llm_model"]
        model, kb, team = columns["model"], columns["kb"], columns["team"]
        cpu, gpu = columns["cpu_ms"], columns["gpu_ms"]
        tin, tout = columns["input_tokens"], columns["output_tokens"]
        if not any(provider) and _uniform(model) and _uniform(kb) and _uniform(team):
            self._inc(("", "", model[0], kb[0], team[0]), sum(costs), sum(cpu) + sum(gpu), 0, 0, 0)
            return
        sums: dict[tuple[str, ...], list[float]] = {}
        for i, key in enumerate(zip(provider, llm, model, kb, team, strict=True)):
            acc = sums.setdefault(key, [0.0, 0.0, 0, 0, 0])
            acc[0] += costs[i]
            acc[1] += cpu[i] + gpu[i]
            acc[2] += tin[i]
            acc[3] += tout[i]
            acc[4] += unknown[i]
        for group, (cost, ms, ins, outs, missing) in sums.items():
            self._inc(group, cost, ms, int(ins), int(outs), int(missing))

    def _inc(
        self, key: tuple[str, ...], cost: float, ms: float, ins: int, outs: int, missing: int
    ) -> None:
        provider, llm, model, kb, team = key
        route = f"{provider}/{llm}" if provider else f"self-hosted/{model or kb}"
        self.cost.labels(route, team).inc(cost)
        self.compute.labels(route, team).inc(ms)
        if ins:
            self.tokens.labels("input", route, team).inc(ins)
        if outs:
            self.tokens.labels("output", route, team).inc(outs)
        if missing:
            self.unknown.labels(route, team).inc(missing)


def _uniform(values: list[Any]) -> bool:
    return not values or min(values) == max(values)


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

    ``add(columns, reservations)`` prices a batch (``watch.price``), settles its
    reservations (``(reservation, index)`` pairs) and charges soft budgets; with metering
    on it also counts the batch in Prometheus and keeps the records until 30 seconds have
    passed since the last write (or many are waiting), then writes them as one segment
    (``ws.costs.meter.write_table``). ``flush()`` writes what is left (at close). A store
    error is logged and the records are dropped (counted in
    ``prodline_meter_records_total{outcome="dropped"}``): the prediction and call logs
    never wait for the meter.
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
        self._pending: Columns = {name: [] for name in COLUMNS}
        self._waiting = 0
        self._last = time.monotonic()

    def add(
        self,
        columns: Columns,
        reservations: Sequence[tuple[Any, int]] = (),
        *,
        final: bool = False,
    ) -> None:
        """Meter one log batch (writer thread)."""
        if not columns["request_id"]:
            return
        watch = self.watch
        costs, unknown = costs_of(watch.price, columns)
        for reservation, index in reservations:
            watch.settle(reservation, costs[index])
        watch.last_cost = costs[-1]
        if any(watch.soft.values()):
            by_user: dict[str, float] = {}
            for user, cost in zip(columns["token_user"], costs, strict=True):
                by_user[user] = by_user.get(user, 0.0) + cost
            watch.charge_soft(by_user)
        if not self.enabled:
            return
        self.counters.add(columns, costs, unknown)
        pending = self._pending
        for name in COLUMNS:
            pending[name].extend(columns[name])
        self._waiting += len(costs)
        if final or self._waiting >= _FLUSH_RECORDS or time.monotonic() - self._last >= _FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the records waiting as one meter segment (writer thread, or at close)."""
        pending, self._pending = self._pending, {name: [] for name in COLUMNS}
        count, self._waiting = self._waiting, 0
        self._last = time.monotonic()
        if not count:
            return
        try:
            self._ws.costs.meter.write_table(_table(pending))
        except Exception as exc:
            log.warning("meter: cannot write %d records (%s); dropped", count, exc)
            self._dropped.inc(count)
            return
        self._written.inc(count)


def _table(columns: Columns) -> Any:
    """One batch as an Arrow table (``ts`` as UTC microseconds).

    Numbers go through NumPy and a column holding one value is repeated by Arrow: a
    conversion of a Python list element by element is left for the strings that vary.
    """
    import numpy as np
    import pyarrow as pa

    arrays: dict[str, Any] = {}
    for name in COLUMNS:
        values = columns[name]
        first = values[0]
        if name == "ts":
            micros = np.fromiter(values, dtype=np.int64, count=len(values))
            arrays[name] = pa.array(micros).cast(pa.timestamp("us", tz="UTC"))
        elif values.count(first) == len(values):
            arrays[name] = pa.repeat(first, len(values))
        elif isinstance(first, float):
            arrays[name] = pa.array(np.fromiter(values, dtype=np.float64, count=len(values)))
        elif isinstance(first, int):
            arrays[name] = pa.array(np.fromiter(values, dtype=np.int64, count=len(values)))
        else:
            arrays[name] = pa.array(values, type=pa.string())
    return pa.table(arrays)


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
    """One record with the fields of ``COLUMNS`` (``ts``: a Unix time, kept in µs)."""
    return {
        "ts": round(ts * 1e6),
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


def metered_predictions(batch: Sequence[Any], team: str) -> tuple[Columns, list[tuple[Any, int]]]:
    """The metered records of a prediction-log batch (``LogRecord`` tuples: request id,
    Unix time, parsed request, outcome, latency ms) as columns, and the reservations to
    settle, each with the index of its record."""
    n = len(batch)
    outcomes = [r[3] for r in batch]
    columns: Columns = {
        "ts": [round(r[1] * 1e6) for r in batch],
        "kind": ["predict"] * n,
        "request_id": [r[0] for r in batch],
        "team": [team] * n,
        "model": [o.served.name for o in outcomes],
        "version": [o.served.version for o in outcomes],
        "kb": [""] * n,
        "token_user": [o.token_user for o in outcomes],
        "provider": [""] * n,
        "llm_model": [""] * n,
        "input_tokens": [0] * n,
        "output_tokens": [0] * n,
        "cpu_ms": [o.cpu_ms for o in outcomes],
        "gpu_ms": [0.0] * n,
        "rows": [r[2].rows for r in batch],
        "latency_ms": [float(r[4]) for r in batch],
    }
    reservations = [(o.reservation, i) for i, o in enumerate(outcomes) if o.reservation]
    return columns, reservations
