"""What a RAG server is told at start, in one frozen object checked when it is made."""

from __future__ import annotations

from dataclasses import dataclass

from prodline.errors import InvalidInput
from prodline.rag.retrieve import MAX_K
from prodline.rag.types import SENSITIVITY_ORDER
from prodline.serving.limits import ServerLimits

__all__ = ["RagOptions"]


@dataclass(frozen=True)
class RagOptions:
    """How a RAG server answers.

    Parameters
    ----------
    provider
        Force one LLM provider (no fallback); by default ``llm.fallback`` is tried in order,
        restricted to self-hosted providers when the context holds PII/PHI. An unknown
        name is refused when the server is built (the gateway knows the names).
    clearance
        The most sensitive chunks retrieved (``none``, ``pii``, ``phi``); requests may
        lower it, never raise it.
    threshold
        Answers whose groundedness is below it are flagged.
    k
        Chunks retrieved per question unless the request sets ``k``.
    auth
        ``none`` (default) or ``token``: every route but health then needs a bearer token
        of a user whose role may ``chat`` (``prodline.serving.auth``).
    auth_cache_s
        How long one token's check is reused (a revocation applies within it).
    review_poll_interval_s
        How often the knowledge base's human-review policy is checked for changes
        (``ws.reviews.policy_version()``; a changed policy applies within this).
    limits
        Body, depth, rate, concurrency and time limits (``prodline.serving.limits``);
        None reads the ``[server]`` table of ``prodline.toml`` (RAG-server defaults).

    Raises
    ------
    InvalidInput
        Clearance, threshold or k out of range, naming the field.
    """

    provider: str | None = None
    clearance: str = "phi"
    threshold: float = 0.5
    k: int = 5
    auth: str = "none"
    auth_cache_s: float = 5.0
    review_poll_interval_s: float = 2.0
    limits: ServerLimits | None = None

    def __post_init__(self) -> None:
        if self.clearance not in SENSITIVITY_ORDER:
            raise InvalidInput(
                f"Clearance '{self.clearance}' is not one of none, pii, phi.", field="clearance"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise InvalidInput(
                f"threshold must be between 0 and 1, got {self.threshold}; 0.5 is the default.",
                field="threshold",
            )
        k = self.k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}, got {k}.", field="k")
