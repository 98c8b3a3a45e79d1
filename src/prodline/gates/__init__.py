"""Promotion gates: policies by risk level, the checks they require, and the decision.

``ws.gates`` runs checks into evidence and records sign-offs, justifications and
overrides; ``ws.policy`` (a :class:`GatePolicy`) decides each promotion from that
evidence under one policy snapshot. Names load on first use (the checks pull NumPy).
"""

from prodline.core.lazy import lazy_exports

__all__ = [
    "FairnessReport",
    "GatePolicy",
    "GateReport",
    "GateSources",
    "Gates",
    "Policy",
    "fairness_audit",
    "load_policy",
    "protected_groups",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "FairnessReport": "prodline.gates.fairness",
        "GatePolicy": "prodline.gates.decision",
        "GateReport": "prodline.gates.decision",
        "GateSources": "prodline.gates.service",
        "Gates": "prodline.gates.service",
        "Policy": "prodline.gates.policy",
        "fairness_audit": "prodline.gates.fairness",
        "load_policy": "prodline.gates.policy",
        "protected_groups": "prodline.gates.fairness",
    },
    globals(),
)
