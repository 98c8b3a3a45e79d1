"""Every docstring example in ``src/prodline`` runs, so the docs cannot rot.

Modules are found by their source (a line starting with ``>>>``), imported in the test, and
run through :mod:`doctest` with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``. An example
that cannot run offline says so with ``# doctest: +SKIP`` in its own docstring.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PROMPT = re.compile(r"^\s*>>> ", re.MULTILINE)  # an example line, not ">>>" in code
MODULES = sorted(
    ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for path in (SRC / "prodline").rglob("*.py")
    if PROMPT.search(path.read_text(encoding="utf-8"))
)


def test_modules_with_examples_are_found() -> None:
    assert "prodline.workspace" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODLINE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no doctest was found"
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    failures: list[str] = []
    for test in tests:
        runner.run(test, out=failures.append)
    assert not failures, "".join(failures)
