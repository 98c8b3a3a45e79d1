"""Gateway errors: one public (``ProviderUnavailable``), one internal (``ProviderFailed``).

::

    ProdlineError
     └── ProviderUnavailable   code "provider_unavailable"  (callers map it to 502/503)

    ProviderFailed             one provider's failure; the gateway records it and falls back
"""

from __future__ import annotations

from typing import Any

from prodline.errors import ProdlineError

__all__ = ["ProviderFailed", "ProviderUnavailable"]


class ProviderUnavailable(ProdlineError):
    """No eligible provider produced an answer.

    ``details["tried"]`` is a list of ``{"provider", "error"}`` in the order tried.
    """

    code = "provider_unavailable"

    def __init__(self, message: str, *, tried: list[dict[str, Any]], **details: Any) -> None:
        super().__init__(message, tried=tried, **details)


class ProviderFailed(Exception):
    """One provider could not answer (down, timed out, refused, garbled reply).

    Raised by providers with a message already free of secrets; the gateway catches it,
    records it in ``tried`` and moves to the next provider.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
