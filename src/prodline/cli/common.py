"""Shared CLI plumbing: consoles, opening the workspace, tables, JSON, refs and pairs.

Everything heavy is imported where a command needs it: ``prodline --help`` and the
list/show commands must not pay for scikit-learn, onnxruntime or torch.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console

from prodline.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from prodline.config import Settings
    from prodline.workspace import Workspace

__all__ = [
    "console",
    "current_console",
    "err_console",
    "open_workspace",
    "parse_pairs",
    "print_json",
    "print_table",
    "split_ref",
    "workspace_exists",
]

# Environment variables that change how a console renders, read when it is created.
_CONSOLE_ENV = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES", "TTY_COMPATIBLE")


class _LazyConsole:
    """A Rich console made on first use and remade when its stream or settings change.

    A console decides on colours and width when it is created; one made at import
    would keep the decision of whatever terminal imported the module (a test that
    sets ``NO_COLOR`` afterwards would still get colour codes). This one reads the
    stream and the environment at call time.
    """

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._key: tuple[Any, ...] | None = None
        self._console: Console | None = None

    def get(self) -> Console:
        """The console for the current stream and environment."""
        stream = sys.stderr if self._stderr else sys.stdout
        key = (id(stream), *(os.environ.get(name) for name in _CONSOLE_ENV))
        if self._console is None or key != self._key:
            self._console = Console(stderr=self._stderr)
            self._key = key
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


_stdout = _LazyConsole(stderr=False)
console = cast(Console, _stdout)
err_console = cast(Console, _LazyConsole(stderr=True))


def current_console() -> Console:
    """The stdout console itself, for Rich objects that hold on to one (progress bars)."""
    return _stdout.get()


# What a workspace leaves in its home folder; any one of them means "a workspace is here".
_WORKSPACE_MARKERS = ("prodline.db", "keys", "prodline.toml", "audit.anchor")


def workspace_exists(settings: Settings) -> bool:
    """Whether ``settings.home`` holds a workspace (made by ``init``, ``demo`` or the SDK)."""
    home = settings.home
    return home.is_dir() and any((home / marker).exists() for marker in _WORKSPACE_MARKERS)


def open_workspace(*, create: bool = False) -> Workspace:
    """Open the workspace the environment names; refuse a missing one unless ``create``.

    ``Workspace.open()`` creates a workspace on first use, which is right for the SDK
    but wrong for a mistyped ``PRODLINE_HOME``: the CLI would quietly start an empty
    workspace with its own audit key. Only ``prodline init`` and ``prodline demo``
    create.

    Raises
    ------
    NotFound
        If no workspace is at the configured home and ``create`` is false.
    """
    from prodline.config import Settings
    from prodline.workspace import Workspace

    settings = Settings.load()
    if not create and not workspace_exists(settings):
        raise NotFound(
            f"No prodline workspace at {settings.home}; run `prodline init` to create it "
            "there, or set PRODLINE_HOME to an existing workspace.",
            home=str(settings.home),
        )
    return Workspace.open(settings.home)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON (dates and other objects as strings)."""
    console.print_json(json.dumps(data, default=str))


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, markup: bool = False
) -> None:
    """Print one table: every list and show command renders through here.

    Cells are shown as text (``None`` as ``-``); with ``markup`` they may carry Rich
    markup such as ``[red]phi[/]``, otherwise brackets print as typed.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells = ["-" if cell is None else str(cell) for cell in row]
        table.add_row(*(cells if markup else [Text(cell) for cell in cells]))
    console.print(table)


def split_ref(ref: str, *, what: str, need_ref: bool = False) -> tuple[str, str | None]:
    """``NAME@REF`` → (NAME, REF); REF is None when absent."""
    name, sep, rest = ref.partition("@")
    if not name or (sep and not rest) or "@" in rest:
        raise InvalidInput(f"'{ref}' is not a valid {what} reference; write NAME or NAME@REF.")
    if need_ref and not rest:
        raise InvalidInput(
            f"'{ref}' needs a version or alias: write {name}@1 or {name}@production."
        )
    return name, rest or None


def parse_pairs(pairs: list[str], *, flag: str, numeric: bool = False) -> dict[str, Any]:
    """``["k=v", ...]`` → ``{"k": "v"}`` (values as floats with ``numeric``)."""
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
