"""The running state of one RAG server and the request path its routes share.

``RagRuntime`` holds the knowledge base, the LLM gateway, the groundedness scorer, the
RAG log and the metrics. Its request methods are plain blocking Python (retrieval and
the embedding model are CPU work): the app runs each call in a worker thread, so the
event loop only moves bytes.

A chat call is: check the request against the served KB → the input guard → retrieve
with the caller's filters under the server's clearance, quarantined chunks set aside →
answer through the gateway (sensitivity routing, the KB's privacy policy, fallback) →
score groundedness against the retrieved chunks → the output guards → queue the log
record (:mod:`prodline.serving.rag.guarding` has the guards).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prodline.errors import GuardBlocked, InvalidInput, NotFound
from prodline.guard.output import pii_leaks
from prodline.guard.policy import load_guard_policy
from prodline.guard.redact import Redaction
from prodline.ledger.lineage import node
from prodline.llm import ChatMessage, Completion, Gateway, load_llm_config
from prodline.llm.abstain import ABSTAIN_BELOW, NOT_COVERED, abstention
from prodline.monitor import Groundedness, GroundednessScorer, LlmJudge
from prodline.rag.retrieve import FILTER_KEYS
from prodline.rag.types import SENSITIVITY_ORDER, Hit
from prodline.serving.rag.costing import CallMeter, RagCosts
from prodline.serving.rag.embedcache import CachedEmbed
from prodline.serving.rag.guarding import (
    ChatGuards,
    Guarded,
    StreamCheck,
    guarded_stream,
    load_input_guard,
)
from prodline.serving.rag.metrics import RagMetrics
from prodline.serving.rag.options import RagOptions
from prodline.serving.rag.raglog import METER_KEY, RagLog
from prodline.serving.rag.schema import ChatRequest, RetrieveRequest
from prodline.serving.rag.wire import guard_fields, hit_dict
from prodline.serving.reviewing import PolicyWatch, ReviewIntake, kb_submission
from prodline.serving.runtime import ServerState

if TYPE_CHECKING:
    from prodline.rag.kb import KnowledgeBase
    from prodline.workspace import Workspace

__all__ = ["Answer", "Question", "RagRuntime"]

log = logging.getLogger("prodline.serving")


@dataclass(frozen=True)
class Question:
    """A checked chat request, with the chunks retrieved for it."""

    request_id: str
    t0: float
    text: str
    messages: list[ChatMessage]
    hits: list[Hit]
    max_tokens: int
    temperature: float
    canary: str = ""
    guarded: Guarded = dataclasses.field(default_factory=Guarded)
    meter: CallMeter = dataclasses.field(default_factory=CallMeter)

    def allowed(self) -> list[str]:
        """Texts PII in the answer may come from: the user's messages and the context."""
        return [m.content for m in self.messages if m.role == "user"] + [h.text for h in self.hits]


@dataclass(frozen=True)
class Answer:
    """A finished chat call: the completion and its groundedness."""

    question: Question
    completion: Completion
    grounded: Groundedness

    @property
    def latency_s(self) -> float:
        return time.perf_counter() - self.question.t0


