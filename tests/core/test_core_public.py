"""The shared floor's public face: a sorted ``__all__`` and a docstring on every name."""

from __future__ import annotations

import importlib
import inspect

import pytest

import prodline.core

MODULES = ["refs", "schema", "sensitivity", "text"]


def test_package_all_is_sorted_and_complete() -> None:
    assert prodline.core.__all__ == sorted(prodline.core.__all__)
    for module in MODULES:
        for name in importlib.import_module(f"prodline.core.{module}").__all__:
            assert getattr(prodline.core, name) is not None, name


@pytest.mark.parametrize("module", MODULES)
def test_every_public_function_and_class_has_a_summary_line(module: str) -> None:
    mod = importlib.import_module(f"prodline.core.{module}")
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.getdoc(obj) or ""
            assert doc.split("\n")[0].strip(), f"{module}.{name} has no summary line"
