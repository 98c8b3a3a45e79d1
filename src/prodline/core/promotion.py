"""The promotion seam: what a policy is asked before an alias moves, and what it answers.

``Workspace.promote`` and ``Workspace.rollback`` build a :class:`PromotionRequest`,
ask the workspace's :class:`PromotionPolicy`, and move the alias only when the
:class:`PolicyDecision` allows it. The registry knows nothing of policies and the
policies know nothing of SQL: they meet here, in plain data.

Examples
--------
>>> request = PromotionRequest("credit-risk", 2, "production", "promote", "high", 1, "ana")
>>> AllowAll().decide(request).allowed
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["AllowAll", "PolicyDecision", "PromotionPolicy", "PromotionRequest"]

PromotionAction = Literal["promote", "rollback"]


@dataclass(frozen=True)
class PromotionRequest:
    """One proposed alias move, as a policy sees it (no I/O, no store handles)."""

    model: str
    version: int
    alias: str
    action: PromotionAction
    risk_level: str
    from_version: int | None
    actor: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    trained_on: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``model@version``, the version that would hold the alias."""
        return f"{self.model}@{self.version}"


@dataclass(frozen=True)
class PolicyDecision:
    """A policy's answer: allowed or not, the reasons, and the evidence it looked at."""

    allowed: bool
    reasons: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    policy: str = ""


@runtime_checkable
class PromotionPolicy(Protocol):
    """Anything that can decide a :class:`PromotionRequest` (gates plug in here)."""

    def decide(self, request: PromotionRequest) -> PolicyDecision:
        """Allow or refuse ``request``; never moves anything itself."""
        ...


class AllowAll:
    """The default policy until governance configures one: every move is allowed."""

    name = "allow-all"

    def decide(self, request: PromotionRequest) -> PolicyDecision:
        """Allow ``request``, saying that no policy was consulted."""
        return PolicyDecision(True, ("no promotion policy is configured",), policy=self.name)
