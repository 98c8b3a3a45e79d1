"""Names, ``NAME@REF`` references and lineage node ids: one set of limits for every part.

Datasets, models, aliases, knowledge bases and providers all take names of the same
shape: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most
200 characters. A reference adds an optional ``@REF`` (a version number, an alias or
``latest``). Lineage nodes are ``kind:name@ref`` strings.

Examples
--------
>>> check_name("Dataset", "german-credit")
'german-credit'
>>> parse_ref("credit-risk@production")
('credit-risk', 'production')
>>> parse_ref("credit-risk")
('credit-risk', None)
>>> node("model", "credit-risk", 2)
'model:credit-risk@2'
>>> parse_node("model:credit-risk@2")
('model', 'credit-risk', '2')
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prodline.errors import InvalidInput

__all__ = [
    "MAX_NAME_LENGTH",
    "NAME_PATTERN",
    "check_name",
    "is_valid_name",
    "node",
    "parse_node",
    "parse_ref",
    "version_span",
]

MAX_NAME_LENGTH = 200
NAME_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}"
_NAME = re.compile(NAME_PATTERN)
_RULE = (
    f"use letters, digits, '.', '_' or '-' (up to {MAX_NAME_LENGTH}, "
    "starting with a letter or digit)"
)


def is_valid_name(name: object) -> bool:
    """Whether ``name`` is a string that :func:`check_name` accepts."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid name for a ``kind`` ("Dataset", "Model", ...).

    Raises
    ------
    InvalidInput
        With ``field="name"``, naming the rule, when ``name`` is not valid.
    """
    if not is_valid_name(name):
        raise InvalidInput(f"{kind} name '{name}' is not valid; {_RULE}.", field="name")
    return name


def parse_ref(ref: str, *, what: str = "", need_ref: bool = False) -> tuple[str, str | None]:
    """Split ``NAME@REF`` into ``(NAME, REF)``; ``REF`` is ``None`` when absent.

    Parameters
    ----------
    ref : str
        ``NAME`` or ``NAME@REF``.
    what : str
        How messages name the thing referred to ("model", "dataset").
    need_ref : bool
        Refuse a bare ``NAME``.

    Raises
    ------
    InvalidInput
        If the name is empty, ``@`` has nothing after it or appears twice, or
        ``need_ref`` is set and there is no ``@REF``.
    """
    name, sep, rest = str(ref).partition("@")
    if not name or (sep and not rest) or "@" in rest:
        thing = f"{what} reference" if what else "reference"
        raise InvalidInput(f"'{ref}' is not a valid {thing}; write NAME or NAME@REF.")
    if need_ref and not rest:
        raise InvalidInput(
            f"'{ref}' needs a version or alias: write {name}@1 or {name}@production."
        )
    return name, rest or None


def node(kind: str, name: str, ref: str | int) -> str:
    """Build a lineage node id, e.g. ``node("model", "credit-risk", 2)``."""
    return f"{kind}:{name}@{ref}"


def parse_node(node_id: str) -> tuple[str, str, str]:
    """Split a lineage node id ``kind:name@ref`` into ``(kind, name, ref)``.

    Raises
    ------
    InvalidInput
        If ``node_id`` lacks the ``kind:`` prefix or the ``@ref`` suffix.
    """
    kind, sep, rest = node_id.partition(":")
    name, at, ref = rest.rpartition("@")
    if not (kind and sep and name and at and ref):
        raise InvalidInput(
            f"'{node_id}' is not a lineage node id; write kind:name@ref, e.g. model:credit-risk@2."
        )
    return kind, name, ref


def version_span(numbers: Sequence[int]) -> str:
    """Version numbers as a reader wants them in a message: a range, one, or a list.

    A range is joined by an en dash (``1`` to ``6``); gaps are listed with commas.

    >>> version_span([1, 2, 3]) == "1\u20133", version_span([3]), version_span([1, 4, 5])
    (True, '3', '1, 4, 5')
    """
    if list(numbers) == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
    return ", ".join(map(str, numbers))
