"""The one small tree of prodline errors.

Every message names the thing and the fix. Each class carries a ``code`` that the
HTTP layer maps to a status (``HTTP_STATUS``) and the CLI prints as one line.

::

    ProdlineError                 code "error"          HTTP 500
     ├── InvalidInput             code "invalid_input"  HTTP 422
     ├── NotFound                 code "not_found"      HTTP 404
     ├── Conflict                 code "conflict"       HTTP 409
     ├── GateFailed               code "gate_failed"    HTTP 409
     ├── Unauthorized             code "unauthorized"   HTTP 401
     ├── Forbidden                code "forbidden"      HTTP 403  (a role without the right)
     ├── IntegrityError           code "integrity"      HTTP 500  (corrupted artifact, broken chain)
     ├── UnsafeModel              code "unsafe_model"   HTTP 422  (pickles, untrusted types)
     ├── GuardBlocked             code "guard_blocked"  HTTP 400  (a guard refused prompt/answer)
     └── StoreUnavailable         code "store_unavailable" HTTP 503
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "HTTP_STATUS",
    "Conflict",
    "Forbidden",
    "GateFailed",
    "GuardBlocked",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "ProdlineError",
    "StoreUnavailable",
    "Unauthorized",
    "UnsafeModel",
]


class ProdlineError(Exception):
    """Root of every error prodline raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The body the API returns: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(ProdlineError):
    """The caller sent something malformed: a bad file, field, flag or value."""

    code = "invalid_input"


class NotFound(ProdlineError):
    """A named dataset, model, version or alias does not exist."""

    code = "not_found"


class Conflict(ProdlineError):
    """The request clashes with current state (a concurrent change, an archived version)."""

    code = "conflict"


class GateFailed(ProdlineError):
    """A promotion gate was not satisfied by recorded evidence."""

    code = "gate_failed"


class Unauthorized(ProdlineError):
    """Missing or wrong credentials."""

    code = "unauthorized"


class Forbidden(ProdlineError):
    """The actor is known but their role may not do this; the message names the role needed."""

    code = "forbidden"


class IntegrityError(ProdlineError):
    """Stored bytes or history no longer match their recorded hashes."""

    code = "integrity"


class UnsafeModel(ProdlineError):
    """A model file would execute untrusted code when loaded."""

    code = "unsafe_model"


class GuardBlocked(ProdlineError):
    """A guard refused a prompt or an answer; ``details["guard"]`` names which one.

    The message says why in words a caller can act on, never the detector's internals.
    """

    code = "guard_blocked"

    def __init__(self, message: str, *, record: list[dict[str, Any]] | None = None, **details: Any):
        super().__init__(message, **details)
        self.record: list[dict[str, Any]] = list(record or [])
        """The guard events with scores and layers, for the call and audit logs only."""


class StoreUnavailable(ProdlineError):
    """The metadata database cannot be reached or opened."""

    code = "store_unavailable"


HTTP_STATUS: dict[str, int] = {
    ProdlineError.code: 500,
    InvalidInput.code: 422,
    NotFound.code: 404,
    Conflict.code: 409,
    GateFailed.code: 409,
    Unauthorized.code: 401,
    Forbidden.code: 403,
    IntegrityError.code: 500,
    UnsafeModel.code: 422,
    GuardBlocked.code: 400,
    StoreUnavailable.code: 503,
    "provider_unavailable": 503,  # prodline.llm.ProviderUnavailable: no LLM provider answered
    "budget_exceeded": 429,  # prodline.cost.budgets.BudgetExceeded: a hard budget is spent
}
