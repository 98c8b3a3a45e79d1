"""The ``[server]`` table of ``prodline.toml``: limits both servers enforce (``hardening``).

::

    [server]
    max_body_bytes = 1048576      # 413 past it (model server: 16 MiB, batches are rows)
    max_json_depth = 32           # 400 past it
    rate_limit_per_min = 600      # per token or client address; 0 = off (model server: off)
    max_concurrent = 64           # requests in flight; 503 past it; 0 = off (model: 256)
    timeout_s = 30                # 504 when no answer has started; 0 = off
    chat_timeout_s = 60           # the same for POST /v1/chat/completions

A key left out takes the server's default (:data:`DEFAULTS`); an unknown key, or a value
of the wrong type or range, is refused when the server starts, naming the key.
``prodline serve`` flags (``--max-body-bytes``, ``--rate-limit``, ``--max-concurrent``,
``--timeout``) override the table.

Example
-------
>>> ServerLimits.from_table({"rate_limit_per_min": 0}, server="rag").rate_limit_per_min
0
>>> ServerLimits.from_table({}, server="model").max_concurrent
256
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from prodline.config import toml_table
from prodline.errors import InvalidInput

__all__ = ["DEFAULTS", "ServerKind", "ServerLimits"]

ServerKind = Literal["model", "rag"]
MIB = 1 << 20


@dataclass(frozen=True)
class ServerLimits:
    """What a server refuses before a request reaches a route (see ``hardening``).

    Parameters
    ----------
    max_body_bytes
        Request bodies larger than this are refused with 413 without being read.
    max_json_depth
        JSON bodies nesting arrays and objects deeper than this are refused with 400.
    rate_limit_per_min
        Requests per minute per bearer token (``--auth token``) or client address, with
        bursts up to the same number; 429 with ``Retry-After`` past it. 0 turns it off.
    max_concurrent
        Requests in flight at once (probes and ``/metrics`` aside); 503 with
        ``Retry-After: 1`` past it. 0 turns it off.
    timeout_s
        Seconds a route has to start its answer; 504 after. 0 turns it off.
    chat_timeout_s
        The same for ``POST /v1/chat/completions`` (an LLM answers it).
    enabled
        False serves without this layer at all (no limits, no security headers); only
        for benchmarks or behind a gateway doing the same.
    """

    max_body_bytes: int = MIB
    max_json_depth: int = 32
    rate_limit_per_min: int = 600
    max_concurrent: int = 64
    timeout_s: float = 30.0
    chat_timeout_s: float = 60.0
    enabled: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, getattr(self, f.name))

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], *, server: ServerKind, where: str = "[server]"
    ) -> ServerLimits:
        """The limits of a ``server`` from a ``[server]`` table (missing keys: defaults).

        Raises
        ------
        InvalidInput
            An unknown key (the valid ones are listed) or a bad value, naming the key.
        """
        valid = [f.name for f in fields(cls)]
        for key in table:
            if key not in valid:
                raise InvalidInput(
                    f"{where}: unknown key '{key}'; valid keys: {', '.join(valid)}.",
                    field=f"server.{key}",
                    valid=valid,
                )
        return cls(**{**DEFAULTS[server], **table})

    @classmethod
    def load(cls, home: Path, *, server: ServerKind, **overrides: Any) -> ServerLimits:
        """The limits from ``home/prodline.toml`` (``[server]`` or ``[prodline.server]``),
        then ``overrides`` that are not None (command-line flags).

        Raises
        ------
        InvalidInput
            Not valid TOML, ``[server]`` not a table, an unknown key or a bad value.
        """
        path = home / "prodline.toml"
        table = toml_table(home, "server")
        if not isinstance(table, dict):
            raise InvalidInput(
                f"'{path}': [server] must be a table, e.g. [server] on its own line."
            )
        limits = cls.from_table(table, server=server, where=f"'{path}' [server]")
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(limits, **given) if given else limits


DEFAULTS: dict[ServerKind, dict[str, Any]] = {
    # Predictions come from services at thousands a second, in batches of rows: no rate
    # limit by default, a cap sized for micro-batching, and 16 MiB bodies (as before).
    "model": {"max_body_bytes": 16 * MIB, "rate_limit_per_min": 0, "max_concurrent": 256},
    # Each chat request costs retrieval and an LLM call: 600 a minute per client is far
    # above a person or a UI and still stops one client from filling the logs and disk.
    "rag": {"max_body_bytes": MIB, "rate_limit_per_min": 600, "max_concurrent": 64},
}

_MINIMUM: dict[str, float] = {
    "max_body_bytes": 1024,
    "max_json_depth": 2,
    "rate_limit_per_min": 0,
    "max_concurrent": 0,
    "timeout_s": 0,
    "chat_timeout_s": 0,
}


def _check(key: str, value: Any) -> None:
    if key == "enabled":
        if not isinstance(value, bool):
            raise InvalidInput(f"[server] {key} must be true or false, got {value!r}.", field=key)
        return
    number = int if key not in ("timeout_s", "chat_timeout_s") else (int, float)
    if isinstance(value, bool) or not isinstance(value, number):
        kind = "a whole number" if number is int else "a number of seconds"
        raise InvalidInput(f"[server] {key} must be {kind}, got {value!r}.", field=key)
    low = _MINIMUM[key]
    if value < low:
        off = " (0 turns it off)" if low == 0 else ""
        raise InvalidInput(
            f"[server] {key} must be at least {low:g}{off}, got {value!r}.", field=key
        )
