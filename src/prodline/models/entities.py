"""Plain data of the model registry: registered models, their versions, alias moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AliasMove", "ModelVersion", "RISK_LEVELS", "RegisteredModel"]

RISK_LEVELS = ("minimal", "limited", "high")
"""Risk classes after the EU AI Act's tiers, lowest first; set on the registered model."""


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: who owns it, what it is for, how risky it is, and its aliases.

    Risk level lives here, not on each version, so a new version cannot lower the class
    that promotion policies key on.
    """

    name: str
    owner: str
    description: str
    risk_level: str
    created_by: str
    created_at: datetime
    latest_version: int = 0
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "description": self.description,
            "risk_level": self.risk_level,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version (plain data, no I/O).

    ``risk_level`` and ``owner`` are the registered model's, repeated here for
    convenience; ``description`` is this version's own.
    """

    name: str
    version: int
    flavor: str
    artifact: str
    filename: str
    signature: list[dict[str, Any]]
    metrics: dict[str, float]
    params: dict[str, Any]
    tags: dict[str, str]
    risk_level: str
    git_commit: str | None
    description: str
    status: str
    created_by: str
    created_at: datetime
    trained_on: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    owner: str = ""

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "flavor": self.flavor,
            "artifact": self.artifact,
            "filename": self.filename,
            "signature": self.signature,
            "metrics": self.metrics,
            "params": self.params,
            "tags": self.tags,
            "risk_level": self.risk_level,
            "owner": self.owner,
            "git_commit": self.git_commit,
            "description": self.description,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "trained_on": list(self.trained_on),
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class AliasMove:
    """One entry of an alias's history."""

    alias: str
    action: str
    from_version: int | None
    to_version: int
    actor: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "alias": self.alias,
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }
