"""The promotion decision: a version against one policy snapshot, from recorded evidence.

:func:`judge` is pure: a policy, the version and the evidence recorded on it in, a
:class:`GateReport` out (which checks are met, and for each unmet one what was short and
how to meet it). :class:`GatePolicy` is the workspace's ``ws.policy``: it loads the
policy once per promotion, judges, and records the decision (``gate:decision``
evidence, with the policy version it used) before the alias moves.

Kept apart from the checks so that opening a workspace, and promoting a minimal-risk
model, loads no NumPy or scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodline.core.promotion import PolicyDecision, PromotionRequest
from prodline.gates.policy import Policy, load_policy

if TYPE_CHECKING:
    from prodline.ledger.evidence import Evidence
    from prodline.workspace import Workspace

__all__ = ["CHECK_ORDER", "GatePolicy", "GateReport", "judge"]

CHECK_ORDER = ("evaluation", "fairness", "poisoning", "sensitivity", "signoff")
_HOW = {
    "evaluation": "run `prodline gate check {ref} --holdout DATASET@V`",
    "fairness": "run `prodline gate check {ref} --holdout DATASET@V` (the holdout needs the "
    "protected attributes)",
    "poisoning": "run `prodline gate check {ref}` (it scans the training datasets)",
    "sensitivity": "run `prodline gate check {ref}`, and `prodline gate justify {ref} "
    "--reason ...` if it uses PII/PHI columns",
    "signoff": "ask a reviewer who did not register it: `prodline gate approve {ref} --note ...`",
}


@dataclass(frozen=True)
class GateReport:
    """Where a version stands against its policy for one alias."""

    ref: str
    alias: str
    policy: str
    required: tuple[str, ...]
    met: Mapping[str, bool] = field(hash=False)
    reasons: tuple[str, ...] = ()
    evidence: Mapping[str, int] = field(default_factory=dict, hash=False)

    @property
    def passed(self) -> bool:
        """Every required check is met."""
        return all(self.met.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``prodline gate check|show --json``)."""
        return {
            "ref": self.ref,
            "alias": self.alias,
            "policy": self.policy,
            "passed": self.passed,
            "required": list(self.required),
            "met": dict(self.met),
            "reasons": list(self.reasons),
            "evidence": dict(self.evidence),
        }


def judge(policy: Policy, mv: Any, alias: str, evidence: list[Evidence]) -> GateReport:
    """Decide ``mv`` for ``alias`` under ``policy`` from ``evidence`` alone (no I/O)."""
    ref = mv.ref
    if not policy.protected(alias):
        return GateReport(ref, alias, policy.version, (), {})
    required = tuple(c for c in CHECK_ORDER if c in policy.checks)
    met: dict[str, bool] = {}
    used: dict[str, int] = {}
    reasons: list[str] = []
    latest: dict[str, Evidence] = {}
    justifications = []
    approvers: dict[str, int] = {}
    for e in evidence:
        kind = e.kind.removeprefix("gate:")
        if kind == "justification":
            justifications.append(e)
        elif kind == "approval" and e.created_by != mv.created_by:
            approvers.setdefault(e.created_by, e.id)
        elif kind in CHECK_ORDER and e.summary.get("policy") == policy.version:
            latest[kind] = e
    for check in required:
        how = _HOW[check].format(ref=ref)
        if check == "signoff":
            needed = int(policy.checks["signoff"].get("approvals", 1))
            ok = len(approvers) >= needed
            if not ok:
                reasons.append(f"signoff: {len(approvers)} of {needed} approvals; {how}")
            else:
                used["signoff"] = min(approvers.values())
            met[check] = ok
            continue
        found = latest.get(check)
        if found is None:
            stale = any(
                e.kind == f"gate:{check}" and e.summary.get("policy") != policy.version
                for e in evidence
            )
            note = (
                f"recorded only under another policy version, the policy is now {policy.version}"
                if stale
                else "no recorded result"
            )
            reasons.append(f"{check}: {note}; {how}")
            met[check] = False
            continue
        ok = bool(found.passed)
        if check == "sensitivity" and not ok and justifications:
            ok = True
        used[check] = found.id
        if not ok:
            why = "; ".join(found.summary.get("reasons") or ()) or "it failed"
            reasons.append(f"{check}: {why} (evidence #{found.id})")
        met[check] = ok
    return GateReport(ref, alias, policy.version, required, met, tuple(reasons), used)


class GatePolicy:
    """The workspace's promotion policy: protected aliases need their checks' evidence.

    Rollbacks are allowed (an alias moved back to a version that held it, an instant
    safety action); every promotion to a protected alias is decided against one policy
    snapshot and the decision is recorded as ``gate:decision`` evidence with its version.
    An admin's ``gate:override`` newer than the last decision lets one promotion through.
    """

    name = "gates"

    def __init__(self, ws: Workspace, version: Callable[[str, int], Any]) -> None:
        self._ws = ws
        self._version = version

    def decide(self, request: PromotionRequest) -> PolicyDecision:
        """Allow or refuse ``request`` from recorded evidence; records the decision."""
        if request.action == "rollback":
            return PolicyDecision(True, ("rollback: an alias moved back",), policy=self.name)
        policy = load_policy(request.risk_level, self._ws.home)  # one snapshot, whole decision
        if not policy.protected(request.alias):
            return PolicyDecision(
                True, (f"'{request.alias}' is not protected",), policy=policy.version
            )
        mv = self._version(request.model, request.version)
        subject = f"model:{mv.ref}"
        evidence = self._ws.evidence.list(subject)
        report = judge(policy, mv, request.alias, evidence)
        override = _open_override(evidence, request.alias)
        allowed = report.passed or override is not None
        reasons = report.reasons
        summary: dict[str, Any] = {
            "alias": request.alias,
            "policy": policy.version,
            "allowed": allowed,
            "met": dict(report.met),
            "evidence": dict(report.evidence),
            "reasons": list(reasons),
            "override": override.id if override is not None and not report.passed else None,
        }
        with self._ws.tx() as conn:
            decision = self._ws.evidence.record(
                conn, subject, "gate:decision", summary, passed=allowed
            )
        return PolicyDecision(
            allowed,
            reasons if not allowed else (f"gates met under {policy.version}",),
            {**summary, "decision": decision.id},
            policy=policy.version,
        )


def _open_override(evidence: list[Evidence], alias: str) -> Evidence | None:
    """The newest override for ``alias`` not yet spent by an allowing decision."""
    last_allowed = max(
        (
            e.id
            for e in evidence
            if e.kind == "gate:decision" and e.passed and e.summary.get("alias") == alias
        ),
        default=0,
    )
    overrides = [
        e for e in evidence if e.kind == "gate:override" and e.summary.get("alias") == alias
    ]
    return overrides[-1] if overrides and overrides[-1].id > last_allowed else None
