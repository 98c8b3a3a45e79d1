"""prodline: take AI from proof of concept to governed production.

``import prodline as pl`` gives the SDK: open a :class:`Workspace`, then reach every
part through it (``ws.datasets``, ``ws.models``, ``ws.kbs``, ``ws.audit``,
``ws.lineage``) and promote through ``ws.promote`` / ``ws.rollback``. The entities
those return are importable from here too; they load on first use, so
``import prodline`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline.core.lazy import lazy_exports
from prodline.core.promotion import PolicyDecision, PromotionPolicy, PromotionRequest
from prodline.errors import (
    Conflict,
    Forbidden,
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

if TYPE_CHECKING:
    from prodline.data.datasets import DatasetVersion
    from prodline.ledger.audit import AuditEvent
    from prodline.models.entities import ModelVersion, RegisteredModel
    from prodline.pipelines.decorator import TrainingData, TrainingResult, pipeline
    from prodline.rag.kb import KnowledgeBase

__all__ = [
    "AuditEvent",
    "Conflict",
    "DatasetVersion",
    "Forbidden",
    "GateFailed",
    "IntegrityError",
    "InvalidInput",
    "KnowledgeBase",
    "ModelVersion",
    "NotFound",
    "PolicyDecision",
    "ProdlineError",
    "PromotionPolicy",
    "PromotionRequest",
    "RegisteredModel",
    "StoreUnavailable",
    "TrainingData",
    "TrainingResult",
    "Unauthorized",
    "UnsafeModel",
    "Workspace",
    "__version__",
    "pipeline",
]

__version__ = "0.1.0"

# Entities whose modules pull heavy libraries (pandas, the embedding stack) load lazily.
_LAZY = {
    "AuditEvent": "prodline.ledger.audit",
    "DatasetVersion": "prodline.data.datasets",
    "KnowledgeBase": "prodline.rag.kb",
    "ModelVersion": "prodline.models.entities",
    "RegisteredModel": "prodline.models.entities",
    "TrainingData": "prodline.pipelines.decorator",
    "TrainingResult": "prodline.pipelines.decorator",
    "pipeline": "prodline.pipelines.decorator",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
