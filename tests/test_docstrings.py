"""Every public name has a docstring: each exported class and function, and each public
method, property, classmethod and staticmethod a public class defines.

An override counts as documented when its base documents the name
(:func:`inspect.getdoc` inherits). A dataclass's generated ``Name(field: type, ...)``
text is not a docstring. The test lists every missing ``module.Class.method`` at once.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import types

from test_public_api import PACKAGES  # tests/ is on sys.path (rootdir-relative import)

MODULES = [*PACKAGES, "prodline.core"]

_MEMBER_KINDS = (
    types.FunctionType,
    property,
    classmethod,
    staticmethod,
    functools.cached_property,
)


def _has_doc(obj: object) -> bool:
    doc = inspect.getdoc(obj)
    return bool(doc and doc.strip())


def _class_has_doc(cls: type) -> bool:
    doc = cls.__doc__
    # dataclasses fill a missing docstring with the signature, ``Name(a: int, ...)``.
    if doc is not None and doc.startswith(f"{cls.__name__}("):
        return False
    return _has_doc(cls)


def _exported() -> dict[int, tuple[str, object]]:
    """Each exported class or function once, named where it is defined."""
    found: dict[int, tuple[str, object]] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for export in module.__all__:
            obj = getattr(module, export)  # also loads lazily exported names
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.setdefault(id(obj), (f"{obj.__module__}.{obj.__qualname__}", obj))
    return found


def _missing() -> list[str]:
    missing: list[str] = []
    for where, obj in _exported().values():
        if inspect.isclass(obj):
            if not _class_has_doc(obj):
                missing.append(where)
            for attr, raw in vars(obj).items():
                if attr.startswith("_") or not isinstance(raw, _MEMBER_KINDS):
                    continue
                if not _has_doc(getattr(obj, attr)):
                    missing.append(f"{where}.{attr}")
        elif not _has_doc(obj):
            missing.append(where)
    return sorted(missing)


def test_exports_are_found_including_lazy_ones() -> None:
    names = {where for where, _ in _exported().values()}
    assert "prodline.workspace.Workspace" in names
    assert "prodline.data.datasets.DatasetVersion" in names  # lazy in prodline.__all__
    assert any(name.startswith("prodline.core.") for name in names)


def test_every_public_name_has_a_docstring() -> None:
    missing = _missing()
    assert not missing, f"{len(missing)} public names lack a docstring:\n" + "\n".join(missing)


def test_a_generated_dataclass_docstring_does_not_count() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Bare:
        x: int

    @dataclasses.dataclass
    class Documented:
        """A point on a line."""

        x: int

    assert not _class_has_doc(Bare)
    assert _class_has_doc(Documented)
