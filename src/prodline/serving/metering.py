"""Metering on both servers (issue 11: costs).

**Metering.** Every prediction request and every RAG call becomes one metered record
(the fields of :class:`prodline.cost.meter.Meter`): its CPU time (around the predict
call, shared among the requests of a batch by their rows: ``time.thread_time_ns``
sampled, see :class:`prodline.serving.batching.CpuClock`; ``time.thread_time_ns`` around
the retrieval, generation and scoring of a RAG call), tokens and provider/model per LLM call,
rows, latency, and who to charge: ``team`` is the owner of the model or knowledge base
(read once at start) and ``token_user`` the authenticated user under ``--auth token``.
The request path only notes the numbers on what it already queues for its log; the log
writer thread turns them into records, prices them with the price version in force and
hands them to ``ws.costs.meter`` in batches (at most one file every 30 seconds), off the
request path. ``[cost] metering = false`` in ``prodline.toml`` turns it off.

**Budgets** (:mod:`prodline.serving.budgeting`): the log writer settles each
reservation with the record's actual cost and charges soft-only budgets per batch.

**Prometheus.** ``prodline_cost_usd_total``, ``prodline_tokens_total{direction}`` and
``prodline_compute_ms_total``, labelled by ``route`` (``provider/model`` of an LLM call,
``self-hosted/<model>`` of a prediction or retrieval) and ``team``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from prodline.config import toml_table
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    from prodline.serving.budgeting import BudgetWatch
    from prodline.workspace import Workspace

__all__ = [
    "COLUMNS",
    "Columns",
    "CostCounters",
    "MeterSink",
    "columns_of",
    "costs_of",
    "meter_record",
    "metered_predictions",
    "metering_enabled",
]

log = logging.getLogger("prodline.serving")

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
