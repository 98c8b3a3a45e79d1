"""Append-only history: audit log, lineage graph, prediction log and LLM/RAG call log.

The log readers and writers load on first use (they need pandas and pyarrow), so that
importing the ledger stays cheap for every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline.core.lazy import lazy_exports
from prodline.ledger.audit import AuditEvent, AuditLog, VerifyResult
from prodline.ledger.lineage import Lineage, LineageNode

if TYPE_CHECKING:
    from prodline.ledger.calls import CallReader, CallWriter
    from prodline.ledger.predictions import Prediction, PredictionReader, PredictionWriter

__all__ = [
    "AuditEvent",
    "AuditLog",
    "CallReader",
    "CallWriter",
    "Lineage",
    "LineageNode",
    "Prediction",
    "PredictionReader",
    "PredictionWriter",
    "VerifyResult",
]

_LAZY = {
    "CallReader": "prodline.ledger.calls",
    "CallWriter": "prodline.ledger.calls",
    "Prediction": "prodline.ledger.predictions",
    "PredictionReader": "prodline.ledger.predictions",
    "PredictionWriter": "prodline.ledger.predictions",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
