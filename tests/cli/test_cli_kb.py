"""``prodline kb`` commands and their one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]
pytestmark = pytest.mark.slow


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days.\n")
    (folder / "contact.md").write_text(
        "# Contact\n\nWrite to Anna Berg at anna.berg@example.com about invoices.\n"
    )
    (folder / "image.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    return folder


def test_kb_commands(cli: CLI, docs: Path) -> None:
    assert cli("init").code == 0
    r = cli("kb", "create", "support", "--owner", "support-team", "--json")
    assert r.code == 0 and json.loads(r.out)["owner"] == "support-team"
    r = cli("kb", "ingest", "support", str(docs), "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert len(report["added"]) == 2 and report["version"] == 1
    assert [Path(s["source"]).name for s in report["skipped"]] == ["image.pdf"]
    r = cli("kb", "ingest", "support", str(docs))
    assert r.code == 0 and "2 unchanged" in r.out and "skipped" in r.out
    shown = json.loads(cli("kb", "show", "support", "--json").out)
    assert shown["chunks"] >= 2 and shown["sources"] == 2 and shown["version"] == 1
    contact = next(s for s in shown["source_list"] if s["source"].endswith("contact.md"))
    assert contact["sensitivity"] == "pii" and "email" in contact["kinds"]
    assert "support" in cli("kb", "list").out
    assert json.loads(cli("kb", "list", "--json").out)[0]["name"] == "support"
    hits = json.loads(cli("kb", "search", "support", "refund window", "-k", "1", "--json").out)
    assert "14 days" in hits[0]["text"]
    r = cli("kb", "search", "support", "invoices", "--clearance", "none", "--json")
    assert all(h["sensitivity"] == "none" for h in json.loads(r.out))
    assert "Refunds" in cli("kb", "search", "support", "refund").out
    r = cli("kb", "remove", "support", str(docs / "refunds.md"))
    assert r.code == 0 and "removed" in r.out
    assert json.loads(cli("kb", "show", "support", "--json").out)["version"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("kb", "show", "nope"), "Knowledge base 'nope' does not exist"),
        (("kb", "create", "support", "--owner", "x"), "already exists"),
        (("kb", "search", "support", ""), "query is empty"),
        (("kb", "search", "support", "q", "-k", "0"), "k must be between 1 and 100"),
        (("kb", "search", "support", "q", "--filter", "colour=red"), "Unknown filter field"),
        (("kb", "search", "support", "q", "--filter", "owner"), "key=value"),
        (("kb", "ingest", "support", "/no/such/dir"), "not found"),
        (("kb", "remove", "support", "/no/file.md"), "has no source"),
        (("serve", "rag"), "Name the knowledge base"),
        (("serve", "rag", "nope"), "Knowledge base 'nope' does not exist"),
    ],
)
def test_kb_mistakes_are_one_line_exit_2(cli: CLI, args: tuple[str, ...], message: str) -> None:
    assert cli("init").code == 0
    assert cli("kb", "create", "support", "--owner", "x").code == 0
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert message in r.err and "Traceback" not in r.err
