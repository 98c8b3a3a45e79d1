"""The running state of one server and the predict handler every route shares.

``Runtime.predict`` is the whole request path in plain Python: validate against the
signature, micro-batch into ``predict``, encode with orjson, queue the log record, count
the metrics. It returns ``(status, body)``; the ASGI fast path and the FastAPI route only
move bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from prodline.errors import HTTP_STATUS, InvalidInput, NotFound, ProdlineError
from prodline.ledger.lineage import node
from prodline.serving.batching import MicroBatcher
from prodline.serving.budgeting import (
    BUDGET_STATUS,
    BudgetRefused,
    BudgetWatch,
    budget_refusal,
    is_budget_exceeded,
)
from prodline.serving.feedback import parse_events, parse_feedback
from prodline.serving.logqueue import BoundedLogWriter
from prodline.serving.metering import MeterSink, metered_predictions, metering_enabled
from prodline.serving.metrics import ServerMetrics
from prodline.serving.options import ServeOptions
from prodline.serving.payload import parse
from prodline.serving.predlog import PredictionLog, dumps
from prodline.serving.reload import AliasWatcher
from prodline.serving.reviewing import (
    PolicyWatch,
    ReviewIntake,
    held_body,
    hold,
    model_submission,
    screen,
)
from prodline.serving.served import ServedModel, load_served

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["Runtime", "ServerState"]

log = logging.getLogger("prodline.serving")


class ServerState:
    """What every prodline server keeps while it runs (the prediction and RAG servers alike).

    Readiness, the answered/failed counts, request ids, and the ``server.started`` and
    ``server.stopped`` audit events with the ``deployed_as`` lineage edge.
    """

    def __init__(self, ws: Workspace, subject: str, address: tuple[str, int] | None) -> None:
        self.ws = ws
        self.subject = subject
        self.address = address
        self.ready = False
        self.answered = 0
        self.failed = 0
        self.started_at = 0.0
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(6)

    def new_request_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def _record_started(self, source: str, deployment: str, details: dict[str, Any]) -> None:
        """Link ``source`` to ``deployment`` and audit ``server.started``, in one transaction."""
        host, port = self.address or (None, None)
        with self.ws.tx() as conn:
            self.ws.lineage.record(conn, source, deployment, "deployed_as")
            self.ws.audit.record(
                conn, "server.started", self.subject, {"host": host, "port": port, **details}
            )

    async def _audit_stopped(self, head: dict[str, Any], writer: BoundedLogWriter[Any]) -> None:
        """Audit ``server.stopped``: ``head``, then the counts, the log's and the uptime."""
        await asyncio.to_thread(
            self.ws.audit.append,
            "server.stopped",
            self.subject,
            {
                **head,
                "requests": self.answered + self.failed,
                "answered": self.answered,
                "failed": self.failed,
                "logged": writer.written,
                "shed": writer.shed,
                "uptime_s": round(time.monotonic() - self.started_at, 3),
            },
        )


