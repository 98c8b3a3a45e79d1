"""Ingest never leaves the folder it is given unless told to (``follow_symlinks``).

A file symlink inside the folder pointing outside it (``/etc/passwd`` in the report that
found this) is skipped with the reason; ``prune`` removes what an earlier ingest took
through such a link; with ``follow_symlinks`` the file is kept under the link's path, so
removing the link and pruning removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from prodline.rag.documents import iter_documents
from prodline.rag.types import Document, Skipped
from prodline.workspace import Workspace

pytestmark = pytest.mark.slow

SECRET = "The root password is hunter2 and the vault code is 7351."


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """``docs/`` with one real file, a link inside it and a link to ``outside/secret.md``."""
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    docs.mkdir()
    outside.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days.\n")
    (outside / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    (docs / "also-refunds.md").symlink_to(docs / "refunds.md")
    (docs / "passwd.md").symlink_to(outside / "secret.md")
    return docs, outside / "secret.md"


def test_the_walk_skips_symlinks_out_of_the_folder_saying_why(tree: tuple[Path, Path]) -> None:
    docs, secret = tree
    results = list(iter_documents([docs]))
    loaded = [r for r in results if isinstance(r, Document)]
    skipped = [r for r in results if isinstance(r, Skipped)]
    assert [Path(d.source).name for d in loaded] == ["refunds.md"]  # the inner link: once
    assert [s.source for s in skipped] == [str(docs / "passwd.md")]
    assert str(secret) in skipped[0].reason and "--follow-symlinks" in skipped[0].reason
    followed = [r for r in iter_documents([docs], follow_symlinks=True) if isinstance(r, Document)]
    assert sorted(d.source for d in followed) == [str(docs / "passwd.md"), str(docs / "refunds.md")]
    assert SECRET in followed[0].sections[0].text or SECRET in followed[1].sections[0].text


def test_ingest_skips_prunes_and_follows_only_when_told(
    make_ws: Callable[..., Workspace], tree: tuple[Path, Path]
) -> None:
    docs, secret = tree
    ws = make_ws()
    ws.kbs.create("kb", owner="support")

    def sources() -> list[str]:
        return sorted(s["source"] for s in ws.kbs.sources("kb"))

    report = ws.kbs.ingest("kb", [docs])
    assert sources() == ["docs/refunds.md"]
    assert [s for s, _ in report.skipped] == [str(docs / "passwd.md")]
    assert not ws.kbs.search("kb", "root password vault code", k=3, mode="bm25")

    ws.kbs.ingest("kb", [secret])  # as an ingest before this fix recorded it: the target
    _store_absolute(ws, "secret.md", str(secret))  # ... under its absolute path, back then
    assert str(secret) in sources()
    pruned = ws.kbs.ingest("kb", [docs], prune=True)
    assert pruned.removed == [str(secret)]
    assert sources() == ["docs/refunds.md"]

    followed = ws.kbs.ingest("kb", [docs], follow_symlinks=True)
    assert followed.added == ["docs/passwd.md"]
    assert SECRET in ws.kbs.search("kb", "root password vault code", k=1, mode="bm25")[0].text
    (docs / "passwd.md").unlink()
    gone = ws.kbs.ingest("kb", [docs], prune=True)
    assert gone.removed == ["docs/passwd.md"]
    assert sources() == ["docs/refunds.md"]


def _store_absolute(ws: Workspace, source: str, absolute: str) -> None:
    """Rename a stored source to its absolute path, as ingests before relative names did."""
    from prodline.store.tables import kb_sources

    with ws.tx() as conn:
        conn.execute(
            kb_sources.update().where(kb_sources.c.source == source).values(source=absolute)
        )
