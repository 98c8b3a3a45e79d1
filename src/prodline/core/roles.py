"""Roles and the permission table: which roles may perform each state-changing action.

Pure data, no I/O. ``Workspace.authorize(action)`` looks the action up here; the servers
do the same for their endpoints (``predict``, ``chat``, ``feedback.add``). The table is
the single place where a right is granted: a test walks every action and role and asserts
the allowed set exactly.

The rules:

* ``admin`` may do everything but sign off a version (``gate.approve``): sign-off is a
  reviewer's act (four-eyes); an admin overrides a gate instead, with a recorded reason.
* ``ml-engineer`` builds: registers models, promotes (gates guard protected aliases),
  runs monitors and pipelines, manages knowledge bases.
* ``data-owner`` registers datasets and documents, justifies the use of PII/PHI.
* ``reviewer`` checks gates, approves versions that someone else registered, and
  claims and decides the human review queue (whose policies ml-engineers set).
* ``auditor`` reads, exports compliance bundles and generates documents; changes nothing.
* ``service`` is what a client application holds: predict, chat, send feedback.

Examples
--------
>>> sorted(allowed_roles("dataset.register"))
['admin', 'data-owner', 'ml-engineer']
>>> is_allowed("auditor", "model.promote")
False
>>> role_needed("model.promote")
'ml-engineer (or admin)'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ROLES",
    "allowed_roles",
    "check_role",
    "is_allowed",
    "role_needed",
]

ROLES: Final[tuple[str, ...]] = (
    "admin",
    "ml-engineer",
    "data-owner",
    "reviewer",
    "auditor",
    "service",
)
"""Every role, most powerful first; the order is the one messages list roles in."""

_ADMIN = frozenset({"admin"})
_BUILD = frozenset({"admin", "ml-engineer"})
_DATA = frozenset({"admin", "ml-engineer", "data-owner"})
_SERVE = frozenset({"admin", "ml-engineer", "service"})

PERMISSIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # identity
        "user.add": _ADMIN,
        "user.disable": _ADMIN,
        "token.create": _ADMIN,
        "token.revoke": _ADMIN,
        # data
        "dataset.register": _DATA,
        # models and the one promotion path
        "model.create": _BUILD,
        "model.update": _BUILD,
        "model.register": _BUILD,
        "model.archive": _BUILD,
        "model.promote": _BUILD,
        "model.rollback": _BUILD,
        "model.serve": _BUILD,
        # knowledge bases
        "kb.create": _DATA,
        "kb.ingest": _DATA,
        "kb.remove": _DATA,
        "kb.scan": _DATA,
        "kb.update": _DATA,
        "kb.serve": _BUILD,
        # monitoring and continuous training
        "monitor.create": _BUILD,
        "monitor.run": _BUILD,
        "monitor.alert": _BUILD,
        "pipeline.register": _BUILD,
        "pipeline.run": _BUILD,
        "pipeline.approve": _BUILD,
        # human review of served answers
        "review.configure": _BUILD,
        "review.claim": frozenset({"admin", "reviewer"}),
        "review.decide": frozenset({"admin", "reviewer"}),
        # costs: price tables (reading reports needs no role)
        "cost.prices": _BUILD,
        "cost.budget": _BUILD,
        "kpi.create": _BUILD,
        "kpi.record": _SERVE,
        # evidence and gates
        "evidence.record": frozenset({"admin", "ml-engineer", "data-owner", "reviewer"}),
        "gate.check": frozenset({"admin", "ml-engineer", "reviewer"}),
        "gate.approve": frozenset({"reviewer"}),
        "gate.override": _ADMIN,
        "gate.justify": _DATA,
        # compliance and retention
        "compliance.classify": _BUILD,
        "compliance.docs": frozenset({"admin", "ml-engineer", "reviewer", "auditor"}),
        "compliance.export": frozenset({"admin", "auditor"}),
        "retention.purge": _ADMIN,
        # serving (checked per request by `--auth token`, and in the library)
        "predict": _SERVE,
        "chat": _SERVE,
        "feedback.add": _SERVE,
    }
)
"""Action → the roles allowed to perform it. Unknown actions are refused (a typo must not
grant a right)."""

ACTIONS: Final[tuple[str, ...]] = tuple(sorted(PERMISSIONS))
"""Every action the table knows, sorted."""


def check_role(role: str) -> str:
    """Return ``role`` if it is one of ``ROLES``, else raise ``ValueError`` listing them."""
    if role not in ROLES:
        raise ValueError(f"Unknown role '{role}'; roles are {', '.join(ROLES)}.")
    return role


def allowed_roles(action: str) -> frozenset[str]:
    """The roles that may perform ``action``; ``KeyError`` naming the known actions if none."""
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(
            f"Unknown action '{action}'; add it to prodline.core.roles.PERMISSIONS."
        ) from None


def is_allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action``."""
    return role in allowed_roles(action)


def role_needed(action: str) -> str:
    """The role(s) needed for ``action`` in words, for a ``Forbidden`` message.

    The non-admin roles come first (what one would ask for), then admin in parentheses.
    """
    roles = [r for r in ROLES if r in allowed_roles(action)]
    others = [r for r in roles if r != "admin"]
    if not others:
        return "admin"
    text = " or ".join(others)
    return f"{text} (or admin)" if "admin" in roles else text
