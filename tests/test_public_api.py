"""The public surface: sorted ``__all__`` everywhere, one error tree, one status table."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import prodline
from prodline import errors

PACKAGES = [
    "prodline",
    "prodline.store",
    "prodline.ledger",
    "prodline.data",
    "prodline.models",
    "prodline.models.flavors",
    "prodline.serving",
    "prodline.serving.rag",
    "prodline.rag",
    "prodline.rag.index",
    "prodline.llm",
    "prodline.monitor",
    "prodline.review",
    "prodline.api",
    "prodline.ui",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


def test_every_error_has_a_code_and_an_http_status() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.ProdlineError)
    ]
    assert len(classes) >= 8
    for cls in classes:
        assert cls.code in errors.HTTP_STATUS, cls
        body = cls("Thing 'x' is wrong; fix it.", field="x").to_dict()
        assert body == {
            "error": {
                "code": cls.code,
                "message": "Thing 'x' is wrong; fix it.",
                "details": {"field": "x"},
            }
        }
    assert errors.HTTP_STATUS["not_found"] == 404 and errors.HTTP_STATUS["conflict"] == 409


def test_every_module_imports() -> None:
    for info in pkgutil.walk_packages(prodline.__path__, "prodline."):
        if ".migrations" in info.name:
            continue
        importlib.import_module(info.name)
