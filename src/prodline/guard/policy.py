"""What each guard does when it fires: the ``[guard]`` table of ``prodline.toml``.

Four guards act on a served request; each has one action, and a route (``chat`` or
``retrieve``) may override it:

==============  ===========================================  ==========================
guard           fires when                                   actions (default first)
==============  ===========================================  ==========================
``injection``   the input guard's verdict on the question    block, flag, off
                is ``block`` (a ``flag`` verdict is only
                ever flagged)
``pii_output``  the answer holds PII that is neither in the  redact, block, flag, off
                user's messages nor in the cited context
``prompt_leak`` the answer holds the request's canary token  block, flag, off
                or a long verbatim run of the system prompt
``groundedness`` the answer is flagged as ungrounded          flag, block, off
                (the server's ``--threshold``)
==============  ===========================================  ==========================

``block`` answers HTTP 400 with an OpenAI-style error naming the guard and why;
``redact`` replaces the leaked values with ``[REDACTED EMAIL]``-style marks; ``flag``
lets the answer out and records the event (call log, audit, ``/metrics``) for review.

Example ``prodline.toml``::

    [guard]
    fail_open = false          # guard model missing or corrupt: refuse to start
    [guard.actions]
    injection = "block"
    pii_output = "redact"
    [guard.routes.retrieve]
    injection = "flag"         # searching for attack text is how analysts find it

>>> policy = parse_guard_policy({"actions": {"groundedness": "block"}})
>>> policy.action("groundedness", "chat"), policy.action("injection", "retrieve")
('block', 'block')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from prodline.config import toml_table
from prodline.errors import InvalidInput

__all__ = [
    "ACTIONS",
    "DEFAULT_ACTIONS",
    "GUARDS",
    "ROUTES",
    "GuardPolicy",
    "load_guard_policy",
    "parse_guard_policy",
]

ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "injection": ("block", "flag", "off"),
        "pii_output": ("redact", "block", "flag", "off"),
        "prompt_leak": ("block", "flag", "off"),
        "groundedness": ("flag", "block", "off"),
    }
)
"""The actions each guard takes; the first is its default."""

GUARDS = tuple(ACTIONS)
ROUTES = ("chat", "retrieve")
DEFAULT_ACTIONS: Mapping[str, str] = MappingProxyType({g: a[0] for g, a in ACTIONS.items()})
_KEYS = ("actions", "canary", "fail_open", "input", "model", "routes")


@dataclass(frozen=True)
class GuardPolicy:
    """The guards' settings for one server (validated; see the module docstring).

    Parameters
    ----------
    input : bool
        Scan user prompts for injection and jailbreaks at all.
    fail_open : bool
        When the guard model is missing or corrupt, serve with the rules alone instead of
        refusing to start (the choice is logged and audited).
    model : str
        Path of a guard model manifest; empty for the one shipped with prodline.
    canary : bool
        Put a per-request canary token in the system prompt and watch answers for it.
    actions : Mapping[str, str]
        Guard name to action.
    routes : Mapping[str, Mapping[str, str]]
        Per-route overrides of ``actions``.
    """

    input: bool = True
    fail_open: bool = False
    model: str = ""
    canary: bool = True
    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    routes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def action(self, guard: str, route: str) -> str:
        """The action ``guard`` takes on ``route`` (the route's override, else the default)."""
        override = self.routes.get(route, {})
        return override.get(guard) or self.actions.get(guard) or DEFAULT_ACTIONS[guard]

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data, for the server's start record and ``/healthz``."""
        return {
            "input": self.input,
            "fail_open": self.fail_open,
            "model": self.model,
            "canary": self.canary,
            "actions": dict(self.actions),
            "routes": {r: dict(a) for r, a in self.routes.items()},
        }


def load_guard_policy(home: Path) -> GuardPolicy:
    """Read ``[guard]`` from ``<home>/prodline.toml``; the defaults when absent.

    Raises
    ------
    InvalidInput
        The file is not TOML, or a key under ``[guard]`` is wrong; the message names it.
    """
    return parse_guard_policy(toml_table(home, "guard"))


def parse_guard_policy(section: Any) -> GuardPolicy:
    """Validate a parsed ``[guard]`` table into a :class:`GuardPolicy`."""
    if not isinstance(section, dict):
        raise InvalidInput("guard must be a table ([guard]).", key="guard")
    _known(section, _KEYS, "guard")
    flags = {k: _bool(section, k) for k in ("input", "fail_open", "canary")}
    model = section.get("model", "")
    if not isinstance(model, str):
        raise InvalidInput("guard.model must be a path (a string).", key="guard.model")
    actions = {**DEFAULT_ACTIONS, **_actions(section.get("actions", {}), "guard.actions")}
    routes_raw = section.get("routes", {})
    if not isinstance(routes_raw, dict):
        raise InvalidInput(
            "guard.routes must be a table of [guard.routes.ROUTE].", key="guard.routes"
        )
    _known(routes_raw, ROUTES, "guard.routes")
    routes = {r: _actions(t, f"guard.routes.{r}") for r, t in routes_raw.items()}
    return GuardPolicy(model=model, actions=actions, routes=routes, **flags)


def _actions(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise InvalidInput(f'{where} must be a table of GUARD = "ACTION".', key=where)
    _known(table, GUARDS, where)
    out: dict[str, str] = {}
    for guard, action in table.items():
        allowed = ACTIONS[guard]
        if action not in allowed:
            raise InvalidInput(
                f"{where}.{guard} must be one of {', '.join(allowed)}; got {action!r}.",
                key=f"{where}.{guard}",
            )
        out[guard] = action
    return out


def _bool(section: dict[str, Any], key: str) -> bool:
    default = getattr(GuardPolicy, key)
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"guard.{key} must be true or false.", key=f"guard.{key}")
    return value


def _known(table: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise InvalidInput(
            f"{where}.{unknown[0]} is not a known key; use {', '.join(keys)}.",
            key=f"{where}.{unknown[0]}",
        )
