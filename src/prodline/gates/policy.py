"""Promotion policies: one YAML file per risk level, shipped defaults plus workspace overrides.

A policy says which aliases are protected (``production`` by default) and which checks a
model version needs, with their thresholds, before it may hold one. The shipped files
live in ``prodline/gates/policies/{minimal,limited,high}.yaml``; a workspace overrides
them with ``$PRODLINE_HOME/policies/<level>.yaml``, whose keys merge over the shipped
ones (``checks.<name>`` merges key by key; ``checks.<name>: null`` drops that check).
Every key is validated: an unknown one is named with the keys that are allowed, so a
typo such as ``min_group_sise`` cannot silently weaken a gate.

A loaded :class:`Policy` is an immutable snapshot with a ``version``: the sha256 of its
canonical JSON. A promotion decides against one snapshot and records its version, so a
policy file edited while a promotion is in flight cannot mix two policies in one
decision.

Examples
--------
>>> import tempfile
>>> policy = load_policy("high", tempfile.mkdtemp())
>>> policy.protected("production"), sorted(policy.checks)[:2]
(True, ['evaluation', 'fairness'])
>>> load_policy("minimal", tempfile.mkdtemp()).checks
{}
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from prodline.errors import InvalidInput

__all__ = ["CHECKS", "LEVELS", "Policy", "load_kb_policy", "load_policy", "policy_files"]

LEVELS = ("minimal", "limited", "high")
"""Risk levels, lowest first (the registry's ``RISK_LEVELS``)."""

_TOP_KEYS = {"level", "description", "protected_aliases", "checks"}

CHECKS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "evaluation": {
        "holdout": (str, type(None)),
        "target": (str, type(None)),
        "min": dict,
        "max": dict,
        "champion_tolerance": (int, float),
    },
    "fairness": {
        "attributes": list,
        "min_group_size": int,
        "max_demographic_parity_difference": (int, float),
        "max_equalized_odds_difference": (int, float),
        "min_disparate_impact_ratio": (int, float),
    },
    "poisoning": {"max_share": (int, float)},
    "sensitivity": {},
    "signoff": {"approvals": int},
}
"""Each check a policy may require, with the keys (and their types) it accepts."""

_DEFAULTS: dict[str, dict[str, Any]] = {
    "evaluation": {
        "holdout": None,
        "target": None,
        "min": {},
        "max": {},
        "champion_tolerance": 0.0,
    },
    "fairness": {
        "attributes": [],
        "min_group_size": 30,
        "max_demographic_parity_difference": 0.2,
        "max_equalized_odds_difference": 0.25,
        "min_disparate_impact_ratio": 0.8,
    },
    "poisoning": {"max_share": 0.05},
    "sensitivity": {},
    "signoff": {"approvals": 1},
}


