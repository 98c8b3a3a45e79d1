"""Lazy package exports: names whose modules pull heavy libraries load on first use.

A package that re-exports, say, a DataFrame-returning reader would otherwise import
pandas and pyarrow for every command that touches the package. With
``__getattr__ = lazy_exports(__name__, {"Name": "package.module"}, globals())`` the
module is imported the first time ``package.Name`` is asked for, and cached.

Examples
--------
>>> ns: dict[str, object] = {}
>>> getter = lazy_exports("demo", {"sqrt": "math"}, ns)
>>> getter("sqrt")(9.0), "sqrt" in ns
(3.0, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and caches the name."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
