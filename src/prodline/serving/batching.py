"""Adaptive micro-batching: concurrent requests share one ``predict`` call.

A request that finds nothing queued schedules a flush for the next event-loop tick, so
alone it runs at once; every request parsed in the meantime (uvicorn hands the loop all
the sockets that became readable together) joins the same call. While a batch runs,
newcomers queue and go together in the next one, up to ``max_rows`` rows, whole requests
only. There is no timer: the only wait is one loop tick.

By default ``predict`` runs inline on the event loop: for small models it is a few
hundred microseconds of GIL-holding Python, and a thread hand-off costs more than it
saves (measured; see ``ServeOptions.predict_in_thread``). A batch always runs on the
model its requests were validated against, so a model switch never mixes versions and
requests in flight finish on the old model.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodline.errors import ProdlineError
from prodline.serving.payload import Parsed, to_arrays
from prodline.serving.served import ServedModel

__all__ = ["CpuClock", "MicroBatcher", "Outcome"]


@dataclass
class Outcome:
    """One request's share of a batch's prediction (NumPy views, not copies).

    ``cpu_ms`` is the request's share of the predict call's CPU time, by rows (when the
    batcher's ``meter_cpu`` is on; see :class:`CpuClock`); ``token_user`` and
    ``reservation`` are set by the server for metering and budgets
    (:mod:`prodline.serving.metering`).
    """

    served: ServedModel
    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None
    cpu_ms: float = 0.0
    token_user: str = ""
    reservation: Any = None


@dataclass
class _Job:
    served: ServedModel
    parsed: Parsed
    future: asyncio.Future[Outcome]


class CpuClock:
    """The CPU time of predict calls, without a system call per call.

    About once a second (``sample_s``) a call is timed with ``time.thread_time_ns`` (the
    calling thread's CPU time: a system call, which on a loaded core cost the server ~5 %
    of its throughput when made on every call, ``bench/metering.py``); the other calls
    with ``time.perf_counter_ns`` (no system call), scaled by the CPU/wall ratio of the
    sampled calls (a moving average). The calls run on one thread that holds the GIL, so
    the ratio stays near 1: each call gets an estimate, the sampled ones their exact time.
    """

    def __init__(self, sample_s: float = 1.0) -> None:
        self.sample_ns = int(sample_s * 1e9)
        self.ratio = 1.0
        self._sampled = -self.sample_ns

    def start(self) -> tuple[int, int]:
        """A mark to pass to :meth:`stop`: wall ns, and CPU ns (-1 when not sampled)."""
        wall = time.perf_counter_ns()
        if wall - self._sampled < self.sample_ns:
            return wall, -1
        self._sampled = wall
        return wall, time.thread_time_ns()

    def stop(self, mark: tuple[int, int]) -> float:
        """CPU nanoseconds since ``mark`` (measured, or estimated from the wall time)."""
        wall = time.perf_counter_ns() - mark[0]
        if mark[1] < 0:
            return wall * self.ratio
        cpu = time.thread_time_ns() - mark[1]
        if wall > 0:
            self.ratio = 0.7 * self.ratio + 0.3 * min(1.0, cpu / wall)
        return float(cpu)


class MicroBatcher:
    """Queue requests and run them through ``predict`` in merged batches."""

    def __init__(
        self,
        max_rows: int = 512,
        *,
        in_thread: bool = False,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.in_thread = in_thread
        self._on_batch = on_batch
        self.meter_cpu = False  # measure each predict call's CPU time (metering, budgets)
        self.clock = CpuClock()
        self._pending: deque[_Job] = deque()
        self._scheduled = False
        self._runner: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, served: ServedModel, parsed: Parsed) -> Outcome:
        """Predict ``parsed`` with ``served``, sharing the call with concurrent requests."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append(_Job(served, parsed, future))
        if not self._scheduled:
            self._scheduled = True
            self._idle.clear()
            if self.in_thread:
                self._runner = loop.create_task(self._run_threaded())
            else:
                loop.call_soon(self._run_inline)
        return await future

    async def drain(self) -> None:
        """Wait until every submitted request has its answer."""
        await self._idle.wait()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- running ---------------------------------------------------------------------
    def _take(self) -> list[_Job]:
        batch = [self._pending.popleft()]
        rows = batch[0].parsed.rows
        while self._pending and rows + self._pending[0].parsed.rows <= self.max_rows:
            job = self._pending.popleft()
            rows += job.parsed.rows
            batch.append(job)
        return batch

    def _run_inline(self) -> None:
        batch = self._take()
        _deliver(batch, self._compute(batch))
        if self._pending:
            assert self._loop is not None
            self._loop.call_soon(self._run_inline)
        else:
            self._scheduled = False
            self._idle.set()

    async def _run_threaded(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="prodline-predict")
        try:
            while self._pending:
                batch = self._take()
                try:
                    results = await loop.run_in_executor(self._executor, self._compute, batch)
                except BaseException as exc:  # cancelled or executor gone: fail the batch
                    _deliver(batch, [exc] * len(batch))
                    raise
                _deliver(batch, results)
        finally:
            self._scheduled = False
            self._idle.set()

    def _compute(self, batch: list[_Job]) -> list[Outcome | BaseException]:
        """Predict ``batch`` (grouped by model); a failing group is retried per request."""
        if self._on_batch is not None:
            self._on_batch(len(batch), sum(job.parsed.rows for job in batch))
        results: list[Outcome | BaseException] = []
        start = 0
        while start < len(batch):
            served = batch[start].served
            end = start + 1
            while end < len(batch) and batch[end].served is served:
                end += 1
            group = batch[start:end]
            meter = self.clock if self.meter_cpu else None
            try:
                results.extend(_predict(served, group, meter))
            except Exception as exc:
                if len(group) == 1:
                    results.append(_failure(served, exc))
                else:
                    for job in group:
                        try:
                            results.extend(_predict(served, [job], meter))
                        except Exception as one:
                            results.append(_failure(served, one))
            start = end
        return results


def _predict(
    served: ServedModel, group: list[_Job], clock: CpuClock | None = None
) -> list[Outcome]:
    parts = [job.parsed for job in group]
    mark = clock.start() if clock is not None else None
    prediction = served.predictor.predict(to_arrays(served.spec, parts))
    cpu_ns = clock.stop(mark) if clock is not None and mark is not None else 0.0
    predictions = np.asarray(prediction.predictions)
    total = sum(part.rows for part in parts)
    if len(predictions) != total:
        raise ProdlineError(
            f"Model {served.ref} returned {len(predictions)} predictions for {total} rows."
        )
    probabilities = prediction.probabilities
    classes = prediction.classes
    if len(group) == 1:
        return [Outcome(served, predictions, probabilities, classes, cpu_ns / 1e6)]
    out: list[Outcome] = []
    offset = 0
    per_row_ms = cpu_ns / 1e6 / total if total else 0.0
    for part in parts:
        end = offset + part.rows
        probs = None if probabilities is None else probabilities[offset:end]
        share = per_row_ms * part.rows
        out.append(Outcome(served, predictions[offset:end], probs, classes, share))
        offset = end
    return out


def _failure(served: ServedModel, exc: Exception) -> BaseException:
    if isinstance(exc, ProdlineError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ProdlineError(
        f"Model {served.ref} failed on this input: {type(exc).__name__}"
        f"{': ' + text[:300] if text else ''}.",
        model=served.name,
        version=served.version,
    )


def _deliver(batch: list[_Job], results: list[Outcome | BaseException]) -> None:
    for job, result in zip(batch, results, strict=True):
        if job.future.done():  # the client went away
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)
