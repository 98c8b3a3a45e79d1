"""The OpenAI wire format of answers: ``chat.completion`` objects and streamed chunks.

A response is a standard ``chat.completion`` (``model`` is the knowledge base) plus these
documented top-level extension fields, which the official ``openai`` client keeps in
``response.model_extra``:

``citations``
    ``[{index, chunk_id, source, title, heading, sensitivity}]``: the marker ``[index]``
    in the answer text cites that chunk.
``groundedness``
    ``{score, faithfulness, answer_relevance, context_relevance, flagged, reasons,
    method, threshold}``: ``score`` (= ``faithfulness``) is how well the answer is
    supported by the retrieved chunks (0-1); ``answer_relevance`` whether it addresses
    the question; ``context_relevance`` the best calibrated relevance of the chunks;
    ``flagged`` when any is below its threshold, ``reasons`` saying which.
``abstention``
    ``{abstained, reason, best_relevance, threshold}``: whether the answer says the
    documents do not cover the question, and why (no chunk reached the calibrated
    relevance threshold); ``{"abstained": false}`` otherwise.
``provider``, ``provider_model``
    The LLM provider that answered and its model.
``route_reason``, ``tried``
    Why that provider (sensitivity routing, fallback), and the providers that failed
    first (``[{provider, error}]``).
``cost_usd``, ``request_id``
    The call's cost at configured prices, and the id it is logged and audited under.
``guards``
    ``{events: [{guard, action, reason, score?, layers?}], quarantined: [{chunk_id,
    source, injection_risk}]}``: the guards that flagged or redacted something in this
    call, and the retrieved chunks kept out of the prompt because ingest quarantined
    them as carrying instructions. A guard that blocks answers HTTP 400 instead, with
    ``error.code`` ``guard_blocked`` and ``error.details.guard`` naming it.

A stream is ``text/event-stream``: a first chunk with ``delta.role``, content deltas,
and a last chunk with ``finish_reason``, ``usage`` and the same extension fields, then
``data: [DONE]``. An error after the stream has started is one event
``data: {"error": {...}}`` and no ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from prodline.errors import HTTP_STATUS, ProdlineError
from prodline.llm import Completion
from prodline.llm.abstain import abstention
from prodline.monitor import Groundedness
from prodline.rag.types import Hit
from prodline.serving.budgeting import BUDGET_STATUS, BudgetRefused

__all__ = [
    "DONE",
    "chunk",
    "completion_body",
    "error_body",
    "extras",
    "guard_fields",
    "hit_dict",
    "sse",
    "status_of",
]

DONE = b"data: [DONE]\n\n"


def status_of(exc: ProdlineError) -> int:
    """HTTP status of an error; no provider could answer is 503 (with the tried list), a
    spent hard budget 429 (``budget_exceeded``)."""
    if exc.code == BudgetRefused.code:
        return BUDGET_STATUS
    return HTTP_STATUS.get(exc.code, 500)


def error_body(exc: ProdlineError, request_id: str, *, status: int | None = None) -> dict[str, Any]:
    """``{"error": {code, message, details}}`` plus OpenAI's ``type`` and ``param``.

    ``type`` is ``invalid_request_error`` for a 4xx ``status`` (default: the error's own)
    and ``server_error`` otherwise; ``param`` names the offending field (what the
    ``openai`` client exposes as ``error.param``); ``request_id`` finds the call in the
    server's log.
    """
    doc = exc.to_dict()
    field = exc.details.get("field")
    status = status_of(exc) if status is None else status
    doc["error"]["type"] = "invalid_request_error" if status < 500 else "server_error"
    doc["error"]["param"] = field if isinstance(field, str) else None
    doc["request_id"] = request_id
    return doc


def citations(completion: Completion, hits: list[Hit]) -> list[dict[str, Any]]:
    by_id = {h.chunk_id: h for h in hits}
    out = []
    for n, chunk_id in enumerate(completion.citations, start=1):
        hit = by_id.get(chunk_id)
        out.append(
            {
                "index": n,
                "chunk_id": chunk_id,
                "source": hit.source if hit else "",
                "title": hit.title if hit else "",
                "heading": hit.heading if hit else "",
                "sensitivity": hit.sensitivity if hit else "",
            }
        )
    return out


def extras(
    completion: Completion,
    grounded: Groundedness,
    hits: list[Hit],
    threshold: float,
    request_id: str,
    guards: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The extension fields every answer carries (see the module docstring)."""
    return {
        "citations": citations(completion, hits),
        "groundedness": {
            "score": grounded.score,
            "faithfulness": grounded.score,
            "answer_relevance": grounded.answer_relevance,
            "context_relevance": grounded.context_relevance,
            "flagged": grounded.flagged,
            "reasons": list(grounded.reasons),
            "method": grounded.method,
            "threshold": threshold,
        },
        "abstention": _abstention(grounded, hits),
        "provider": completion.provider,
        "provider_model": completion.model,
        "route_reason": completion.route_reason,
        "tried": completion.tried,
        "cost_usd": completion.cost_usd,
        "request_id": request_id,
        "guards": guards or {"events": [], "quarantined": []},
    }


def _abstention(grounded: Groundedness, hits: list[Hit]) -> dict[str, Any]:
    why = abstention(hits) if grounded.abstained else None
    return why.to_dict() if why is not None else {"abstained": False}


def usage(completion: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": completion.input_tokens,
        "completion_tokens": completion.output_tokens,
        "total_tokens": completion.input_tokens + completion.output_tokens,
    }


def completion_body(
    kb: str, created: int, completion: Completion, extra: dict[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` object for a non-streamed answer."""
    return {
        "id": f"chatcmpl-{extra['request_id']}",
        "object": "chat.completion",
        "created": created,
        "model": kb,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text, "refusal": None},
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": usage(completion),
        **extra,
    }


def chunk(
    kb: str,
    request_id: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    /,
    **fields: Any,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``fields`` (usage, extensions) go on the top level."""
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": kb,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        **fields,
    }


def final_chunk(
    kb: str, created: int, completion: Completion, extra: dict[str, Any]
) -> dict[str, Any]:
    return chunk(
        kb,
        extra["request_id"],
        created,
        {},
        completion.finish_reason,
        usage=usage(completion),
        **extra,
    )


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event: ``data: {...}`` and a blank line."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def guard_fields(events: Sequence[Any], quarantined: Sequence[Hit] = ()) -> dict[str, Any]:
    """The guard keys of a call-log record: ``guards`` (events), ``quarantined`` (ids)."""
    out: dict[str, Any] = {}
    if events:
        out["guards"] = [e.to_dict() for e in events]
    if quarantined:
        out["quarantined"] = [h.chunk_id for h in quarantined]
    return out


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A retrieved chunk as ``/v1/retrieve`` returns it."""
    return {
        "chunk_id": hit.chunk_id,
        "score": hit.score,
        "text": hit.text,
        "source": hit.source,
        "title": hit.title,
        "heading": hit.heading,
        "sensitivity": hit.sensitivity,
        "kinds": list(hit.kinds),
        "scores": hit.scores,
        "rank": hit.rank,
        "relevance": hit.relevance,
        "injection_risk": getattr(hit, "injection_risk", None),
        "quarantined": bool(getattr(hit, "quarantined", False)),
    }
