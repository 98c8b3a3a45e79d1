"""``prodline kb``: relative sources, an ingest that reads nothing, a missing extra."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]
pytestmark = pytest.mark.slow


def test_sources_are_relative_and_kb_remove_takes_them(cli: CLI, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days.\n")
    (docs / "guides" / "setup.rst").write_text("Setup\n=====\n\nRun :command:`shop init`.\n")
    assert cli("init").code == 0
    assert cli("kb", "create", "support", "--owner", "support-team").code == 0
    r = cli("kb", "ingest", "support", str(docs), "--json")
    assert r.code == 0, r.err
    assert sorted(json.loads(r.out)["added"]) == ["docs/guides/setup.rst", "docs/refunds.md"]
    hits = json.loads(cli("kb", "search", "support", "shop init", "-k", "1", "--json").out)
    assert hits[0]["source"] == "docs/guides/setup.rst" and "Run shop init." in hits[0]["text"]
    r = cli("kb", "remove", "support", "docs/refunds.md")
    assert r.code == 0 and "removed 1 chunks of docs/refunds.md" in r.out
    r = cli("kb", "remove", "support", str(docs / "guides" / "setup.rst"))  # a path works too
    assert r.code == 0, r.err
    assert json.loads(cli("kb", "show", "support", "--json").out)["source_list"] == []


def test_an_ingest_that_reads_nothing_exits_1_with_a_hint(cli: CLI, tmp_path: Path) -> None:
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "deck.pptx").write_bytes(b"PK\x03\x04 slides")
    (slides / "logo.png").write_bytes(b"\x89PNG\r\n")
    assert cli("init").code == 0
    assert cli("kb", "create", "support", "--owner", "support-team").code == 0
    r = cli("kb", "ingest", "support", str(slides))
    assert r.code == 1
    assert "unsupported file type .pptx" in r.out
    assert "nothing ingested: all 2 files were skipped" in r.out and ".docx" in r.out
    assert cli("kb", "ingest", "support", str(slides), "--json").code == 1


def test_a_missing_extra_is_one_line_at_kb_create(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "bm25s" else real(name, *args)  # type: ignore[arg-type]

    assert cli("init").code == 0
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    r = cli("kb", "create", "support", "--owner", "support-team")
    assert r.code == 2
    assert r.err.strip() == (
        "error: A knowledge base needs the rag extra (bm25s not installed): "
        "pip install 'prodline[rag]'"
    )
    assert "Traceback" not in r.err + r.out