class Runtime(ServerState):
    """One served ``name@alias``: model reference, batcher, log writer, metrics, watcher.

    The model is loaded here, eagerly, so a wrong name or alias fails before any socket
    is opened. ``start``/``stop`` run in the app's lifespan.
    """

    def __init__(
        self,
        ws: Workspace,
        name: str,
        alias: str,
        options: ServeOptions | None = None,
        address: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(ws, node("deployment", name, alias), address)
        self.options = opts = options or ServeOptions()
        self.served: ServedModel = load_served(ws, name, alias)
        self.name, self.alias = name, alias
        self.metrics = ServerMetrics(name, alias)
        self.metrics.served_version.set(self.served.version)
        self.batcher = MicroBatcher(
            opts.max_batch_rows,
            in_thread=opts.predict_in_thread,
            on_batch=self.metrics.observe_batch,
        )
        self.team = ws.models.model(name).owner
        metering = metering_enabled(ws.home)
        self.budgets = BudgetWatch(
            ws,
            team=self.team,
            model=name,
            by_token=opts.auth == "token",
            on_refresh=lambda w: setattr(self.batcher, "meter_cpu", metering or w.charging),
        )
        self.meter = MeterSink(ws, self.budgets, self.metrics.registry, enabled=metering)
        self.batcher.meter_cpu = metering
        self.predlog = PredictionLog(
            ws,
            self.subject,
            opts,
            on_written=self.metrics.log_written.inc,
            on_shed=self.metrics.log_shed.inc,
            on_batch=self._metered,
            on_close=self.meter.flush,
        )
        self.metrics.watch_log_depth(self.predlog.depth)
        self.watcher = AliasWatcher(
            ws, self.subject, lambda: self.served, self._swap, opts.poll_interval_s
        )
        self.review = PolicyWatch(ws, "model", name, opts.review_poll_interval_s)
        self.review_intake = ReviewIntake(ws, self.subject, self.metrics.registry)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self.started_at = time.monotonic()
        self.predlog.start()
        await asyncio.to_thread(self._record_start)
        await self.review.start()
        await self.budgets.start()
        self.watcher.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.watcher.stop()
        await self.review.stop()
        await self.budgets.stop()
        await self.batcher.drain()
        self.batcher.close()
        await asyncio.to_thread(self.predlog.close)
        await asyncio.to_thread(self.review_intake.close)
        await self._audit_stopped({"version": self.served.version}, self.predlog)

    def _record_start(self) -> None:
        self._record_started(
            node("alias", self.name, self.alias),
            self.subject,
            {
                "model": self.name,
                "alias": self.alias,
                "version": self.served.version,
                "flavor": self.served.flavor,
            },
        )

    def _metered(self, batch: list[Any], final: bool) -> None:
        """Meter a prediction-log batch (the log's writer thread)."""
        records, reservations = metered_predictions(batch, self.team)
        self.meter.add(records, reservations, final=final)

    async def _reserve(self, user: str) -> Any:
        """Reserve the request's cost on the user's hard budgets (None: none applies);
        ``BudgetRefused`` when one is spent."""
        watch = self.budgets
        budgets = watch.hard.get(user)
        if budgets is None:
            budgets = await asyncio.to_thread(watch.budgets_of, user)
        if not budgets:
            return None
        try:
            return await asyncio.to_thread(watch.reserve, user)
        except Exception as exc:
            if is_budget_exceeded(exc):
                raise budget_refusal(exc) from None
            raise

    def _swap(self, new: ServedModel) -> None:
        self.served = new
        self.metrics.served_version.set(new.version)
        self.metrics.switches.inc()

    # -- the request path ------------------------------------------------------------
    async def predict(
        self, name: str, body: bytes, request_id: str, t0: float, user: str = ""
    ) -> tuple[int, bytes]:
        """Answer one predict request: ``(status, JSON body)``; never raises.

        ``user`` is the token's user under ``--auth token`` (metering, token budgets).
        """
        served = self.served
        if name != served.name:
            return self.error(
                NotFound(
                    f"Model '{name}' is not served here; this server serves '{served.name}' "
                    f"({served.name}@{served.alias}, version {served.version}): POST "
                    f"/v1/models/{served.name}/predict.",
                    model=name,
                    served=served.name,
                ),
                served.version,
                t0,
                request_id,
            )
        reservation = None
        try:
            parsed = parse(body, served.spec)
            if self.budgets.enforcing:  # a hard budget applies (or a token's may)
                reservation = await self._reserve(user)
            outcome = await self.batcher.submit(served, parsed)
        except BudgetRefused as exc:
            return self.error(exc, served.version, t0, request_id, status=BUDGET_STATUS)
        except ProdlineError as exc:
            await self._release(reservation)
            return self.error(exc, served.version, t0, request_id)
        except Exception as exc:  # never a traceback to the client; one in the server log
            await self._release(reservation)
            log.exception("predict %s failed", request_id)
            return self.error(
                ProdlineError(f"Unexpected error: {type(exc).__name__}: {exc}"),
                served.version,
                t0,
                request_id,
            )
        used = outcome.served
        answer: dict[str, Any] = {
            "predictions": outcome.predictions,
            "model": used.name,
            "version": used.version,
            "request_id": request_id,
        }
        if outcome.probabilities is not None:
            answer["probabilities"] = outcome.probabilities
            answer["classes"] = outcome.classes
        try:
            data = dumps(answer)
        except TypeError as exc:
            await self._release(reservation)
            return self.error(
                ProdlineError(f"Cannot encode the predictions of {used.ref} as JSON: {exc}."),
                used.version,
                t0,
                request_id,
            )
        if user:
            outcome.token_user = user
        if reservation is not None:
            outcome.reservation = reservation  # settled by the log writer with the cost
        latency = time.perf_counter() - t0
        record = (request_id, time.time(), parsed, outcome, latency * 1000.0)
        try:
            await self.predlog.submit(record)
        except ProdlineError as exc:  # durable log: not committed, so not acknowledged
            return self.error(exc, used.version, t0, request_id)
        policy = self.review.policy  # None (no review policy): the only cost on this path
        if policy is not None:
            verdict, score = screen(policy, outcome.probabilities)
            if verdict is not None:
                item = model_submission(policy, verdict, request_id, parsed, outcome, score)
                if verdict == "hold":
                    return await self._hold(item, used.version, t0, request_id)
                self.review_intake.queue(item)
        self.answered += 1
        self.metrics.observe_ok(used.version, latency)
        return 200, data

    async def _release(self, reservation: Any) -> None:
        if reservation is not None:
            await asyncio.to_thread(self.budgets.settle, reservation, 0.0)

    async def _hold(self, item: Any, version: int, t0: float, request_id: str) -> tuple[int, bytes]:
        """Submit a held prediction's review item, then answer 202 pending_review."""
        try:
            review_id = await asyncio.to_thread(hold, self.ws, item)
        except ProdlineError as exc:  # not queued: the answer must not go out unreviewed
            return self.error(exc, version, t0, request_id)
        self.answered += 1
        self.review_intake.held.inc()
        self.metrics.observe_status(version, 202, time.perf_counter() - t0)
        return 202, held_body(review_id, request_id)

    async def feedback(self, body: bytes, actor: str | None = None) -> tuple[int, dict[str, Any]]:
        """Answer ``POST /v1/feedback``: ``(status, JSON document)``; never raises.

        The body is one label (``{"request_id", "label", "row"?}``) or a batch
        (``{"feedback": [...]}``). Labels for request ids not in the prediction log are
        stored as orphans and reported in ``unknown``/``unknown_ids``
        (``prodline.ledger.feedback`` says why). The server's own log queue is let to
        drain first, so a label sent right after its answer finds its prediction.
        """
        single = False
        try:
            records, single = parse_feedback(body)
            await self._drain_log()
            result = await asyncio.to_thread(self.ws.feedback.add_many, records, actor=actor)
        except InvalidInput as exc:
            field = str(exc.details.get("field", "body"))
            if single and field.startswith("feedback[0]."):
                field = field[len("feedback[0].") :]
                exc = InvalidInput(exc.message.replace("feedback[0].", ""), field=field)
            return 422, exc.to_dict()
        except ProdlineError as exc:
            return HTTP_STATUS.get(exc.code, 500), exc.to_dict()
        except Exception as exc:  # never a traceback to the client; one in the server log
            log.exception("feedback failed")
            return 500, ProdlineError(f"Unexpected error: {type(exc).__name__}: {exc}").to_dict()
        return 200, result.to_dict()

    async def events(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer ``POST /v1/events``: business events of KPIs, ``(status, JSON)``; never
        raises. One event ``{"kpi", "value", "ts"?}`` or a batch ``{"events": [...]}``;
        all of them are recorded or none (``ws.costs.kpis.record_many``)."""
        try:
            records = parse_events(body)
            accepted = await asyncio.to_thread(self.ws.costs.kpis.record_many, records)
        except ProdlineError as exc:
            return HTTP_STATUS.get(exc.code, 500), exc.to_dict()
        except Exception as exc:  # never a traceback to the client; one in the server log
            log.exception("events failed")
            return 500, ProdlineError(f"Unexpected error: {type(exc).__name__}: {exc}").to_dict()
        return 202, {"accepted": accepted}

    async def _drain_log(self, timeout_s: float = 2.0) -> None:
        """Wait (at most ``timeout_s``) until every prediction answered so far is written
        to the log, or shed."""
        log_writer = self.predlog
        target = self.answered
        if not log_writer.alive or log_writer.written + log_writer.shed >= target:
            return
        log_writer._wake.set()
        deadline = time.monotonic() + timeout_s
        while log_writer.written + log_writer.shed < target and time.monotonic() < deadline:
            await asyncio.sleep(0.002)

    def error(
        self,
        exc: ProdlineError,
        version: int | None,
        t0: float,
        request_id: str,
        status: int | None = None,
    ) -> tuple[int, bytes]:
        status = status or HTTP_STATUS.get(exc.code, 500)
        self.failed += 1
        self.metrics.observe_error(version, status, exc.code, time.perf_counter() - t0)
        doc = exc.to_dict()
        doc["request_id"] = request_id
        return status, dumps(doc)

    def too_large(self, version: int, t0: float, request_id: str) -> tuple[int, bytes]:
        exc = InvalidInput(
            f"The request body is larger than {self.options.max_body_bytes} "
            "bytes; send fewer rows per request.",
            field="body",
        )
        return self.error(exc, version, t0, request_id, status=413)
