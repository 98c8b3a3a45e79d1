"""Model registry: registered models, versions, aliases; flavors load model files.

Promote and roll back through ``Workspace.promote`` / ``Workspace.rollback``: they ask
the promotion policy before the registry moves an alias.
"""

from prodline.models.entities import RISK_LEVELS, AliasMove, ModelVersion, RegisteredModel
from prodline.models.registry import ModelRegistry
from prodline.models.training import TrainingDataset

__all__ = [
    "AliasMove",
    "ModelRegistry",
    "ModelVersion",
    "RISK_LEVELS",
    "RegisteredModel",
    "TrainingDataset",
]
