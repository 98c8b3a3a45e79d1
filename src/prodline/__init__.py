"""prodline: take AI from proof of concept to governed production.

``import prodline as pl`` gives the SDK: open a :class:`Workspace`, then reach every
part through it (``ws.datasets``, ``ws.models``, ``ws.audit``, ``ws.lineage``).
"""

from __future__ import annotations

from prodline.errors import (
    Conflict,
    GateFailed,
    IntegrityError,
    InvalidInput,
    NotFound,
    ProdlineError,
    StoreUnavailable,
    Unauthorized,
    UnsafeModel,
)
from prodline.workspace import Workspace

__all__ = [
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "ProdlineError",
    "StoreUnavailable",
    "Unauthorized",
    "UnsafeModel",
    "Workspace",
    "__version__",
]

__version__ = "0.1.0"
