"""Monitoring: groundedness of generated answers (drift and alerts join here)."""

from prodline.monitor.groundedness import (
    Groundedness,
    GroundednessScorer,
    LlmJudge,
    SentenceSupport,
    SupportWeights,
)

__all__ = [
    "Groundedness",
    "GroundednessScorer",
    "LlmJudge",
    "SentenceSupport",
    "SupportWeights",
]
