"""Append-only history: the hash-chained audit log and the lineage graph."""

from prodline.ledger.audit import AuditEvent, AuditLog, VerifyResult
from prodline.ledger.lineage import Lineage, LineageNode

__all__ = ["AuditEvent", "AuditLog", "Lineage", "LineageNode", "VerifyResult"]