class RagRuntime(ServerState):
    """One served knowledge base: gateway, scorer, log writer, metrics.

    Everything that can be wrong in the arguments (the KB, the provider, clearance,
    threshold, k) fails here, before any socket is opened.
    """

    def __init__(
        self,
        ws: Workspace,
        kb: str,
        options: RagOptions | None = None,
        *,
        address: tuple[str, int] | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        super().__init__(ws, f"kb:{kb}", address)
        self.kb = kb
        self.info = ws.kbs.get(kb)
        self.options = options = options or RagOptions()
        self.provider = provider = options.provider
        self.clearance = options.clearance
        self.threshold = threshold = options.threshold
        self.k = options.k
        self.embedder = ws.kbs.embedder(kb)
        self.embed = CachedEmbed(self.embedder)
        self.gateway = gateway or Gateway(
            load_llm_config(ws.home), embed=self.embed, redactor=Redaction
        )
        if provider is not None:
            self.gateway.provider_config(provider)  # unknown provider: InvalidInput, listing them
        self.scorer = GroundednessScorer(
            embed=self.embed, threshold=threshold, context_threshold=ABSTAIN_BELOW
        )
        self.judge = self.gateway.config.judge
        self.metrics = RagMetrics(kb)
        self.costs = costs = RagCosts(
            ws, kb, self.info.owner, self.metrics.registry, by_token=options.auth == "token"
        )
        self.raglog = RagLog(
            ws,
            kb,
            on_written=self.metrics.log_written.inc,
            on_shed=self.metrics.log_shed.inc,
            on_batch=costs.metered,
            on_close=costs.sink.flush,
        )
        self.metrics.watch_log_depth(self.raglog.depth)
        self.review = PolicyWatch(ws, "kb", kb, options.review_poll_interval_s)
        self.review_intake = ReviewIntake(ws, self.subject, self.metrics.registry)
        self.guard_policy = policy = load_guard_policy(ws.home)
        self.guards = ChatGuards(
            policy,
            load_input_guard(
                policy, lambda action, data: ws.audit.append(action, self.subject, data)
            ),
            on_event=lambda event: self.metrics.observe_guard(event.guard, event.action),
        )

    def current_info(self) -> KnowledgeBase:
        """The KB as the store has it now (a re-ingest while serving shows up here)."""
        self.info = self.ws.kbs.get(self.kb)
        return self.info

    def _groundedness(self, answer: str, hits: list[Hit], question: str = "") -> Groundedness:
        """Offline score, or the configured LLM judge (``[llm] judge``), then the two
        relevance scores (``GroundednessScorer.rate``): the flag uses all three.

        The judge call goes through the gateway with the same hits, so sensitivity routing
        applies to it too: a judge that may not see this context is refused, and the
        offline score stands in (method "offline (judge failed)").
        """
        contexts = [h.text for h in hits]
        abstained = answer.startswith(NOT_COVERED) and abstention(hits) is not None
        relevances = [h.relevance for h in hits]
        if not self.judge or abstained:
            grounded = self.scorer.score(answer, contexts)
            return self.scorer.rate(grounded, question, answer, relevances, abstained=abstained)
        judge_name = self.judge

        def complete(messages: list[dict[str, str]]) -> str:
            return self.gateway.complete(messages, hits, provider=judge_name).text

        judge = LlmJudge(complete, threshold=self.threshold, fallback=self.scorer)
        return self.scorer.rate(judge.score(answer, contexts), question, answer, relevances)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self.started_at = time.monotonic()
        self.raglog.start()
        await asyncio.to_thread(self._warm)
        await asyncio.to_thread(self._record_start)
        await self.review.start()
        await self.costs.watch.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.review.stop()
        await self.costs.watch.stop()
        await asyncio.to_thread(self.raglog.close)
        await asyncio.to_thread(self.review_intake.close)
        self.gateway.close()
        await self._audit_stopped({"kb": self.kb}, self.raglog)

    def _warm(self) -> None:
        """Load the embedding model and the KB's indexes now, not on the first request."""
        self.embed(["warm up the embedding model"])
        if self.guard_policy.action("pii_output", "chat") != "off":
            pii_leaks("warm up the PII recognizers: ana@example.org", [])  # ~5 s, once
        if self.info.chunks:
            self.ws.kbs.search(self.kb, "warm up the indexes", k=1)

    def _record_start(self) -> None:
        self._record_started(
            node("kb", self.kb, self.info.version),
            node("deployment", self.kb, "rag"),
            {
                "kb": self.kb,
                "kb_version": self.info.version,
                "chunks": self.info.chunks,
                "provider": self.provider,
                "clearance": self.clearance,
                "threshold": self.threshold,
                "k": self.k,
                "fallback": list(self.gateway.config.fallback),
                "guard": self.guard_policy.to_dict(),
                "privacy": self.privacy,
            },
        )

    # -- checks shared by both endpoints ---------------------------------------------
    def _filters(self, filters: Mapping[str, str] | None) -> dict[str, str]:
        out = dict(filters or {})
        for key in out:
            if key not in FILTER_KEYS:
                raise InvalidInput(
                    f"filters.{key}: unknown filter field '{key}'; use one of "
                    f"{', '.join(FILTER_KEYS)}.",
                    field=f"filters.{key}",
                )
        return out

    def _clearance(self, asked: str | None) -> str:
        if asked is None:
            return self.clearance
        if SENSITIVITY_ORDER[asked] > SENSITIVITY_ORDER[self.clearance]:
            raise InvalidInput(
                f"clearance '{asked}' is above this server's clearance '{self.clearance}'; "
                f"ask for {self.clearance} or less.",
                field="clearance",
            )
        return asked

    def _search(self, query: str, **kwargs: Any) -> list[Hit]:
        """``ws.kbs.search``, with its filter errors named as the request names them."""
        if kwargs.get("mode", "hybrid") != "bm25":  # embed once, through the shared cache
            kwargs["vector"] = self.embed([query])[0]
        try:
            return self.ws.kbs.search(self.kb, query, **kwargs)
        except InvalidInput as exc:
            field = exc.details.get("field")
            if isinstance(field, str) and field.startswith("filter."):
                renamed = "filters." + field.removeprefix("filter.")
                raise InvalidInput(f"{renamed}: {exc.message}", field=renamed) from None
            raise

    # -- the request path (worker threads) -------------------------------------------
    def retrieve(
        self, req: RetrieveRequest, request_id: str, t0: float, user: str = ""
    ) -> dict[str, Any]:
        """``/v1/retrieve``: the hits as JSON-ready dicts; the call is logged and metered."""
        meter = CallMeter(user)
        with meter.cpu():
            return self._retrieve(req, request_id, t0, meter)

    def _retrieve(
        self, req: RetrieveRequest, request_id: str, t0: float, meter: CallMeter
    ) -> dict[str, Any]:
        if not req.query.strip():
            raise InvalidInput("The query is empty; give some words to search for.", field="query")
        with self._blocked_logged(request_id, "retrieve", req.query, t0, meter):
            events = self.guards.check_input([("query", req.query)], "retrieve")
        hits = self._search(
            req.query,
            k=req.k or self.k,
            filters=self._filters(req.filters),
            clearance=self._clearance(req.clearance),
            mode=req.mode,
        )
        self._log(
            request_id,
            "retrieve",
            req.query,
            hits,
            t0,
            {"provider": None, "model": None, "mode": req.mode, **guard_fields(events)},
            meter,
        )
        return {
            "object": "list",
            "kb": self.kb,
            "request_id": request_id,
            "hits": [hit_dict(h) for h in hits],
        }

    def ask(self, req: ChatRequest, request_id: str, t0: float, user: str = "") -> Question:
        """Check a chat request and retrieve its context (``user``: the token's, if any)."""
        meter = CallMeter(user)
        with meter.cpu():
            return self._ask(req, request_id, t0, meter)

    def _ask(self, req: ChatRequest, request_id: str, t0: float, meter: CallMeter) -> Question:
        if req.model and req.model != self.kb:
            raise NotFound(
                f"Knowledge base '{req.model}' is not served here; this server serves "
                f"'{self.kb}': pass model='{self.kb}'.",
                model=req.model,
                served=self.kb,
            )
        index, text = req.question()
        if index < 0:
            raise InvalidInput(
                "messages must include a user message; the last one is the question.",
                field="messages",
            )
        if not text.strip():
            raise InvalidInput(
                f"messages[{index}].content is empty; the last user message is the question.",
                field=f"messages[{index}].content",
            )
        with self._blocked_logged(request_id, "chat", text, t0, meter):
            turns = [
                (f"messages[{i}].content", m.content)
                for i, m in enumerate(req.messages)
                if m.role != "system" and m.content.strip()
            ]
            events = self.guards.check_input(turns, "chat")
        hits = self._search(
            text,
            k=req.k or self.k,
            filters=self._filters(req.filters),
            clearance=self._clearance(req.clearance),
        )
        usable, quarantined = self.guards.split_context(hits)
        self.embed.preload(self.ws.db, usable)  # their sentences, embedded at ingest
        if quarantined:
            self.metrics.quarantined.inc(len(quarantined))
        canary = self.guards.canary()
        return Question(
            request_id=request_id,
            t0=t0,
            text=text,
            messages=[
                *self.guards.canary_message(canary),
                *(ChatMessage(m.role, m.content) for m in req.messages),
            ],
            hits=usable,
            max_tokens=req.limit,
            temperature=req.temperature if req.temperature is not None else 0.0,
            canary=canary,
            guarded=Guarded(events=list(events), quarantined=quarantined),
            meter=meter,
        )

    @property
    def privacy(self) -> str:
        """The served KB's privacy policy for sensitive context: route, redact or refuse."""
        return str(getattr(self.info, "privacy", "route") or "route")

    def answer(self, question: Question) -> Answer:
        """The non-streaming answer: complete, score, guard, log."""
        return self.finish(question, self.complete(question), stream=False)

    def complete(self, question: Question) -> Completion:
        """The gateway's answer to a checked question (not scored, not logged).

        The knowledge-base evaluation (``ws.kbs.evaluate``) answers through this and
        :meth:`grade`, so it measures the chat path the server runs.
        """
        meter = question.meter
        with meter.cpu():
            provider, note = self._plan(question)
            try:
                completion = self.gateway.complete(
                    question.messages,
                    question.hits,
                    max_tokens=question.max_tokens,
                    temperature=question.temperature,
                    provider=provider,
                    privacy=self.privacy,
                )
            except BaseException:
                self.costs.release(meter)
                raise
        return self.costs.routed(completion, note)

    def _plan(self, question: Question) -> tuple[str | None, str]:
        """The provider to ask and the budget's routing note (hard budgets only)."""
        if not self.costs.watch.enforcing:  # no hard budget: one attribute read
            return self.provider, ""
        return self.costs.plan(
            question.meter,
            self.gateway,
            self.provider,
            question.messages,
            question.hits,
            question.max_tokens,
        )

    def grade(self, question: Question, completion: Completion) -> Answer:
        """Score a completion against the question's hits (not logged)."""
        grounded = self._groundedness(completion.text, question.hits, question.text)
        return Answer(question, completion, grounded)

    def stream(self, question: Question) -> Iterator[str | Completion]:
        """Text deltas, checked a sentence at a time, then the final ``Completion``.

        Routing errors come on the first ``next``; a guard that blocks mid-stream raises
        ``GuardBlocked`` there (logged), and the server ends the stream with an error.
        """
        items = self._streamed(question)
        check = StreamCheck(self.guards, allowed=question.allowed(), canary=question.canary)
        return self._logging_blocks(question, guarded_stream(items, check), check)

    def _streamed(self, question: Question) -> Iterator[str | Completion]:
        """The gateway's stream, planned (budgets) on the first ``next`` and metered."""
        meter = question.meter
        with meter.cpu():
            provider, note = self._plan(question)
            items = self.gateway.stream(
                question.messages,
                question.hits,
                max_tokens=question.max_tokens,
                temperature=question.temperature,
                provider=provider,
                privacy=self.privacy,
            )
        done = False  # the final Completion went out: its log record settles the reservation
        try:
            while True:
                with meter.cpu():
                    item = next(items, None)
                if item is None:
                    return
                if isinstance(item, Completion):
                    done = True
                    yield self.costs.routed(item, note)
                    return
                yield item
        except BaseException:
            if not done:
                self.costs.release(meter)
            raise

    def _logging_blocks(
        self, question: Question, items: Iterator[str | Completion], check: StreamCheck
    ) -> Iterator[str | Completion]:
        try:
            for item in items:
                if isinstance(item, Completion):
                    question.guarded.events.extend(check.events)
                yield item
        except GuardBlocked as exc:
            q = question
            self._log_blocked(q.request_id, "chat", q.text, q.t0, exc, q.meter)
            raise

    @contextlib.contextmanager
    def _blocked_logged(
        self, request_id: str, endpoint: str, text: str, t0: float, meter: CallMeter | None
    ) -> Iterator[None]:
        try:
            yield
        except GuardBlocked as exc:
            self._log_blocked(request_id, endpoint, text, t0, exc, meter)
            raise

    def _log_blocked(
        self,
        request_id: str,
        endpoint: str,
        text: str,
        t0: float,
        exc: GuardBlocked,
        meter: CallMeter | None,
    ) -> None:
        extra = {"blocked": True, "guards": exc.record, "provider": None}
        self._log(request_id, endpoint, text, [], t0, extra, meter)

    def finish(self, question: Question, completion: Completion, *, stream: bool) -> Answer:
        """Score and guard a completion, queue its log record and count it."""
        with question.meter.cpu():
            return self._finish(question, completion, stream)

    def _finish(self, question: Question, completion: Completion, stream: bool) -> Answer:
        answer = self.grade(question, completion)
        grounded = answer.grounded
        q = question
        with self._blocked_logged(q.request_id, "chat", q.text, q.t0, q.meter):
            if not stream:  # a stream was checked as it went (StreamCheck)
                text, events = self.guards.check_text(
                    completion.text, allowed=question.allowed(), canary=question.canary
                )
                question.guarded.events.extend(events)
                if text != completion.text:
                    completion = dataclasses.replace(completion, text=text)
                    answer = Answer(question, completion, grounded)
            question.guarded.events.extend(self.guards.check_grounded(grounded))
        if self.review.policy is not None:  # no policy for this KB: nothing else to do
            self._queue_review(question, completion.text, grounded.score)
        self._log(
            question.request_id,
            "chat",
            question.text,
            question.hits,
            question.t0,
            {
                "provider": completion.provider,
                "model": completion.model,
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "cost_usd": completion.cost_usd,
                "groundedness": grounded.score,
                "answer_relevance": grounded.answer_relevance,
                "context_relevance": grounded.context_relevance,
                "abstained": grounded.abstained,
                "flagged": grounded.flagged,
                "groundedness_method": grounded.method,
                "citations": completion.citations,
                "route": [*(t["provider"] for t in completion.tried), completion.provider],
                "route_reason": completion.route_reason,
                "stream": stream,
                "privacy": self.privacy,
                "redactions": dict(getattr(completion, "redactions", {}) or {}),
                **guard_fields(question.guarded.events, question.guarded.quarantined),
            },
            question.meter,
        )
        self.metrics.observe_answer(
            completion.provider,
            completion.input_tokens,
            completion.output_tokens,
            completion.cost_usd,
            grounded.score,
            grounded.flagged,
            [t["provider"] for t in completion.tried],
        )
        return answer

    def _queue_review(self, question: Question, answer: str, score: float) -> None:
        """Queue the answer for human review when the KB's policy (or a guard flag) says so."""
        policy = self.review.policy
        texts = [h.text for h in question.hits]
        item = policy and kb_submission(
            policy, self.kb, question.request_id, question.text, texts, answer, score,
            question.guarded.events,
        )  # fmt: skip
        if item:
            self.review_intake.queue(item)

    def _log(
        self,
        request_id: str,
        endpoint: str,
        question: str,
        hits: Sequence[Hit],
        t0: float,
        extra: dict[str, Any],
        meter: CallMeter | None = None,
    ) -> None:
        record = {
            "request_id": request_id,
            "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
            "kb": self.kb,
            "endpoint": endpoint,
            "question": question,
            "chunk_ids": [h.chunk_id for h in hits],
            "retrieval_scores": [round(float(h.score), 6) for h in hits],
            "sensitivity": max(
                (h.sensitivity for h in hits), key=SENSITIVITY_ORDER.__getitem__, default="none"
            ),
            "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3),
            **extra,
        }
        if meter is not None:
            record[METER_KEY] = meter.note()
        self.raglog.put(record)