@dataclass(frozen=True)
class Policy:
    """One risk level's effective policy: protected aliases and required checks."""

    level: str
    description: str
    protected_aliases: tuple[str, ...]
    checks: Mapping[str, Mapping[str, Any]] = field(hash=False)
    sources: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        """``level@`` + the first 12 hex digits of the sha256 of the canonical policy."""
        return f"{self.level}@{hashlib.sha256(self._canonical()).hexdigest()[:12]}"

    def protected(self, alias: str) -> bool:
        """Whether holding ``alias`` needs this policy's checks."""
        return alias in self.protected_aliases

    def _canonical(self) -> bytes:
        body = {
            "level": self.level,
            "protected_aliases": list(self.protected_aliases),
            "checks": self.checks,
        }
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``prodline gate policy --json``)."""
        return {
            "level": self.level,
            "version": self.version,
            "description": self.description,
            "protected_aliases": list(self.protected_aliases),
            "checks": {k: dict(v) for k, v in self.checks.items()},
            "sources": list(self.sources),
        }


def policy_files(level: str, home: str | os.PathLike[str]) -> tuple[str, Path]:
    """(the shipped YAML text, the workspace override path) for ``level``."""
    _check_level(level)
    shipped = resources.files("prodline.gates").joinpath("policies", f"{level}.yaml")
    return shipped.read_text(encoding="utf-8"), Path(home) / "policies" / f"{level}.yaml"


def load_policy(level: str, home: str | os.PathLike[str]) -> Policy:
    """The effective policy for ``level``: shipped defaults merged with the workspace's file.

    Raises
    ------
    InvalidInput
        An unknown level, unreadable YAML, or an unknown key or wrongly typed value in
        either file (named, with the keys allowed there).
    """
    text, override = policy_files(level, home)
    shipped_name = f"prodline/gates/policies/{level}.yaml"
    merged = _parse(text, shipped_name)
    sources = [shipped_name]
    if override.is_file():
        try:
            extra_text = override.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"Cannot read the policy file {override}: {exc.strerror}.") from exc
        extra = _parse(extra_text, str(override))
        merged = _merge(merged, extra)
        sources.append(str(override))
    where = " + ".join(sources)
    if merged.get("level", level) != level:
        raise InvalidInput(
            f"The policy in {where} says level '{merged['level']}' but is the file for "
            f"'{level}'; set `level: {level}` or move it to policies/{merged['level']}.yaml.",
            field="level",
        )
    checks: dict[str, dict[str, Any]] = {}
    for name, conf in (merged.get("checks") or {}).items():
        if conf is None:
            continue
        checks[name] = {**_DEFAULTS[name], **conf}
    aliases = merged.get("protected_aliases") or []
    if not all(isinstance(a, str) and a for a in aliases):
        raise InvalidInput(
            f"protected_aliases in {where} must be a list of alias names, got {aliases!r}.",
            field="protected_aliases",
        )
    return Policy(
        level=level,
        description=str(merged.get("description") or ""),
        protected_aliases=tuple(aliases),
        checks=checks,
        sources=tuple(sources),
    )


def load_kb_policy(home: str | os.PathLike[str]) -> tuple[str, ...]:
    """The protected knowledge bases (``policies/kb.yaml``: ``protected_kbs``; ``*`` = all).

    Raises
    ------
    InvalidInput
        An unknown key, or ``protected_kbs`` that is not a list of names.
    """
    import yaml

    shipped = resources.files("prodline.gates").joinpath("policies", "kb.yaml")
    override = Path(home) / "policies" / "kb.yaml"
    found: tuple[str, ...] = ()
    for where, text in (
        ("prodline/gates/policies/kb.yaml", shipped.read_text(encoding="utf-8")),
        (str(override), override.read_text(encoding="utf-8") if override.is_file() else None),
    ):
        if text is None:
            continue
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"The policy file {where} is not valid YAML: {exc}.") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"The policy file {where} must be a mapping of keys.")
        _unknown(data, {"description", "protected_kbs"}, where, "")
        names = data.get("protected_kbs", list(found))
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise InvalidInput(
                f'protected_kbs in {where} must be a list of knowledge-base names (or "*").',
                field="protected_kbs",
            )
        found = tuple(names)
    return found


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InvalidInput(
            f"Unknown risk level '{level}'; levels are {', '.join(LEVELS)}.", field="level"
        )


def _parse(text: str, where: str) -> dict[str, Any]:
    """Parse and validate one policy file (every key known, every value well typed)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"The policy file {where} is not valid YAML: {exc}.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"The policy file {where} must be a mapping of keys, got a list/text.")
    _unknown(data, _TOP_KEYS, where, "")
    if "protected_aliases" in data and not isinstance(data["protected_aliases"], list):
        raise InvalidInput(
            f"protected_aliases in {where} must be a list, e.g. [production].",
            field="protected_aliases",
        )
    checks = data.get("checks")
    if checks is None:
        return data
    if not isinstance(checks, dict):
        raise InvalidInput(f"checks in {where} must be a mapping of check names.", field="checks")
    _unknown(checks, set(CHECKS), where, "checks.")
    for name, conf in checks.items():
        if conf is None:
            continue
        if not isinstance(conf, dict):
            raise InvalidInput(
                f"checks.{name} in {where} must be a mapping (use {{}} for no settings, "
                "null to drop the check).",
                field=f"checks.{name}",
            )
        allowed = CHECKS[name]
        _unknown(conf, set(allowed), where, f"checks.{name}.")
        for key, value in conf.items():
            kinds = allowed[key]
            if isinstance(value, bool) or not isinstance(value, kinds):
                names = kinds if isinstance(kinds, tuple) else (kinds,)
                wanted = " or ".join("null" if k is type(None) else k.__name__ for k in names)
                raise InvalidInput(
                    f"checks.{name}.{key} in {where} must be {wanted}, got {value!r}.",
                    field=f"checks.{name}.{key}",
                )
            if isinstance(value, dict):
                bad = [
                    m
                    for m, t in value.items()
                    if isinstance(t, bool) or not isinstance(t, int | float)
                ]
                if bad:
                    raise InvalidInput(
                        f"checks.{name}.{key} in {where} maps metric names to numbers; "
                        f"{', '.join(map(str, bad))} is not a number.",
                        field=f"checks.{name}.{key}",
                    )
    return data


def _unknown(data: Mapping[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            f"Unknown policy key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(prefix + k for k in unknown)} in {where}; "
            f"allowed there: {', '.join(prefix + k for k in sorted(allowed)) or '(none)'}.",
            field=prefix + unknown[0],
        )


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if key == "checks" and isinstance(value, dict):
            checks = dict(out.get("checks") or {})
            for name, conf in value.items():
                if conf is None or checks.get(name) is None:
                    checks[name] = conf
                else:
                    checks[name] = {**checks[name], **conf}
            out["checks"] = checks
        else:
            out[key] = value
    return out
