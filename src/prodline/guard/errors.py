"""Errors of the guard part.

``GuardModelError`` means the shipped (or configured) injection classifier cannot be
loaded: the file is missing, its bytes do not match the manifest's sha256, or its arrays
are malformed. A server must refuse to start rather than serve unguarded, so it keeps
the root code ``"error"`` (HTTP 500, CLI exit 2), like other broken-setup errors.
"""

from __future__ import annotations

from prodline.errors import ProdlineError

__all__ = ["GuardModelError"]


class GuardModelError(ProdlineError):
    """The guard's classifier model is missing, corrupt or does not match its manifest."""

    code = "error"
