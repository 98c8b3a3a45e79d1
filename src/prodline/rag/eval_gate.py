"""The quality gate of a knowledge base: its latest evaluation against set minimums.

``prodline kb eval`` stores each run as ``rag_eval`` evidence on ``kb:NAME@VERSION``; the
``[rag.gate]`` table of prodline.toml says what that evidence must show::

    [rag.gate]
    min_hit_at_5 = 0.9
    min_correctness = 0.75
    min_abstention_recall = 0.9
    max_false_abstention = 0.05

Keys are ``min_`` or ``max_`` and a metric of the evaluation report, ``@`` written
``_at_`` (``hit@5`` → ``min_hit_at_5``). :func:`check_kb_gate` is a pure function over
the policy and the evidence; ``ws.kbs.gate`` reads both, audits the verdict
(``kb.gate_checked``) and ``prodline serve rag KB --require-gate`` refuses to start
without a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodline.errors import InvalidInput

__all__ = ["GATE_KEYS", "GateBound", "KbGateReport", "RagGatePolicy", "check_kb_gate"]

# the config key -> (the metric in the evidence summary, "min" or "max")
GATE_KEYS: dict[str, tuple[str, str]] = {
    "min_hit_at_1": ("hit@1", "min"),
    "min_hit_at_5": ("hit@5", "min"),
    "min_mrr": ("mrr", "min"),
    "min_ndcg_at_10": ("ndcg@10", "min"),
    "min_correctness": ("correctness", "min"),
    "min_token_f1": ("token_f1", "min"),
    "min_faithfulness": ("faithfulness", "min"),
    "min_answer_relevance": ("answer_relevance", "min"),
    "min_abstention_precision": ("abstention_precision", "min"),
    "min_abstention_recall": ("abstention_recall", "min"),
    "max_false_abstention": ("false_abstention", "max"),
    "max_latency_p50_ms": ("latency_p50_ms", "max"),
    "max_latency_p95_ms": ("latency_p95_ms", "max"),
}


@dataclass(frozen=True)
class GateBound:
    """One requirement: ``metric`` at least (``min``) or at most (``max``) ``limit``."""

    key: str
    metric: str
    bound: str
    limit: float

    def met_by(self, value: float) -> bool:
        """True when ``value`` satisfies the bound."""
        return value >= self.limit if self.bound == "min" else value <= self.limit


@dataclass(frozen=True)
class RagGatePolicy:
    """The ``[rag.gate]`` minimums (and maximums), validated.

    Examples
    --------
    >>> RagGatePolicy.parse({"min_hit_at_5": 0.9}).bounds[0].metric
    'hit@5'
    """

    bounds: tuple[GateBound, ...] = ()

    @classmethod
    def parse(cls, section: Any) -> RagGatePolicy:
        """Validate the ``[rag.gate]`` table (already parsed from TOML).

        Raises
        ------
        InvalidInput
            Not a table, an unknown key (the message lists the valid ones) or a value
            that is not a number.
        """
        if not isinstance(section, Mapping):
            raise InvalidInput("rag.gate must be a table ([rag.gate]).", key="rag.gate")
        bounds: list[GateBound] = []
        for key, value in section.items():
            if key not in GATE_KEYS:
                raise InvalidInput(
                    f"rag.gate.{key} is not a known key; valid: {', '.join(sorted(GATE_KEYS))}.",
                    key=f"rag.gate.{key}",
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(
                    f"rag.gate.{key} must be a number, e.g. {key} = 0.9.", key=f"rag.gate.{key}"
                )
            metric, bound = GATE_KEYS[key]
            bounds.append(GateBound(key=key, metric=metric, bound=bound, limit=float(value)))
        return cls(bounds=tuple(bounds))


@dataclass(frozen=True)
class KbGateReport:
    """The verdict on one KB version: each bound's value and whether it is met."""

    kb: str
    version: int
    passed: bool
    evidence_id: int | None
    checks: tuple[dict[str, Any], ...] = ()
    reasons: tuple[str, ...] = field(default=())

    @property
    def subject(self) -> str:
        """The evidence subject, ``kb:NAME@VERSION``."""
        return f"kb:{self.kb}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``prodline kb gate --json``)."""
        return {
            "kb": self.kb,
            "version": self.version,
            "subject": self.subject,
            "passed": self.passed,
            "evidence_id": self.evidence_id,
            "checks": [dict(c) for c in self.checks],
            "reasons": list(self.reasons),
        }


def check_kb_gate(
    policy: RagGatePolicy,
    kb: str,
    version: int,
    metrics: Mapping[str, float | None] | None,
    *,
    evidence_id: int | None = None,
) -> KbGateReport:
    """Check the ``metrics`` of KB ``kb``'s latest evaluation against ``policy``.

    ``metrics`` is ``None`` when the version has no ``rag_eval`` evidence: the gate fails
    and says to run ``prodline kb eval`` first. A metric the run did not measure fails its
    bound.

    Raises
    ------
    InvalidInput
        The policy sets no bound (an empty or missing ``[rag.gate]``).

    Examples
    --------
    >>> policy = RagGatePolicy.parse({"min_hit_at_5": 0.9, "max_false_abstention": 0.05})
    >>> r = check_kb_gate(policy, "docs", 2, {"hit@5": 0.95, "false_abstention": 0.1})
    >>> r.passed, r.reasons
    (False, ('false_abstention 0.100 is above the maximum 0.05',))
    """
    if not policy.bounds:
        raise InvalidInput(
            "No KB quality gate is set; add a [rag.gate] table to prodline.toml, "
            "e.g. min_hit_at_5 = 0.9 and min_correctness = 0.75.",
            key="rag.gate",
        )
    if metrics is None:
        reason = f"kb:{kb}@{version} has no evaluation; run prodline kb eval first."
        return KbGateReport(kb, version, False, None, (), (reason,))
    checks: list[dict[str, Any]] = []
    reasons: list[str] = []
    for b in policy.bounds:
        value = metrics.get(b.metric)
        met = value is not None and b.met_by(float(value))
        checks.append(
            {"metric": b.metric, "bound": b.bound, "limit": b.limit, "value": value, "met": met}
        )
        if value is None:
            reasons.append(f"{b.metric} was not measured by the latest evaluation")
        elif not met:
            side = "below the minimum" if b.bound == "min" else "above the maximum"
            reasons.append(f"{b.metric} {float(value):.3f} is {side} {b.limit:g}")
    return KbGateReport(kb, version, not reasons, evidence_id, tuple(checks), tuple(reasons))
