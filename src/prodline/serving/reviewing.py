"""Human review on both servers: the policy cache, the hold/queue decision, the intake queue.

A model or knowledge base may have a review policy (``ws.reviews.set_policy``; see
:mod:`prodline.review`). Each server keeps its subject's policy in a
:class:`PolicyWatch`, read once at start and again only when
``ws.reviews.policy_version()`` moves (polled every ``interval`` seconds, 2 by default, in
a worker thread; never per request). With no policy the request path pays one attribute
read (``watch.policy is None``) and nothing else.

With a policy, the prediction server scores each request by its least confident row
(the highest class probability of a row; no score when the model gives no
probabilities) and asks :func:`prodline.review.route`:

* ``hold``: the prediction is logged as usual, the review item is submitted before
  answering, and the client gets HTTP 202 ``{"status": "pending_review", "review_id",
  "review_url", "request_id"}``; it polls ``GET /v1/reviews/{id}`` for the decision;
* ``queue`` (after mode): the normal answer goes out and the item waits in
  :class:`ReviewIntake`, a bounded queue a writer thread hands to
  ``ws.reviews.submit_many`` in batches, off the request path.

The RAG server queues answers whose groundedness is under its knowledge base's policy
threshold (or sampled), and answers a guard flagged, the same way (after mode only).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from prodline.errors import HTTP_STATUS, NotFound, ProdlineError, StoreUnavailable
from prodline.ledger.predictions import dumps
from prodline.review import ReviewPolicy, route
from prodline.serving.logqueue import BoundedLogWriter
from prodline.serving.payload import records_of
from prodline.serving.polling import Refreshing

if TYPE_CHECKING:
    from prodline.serving.batching import Outcome
    from prodline.serving.payload import Parsed
    from prodline.workspace import Workspace

__all__ = [
    "MAX_REVIEW_ID",
    "REVIEW_DOC",
    "PendingReview",
    "PolicyWatch",
    "ReviewIntake",
    "ReviewStatus",
    "confidence",
    "held_body",
    "hold",
    "kb_reason",
    "kb_submission",
    "model_item",
    "model_reason",
    "model_submission",
    "review_status",
    "screen",
]

log = logging.getLogger("prodline.serving")

MAX_REVIEW_ID = 2**63 - 1
"""The largest review id a server looks up (a 64-bit key); larger ones are refused."""

Submission = Callable[[], Mapping[str, Any]]
"""A review item to submit, built when called (in the intake's writer thread)."""


class PolicyWatch(Refreshing):
    """The review policy of one model or knowledge base, refreshed when policies change.

    ``policy`` is what the request path reads (None: no review). ``refresh()`` reads
    ``ws.reviews.policy_version()`` and, only when it moved, the policy itself; ``start()``
    refreshes once, then every ``interval`` seconds in a background task (the reads run in
    a worker thread). A store error keeps the last policy and is logged once per streak.
    """

    task_name = "review-policy"

    def __init__(self, ws: Workspace, kind: str, subject: str, interval: float = 2.0) -> None:
        self._ws = ws
        self.kind = kind
        self.subject = subject
        self.interval = interval
        self.policy: ReviewPolicy | None = None
        self._version: int | None = None
        self._failing = False

    def refresh(self) -> bool:
        """Read the policy if policies changed since the last read; True when it was read."""
        try:
            reviews = self._ws.reviews
            version = reviews.policy_version()
            if version == self._version:
                return False
            self.policy = reviews.policy(self.kind, self.subject)
            self._version = version
        except Exception as exc:
            if not self._failing:
                log.warning("review policy of %s %s: cannot read: %s", self.kind, self.subject, exc)
            self._failing = True
            return False
        self._failing = False
        return True


class ReviewIntake(BoundedLogWriter[Submission]):
    """Bounded queue plus writer thread into ``ws.reviews.submit_many`` (after mode).

    The request path offers a :data:`Submission` (a closure: the item's JSON is built in
    the writer thread) and never waits; when the queue is full the item is shed, counted
    and audited as ``server.reviews_shed``.
    """

    label = "review intake"
    shed_action = "server.reviews_shed"
    thread_name = "prodline-reviews"

    def __init__(
        self,
        ws: Workspace,
        subject: str,
        registry: CollectorRegistry,
        *,
        max_size: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 0.25,
    ) -> None:
        items = Counter(
            "prodline_review_items",
            "Answers sent to human review: held (the client waits) or queued (after mode).",
            ["route"],
            registry=registry,
        )
        self.held = items.labels("held")
        self.queued = items.labels("queued")
        super().__init__(
            ws,
            subject,
            max_size=max_size,
            batch_size=batch_size,
            flush_interval=flush_interval,
            backpressure=0.0,
            shed_audit_interval=60.0,
            on_written=self.queued.inc,
            on_shed=items.labels("shed").inc,
        )
        self._starting = threading.Lock()

    def queue(self, submission: Submission) -> None:
        """Queue one item for the writer thread (started on first use); shed (counted,
        audited) when the queue is full."""
        if self._thread is None:
            with self._starting:
                self.start()
        if not self.offer(submission):
            self._count_shed(1)

    def _write(self, batch: list[Submission], *, final: bool) -> None:
        records: list[Mapping[str, Any]] = []
        for make in batch:
            try:
                records.append(make())
            except Exception:  # one unencodable answer must not lose the others
                log.exception("review intake: cannot build a review item; skipped")
                self._count_shed(1)
        if not records:
            return
        submit = self._ws.reviews.submit_many
        if self._retry(lambda: submit(records), len(records), "submit", final):
            self._count_written(len(records))


# -- the model server ----------------------------------------------------------------------


def confidence(probabilities: Any) -> float | None:
    """The least confident row's highest class probability; None without probabilities."""
    if probabilities is None:
        return None
    if len(probabilities) <= 8:  # the usual small request: plain Python beats two reductions
        rows = probabilities.tolist()
        if len(rows) == 1:
            return float(max(rows[0]))
        return float(min(max(row) for row in rows)) if rows and rows[0] else None
    return float(probabilities.max(axis=1).min()) if probabilities.size else None


def screen(policy: ReviewPolicy, probabilities: Any) -> tuple[str | None, float | None]:
    """``(route, score)`` of one answered request under ``policy``: ``hold``, ``queue`` or None."""
    score = confidence(probabilities)
    return route(policy, score, random.random()), score


def model_reason(policy: ReviewPolicy, score: float | None) -> str:
    """Why a prediction went to review, for the reviewer."""
    threshold = policy.threshold
    if threshold is not None and score is not None and score < threshold:
        return f"confidence {score:.2f} < {threshold:.2f}"
    if policy.mode == "hold":
        return "hold: every prediction" if threshold is None else "hold: no confidence score"
    return "sample"


def kb_reason(policy: ReviewPolicy, score: float | None, flags: Sequence[str] = ()) -> str:
    """Why a RAG answer went to review: low groundedness, a guard's flag, or the sample."""
    threshold = policy.threshold
    if threshold is not None and score is not None and score < threshold:
        return f"groundedness {score:.2f} < {threshold:.2f}"
    if flags:
        return "guard: " + "; ".join(flags)
    return "sample"


def model_item(
    mode: str,
    reason: str,
    request_id: str,
    parsed: Parsed,
    outcome: Outcome,
    score: float | None,
) -> dict[str, Any]:
    """A prediction as a review item: input rows and per-row outputs as plain JSON values.

    Each output row is ``{"prediction"}`` plus ``probabilities`` and ``classes`` when the
    model gives them: what an approving or editing reviewer's label is read from.
    """
    served = outcome.served
    rows = orjson.loads(dumps(records_of(served.spec, parsed)))
    predictions = orjson.loads(dumps(outcome.predictions))
    outputs: list[dict[str, Any]] = [{"prediction": p} for p in predictions]
    if outcome.probabilities is not None:
        probabilities = orjson.loads(dumps(outcome.probabilities))
        classes = orjson.loads(dumps(outcome.classes))
        for out, probs in zip(outputs, probabilities, strict=True):
            out["probabilities"] = probs
            out["classes"] = classes
    return {
        "kind": "model",
        "subject": served.name,
        "mode": mode,
        "reason": reason,
        "input": rows,
        "output": outputs,
        "version": served.version,
        "request_id": request_id,
        "score": score,
    }


def model_submission(
    policy: ReviewPolicy,
    verdict: str,
    request_id: str,
    parsed: Parsed,
    outcome: Outcome,
    score: float | None,
) -> Submission:
    """The item of one request (``verdict``: ``hold`` or ``queue``), built when called."""
    reason = model_reason(policy, score)
    mode = "hold" if verdict == "hold" else "after"
    return functools.partial(model_item, mode, reason, request_id, parsed, outcome, score)


def held_body(review_id: int, request_id: str) -> bytes:
    """The 202 answer of a held prediction."""
    return orjson.dumps(
        {
            "status": "pending_review",
            "review_id": review_id,
            "review_url": f"/v1/reviews/{review_id}",
            "request_id": request_id,
        }
    )


def hold(ws: Workspace, make: Submission) -> int:
    """Build and submit a held prediction's item now (blocking: run it in a worker
    thread); its review id.

    Raises ``StoreUnavailable`` when it cannot be queued: the answer must then not go out.
    """
    try:
        fields = dict(make())
        kind, subject = fields.pop("kind"), fields.pop("subject")
        return int(ws.reviews.submit(kind, subject, **fields).id)
    except Exception as exc:
        log.exception("cannot queue a held prediction for review")
        raise StoreUnavailable(
            f"This prediction needs human review, but it could not be queued ({exc}); "
            "retry shortly, or check the metadata database."
        ) from exc


# -- the RAG server ------------------------------------------------------------------------


def kb_submission(
    policy: ReviewPolicy,
    kb: str,
    request_id: str,
    question: str,
    contexts: Sequence[str],
    answer: str,
    score: float | None,
    events: Iterable[Any] = (),
) -> Submission | None:
    """The after-mode item of one RAG answer, or None when the policy lets it pass.

    ``events`` are the call's guard events (``guard``, ``action``, ``reason``): an answer
    a guard flagged is queued even when its groundedness is at or above the threshold
    (the groundedness guard's own flag is not counted: the policy's threshold decides).
    """
    flags = [
        f"{e.guard} {e.reason}" for e in events if e.action == "flag" and e.guard != "groundedness"
    ]
    if route(policy, score, random.random()) is None and not flags:
        return None
    return functools.partial(
        dict,
        kind="kb",
        subject=kb,
        mode="after",
        reason=kb_reason(policy, score, flags),
        input={"question": question, "contexts": list(contexts)},
        output={"answer": answer},
        request_id=request_id,
        score=score,
    )


# -- GET /v1/reviews/{id} ------------------------------------------------------------------


class PendingReview(BaseModel):
    """The 202 answer of a prediction held for human review."""

    status: str = "pending_review"
    review_id: int
    review_url: str
    request_id: str


class ReviewStatus(BaseModel):
    """``GET /v1/reviews/{id}``: the item as its client sees it (``ReviewItem.public()``)."""

    review_id: int
    status: str  # pending_review | approved | edited | rejected
    output: Any = None
    decided_at: str | None = None


REVIEW_DOC: dict[str, Any] = {
    "summary": "A review item: pending, or the reviewer's decision and final output",
    "description": (
        "Poll the review_url of a 202 pending_review answer. status is pending_review until "
        "a reviewer decides; then approved or edited (output: the per-row outputs to use) "
        "or rejected (output null). Items of every model and knowledge base of the "
        "workspace are visible."
    ),
    "response_model": ReviewStatus,
}


async def review_status(
    ws: Workspace,
    review_id: int,
    render: Callable[[ProdlineError, int], dict[str, Any]] | None = None,
) -> tuple[int, dict[str, Any]]:
    """``(status, JSON document)`` of ``GET /v1/reviews/{review_id}``: the item's public
    view (``item.public()``), or the error document (``render(exc, status)``, default
    ``exc.to_dict()``); never raises."""
    try:
        if not 1 <= review_id <= MAX_REVIEW_ID:
            raise NotFound(
                f"Review {review_id} does not exist; review ids are the review_id of a "
                "202 pending_review answer.",
                field="review_id",
            )
        item = await asyncio.to_thread(ws.reviews.get, review_id)
        return 200, item.public()
    except Exception as exc:  # never a traceback to the client; one in the server log
        error = exc if isinstance(exc, ProdlineError) else None
        if error is None:
            log.exception("GET /v1/reviews/%s failed", review_id)
            error = StoreUnavailable(f"Cannot read review {review_id} now ({exc}); retry shortly.")
        elif isinstance(error, NotFound):
            error.details.setdefault("field", "review_id")
        status = HTTP_STATUS.get(error.code, 500)
        return status, (render or _plain)(error, status)


def _plain(exc: ProdlineError, status: int) -> dict[str, Any]:
    return exc.to_dict()
