"""Shared CLI plumbing: opening the workspace, printing JSON, parsing refs and pairs."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from prodline.core.refs import parse_ref
from prodline.errors import InvalidInput
from prodline.workspace import Workspace

__all__ = ["console", "err_console", "open_workspace", "parse_pairs", "print_json", "split_ref"]

console = Console()
err_console = Console(stderr=True)


def open_workspace() -> Workspace:
    return Workspace.open()


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def split_ref(ref: str, *, what: str, need_ref: bool = False) -> tuple[str, str | None]:
    """``NAME@REF`` → (NAME, REF); REF is None when absent."""
    return parse_ref(ref, what=what, need_ref=need_ref)


def parse_pairs(pairs: list[str], *, flag: str, numeric: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{flag} '{pair}' must look like key=value.", field=flag)
        if numeric:
            try:
                out[key] = float(value)
            except ValueError as exc:
                raise InvalidInput(
                    f"{flag} '{pair}': '{value}' is not a number.", field=flag
                ) from exc
        else:
            out[key] = value
    return out
