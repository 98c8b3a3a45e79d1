"""Compliance: EU AI Act risk classification (Annex III), technical documentation in the
structure of Annex IV and model cards built from recorded evidence, and signed
record-keeping bundles of audit events and prediction logs."""

from prodline.compliance.annex3 import QUESTIONS, Classification, classify
from prodline.compliance.annex4 import SECTIONS, Document, Section, Statement
from prodline.compliance.bundle import BundleCheck, verify_bundle
from prodline.compliance.service import Compliance, ComplianceSources

__all__ = [
    "QUESTIONS",
    "SECTIONS",
    "BundleCheck",
    "Classification",
    "Compliance",
    "ComplianceSources",
    "Document",
    "Section",
    "Statement",
    "classify",
    "verify_bundle",
]
