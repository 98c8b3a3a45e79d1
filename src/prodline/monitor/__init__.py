"""Monitoring: groundedness of generated answers (drift and alerts join here)."""

from prodline.monitor.drift import (
    ColumnDrift,
    DriftOptions,
    DriftReport,
    compute_drift,
    prediction_drift,
)
from prodline.monitor.groundedness import (
    Groundedness,
    GroundednessScorer,
    LlmJudge,
    SentenceSupport,
    SupportWeights,
)

__all__ = [
    "ColumnDrift",
    "DriftOptions",
    "DriftReport",
    "Groundedness",
    "GroundednessScorer",
    "LlmJudge",
    "SentenceSupport",
    "SupportWeights",
    "compute_drift",
    "prediction_drift",
]
