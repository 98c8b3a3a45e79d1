"""Model registry: versions, aliases, promotion, rollback; flavors load model files."""

from prodline.models.registry import RISK_LEVELS, AliasMove, ModelRegistry, ModelVersion

__all__ = ["AliasMove", "ModelRegistry", "ModelVersion", "RISK_LEVELS"]
