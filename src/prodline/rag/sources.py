"""Where a knowledge base's sources are: names, resume state, and which are gone.

Helpers of ``ingest.py``: sources are stored relative to the ingest root
(``docs/faq.md``); older ingests stored absolute paths, which still match here.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from prodline.store.tables import kb_chunks, kb_sources

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["gone", "known_sources", "match_source", "source_names", "stored_ordinals"]


def gone(source: str, roots: Sequence[Path]) -> bool:
    """Whether ``source`` lies under one of ``roots`` and its file no longer exists."""
    resolved = [r.resolve() for r in roots]
    if Path(source).is_absolute():  # recorded before sources were relative
        for root in resolved:
            r = str(root)
            if source == r or source.startswith(r.rstrip("/") + "/"):
                return not Path(source).exists()
        return False
    for root in resolved:
        inside = root.is_dir() and source.startswith(f"{root.name}/")
        if inside and not (root / source[len(root.name) + 1 :]).exists():
            return True
    return False


def known_sources(ws: Workspace, kb_id: int) -> dict[str, tuple[str, int, int]]:
    """Each source's ``(sha256, chunk count recorded, chunk rows present)``."""
    present = (
        sa.select(sa.func.count())
        .select_from(kb_chunks)
        .where(kb_chunks.c.source_id == kb_sources.c.id)
        .scalar_subquery()
    )
    with ws.db.read() as conn:
        rows = conn.execute(
            sa.select(
                kb_sources.c.source, kb_sources.c.content_sha256, kb_sources.c.chunks, present
            ).where(kb_sources.c.kb_id == kb_id)
        ).all()
    return {r[0]: (r[1], int(r[2]), int(r[3])) for r in rows}


def stored_ordinals(ws: Workspace, kb_id: int, source: str) -> dict[int, str]:
    """The ordinals (and chunk hashes) of ``source`` already in the database."""
    with ws.db.read() as conn:
        rows = conn.execute(
            sa.select(kb_chunks.c.ordinal, kb_chunks.c.content_sha256)
            .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
            .where(kb_sources.c.kb_id == kb_id, kb_sources.c.source == source)
        ).all()
    return {int(r[0]): r[1] for r in rows}


def source_names(source: str) -> list[str]:
    """The names ``source`` may be stored under: as typed, normalised, absolute."""
    if source.startswith(("http://", "https://")):
        return [source]
    names = [source, Path(source).as_posix().removeprefix("./")]
    with suppress(OSError, RuntimeError):
        names.append(str(Path(source).resolve()))
    return list(dict.fromkeys(names))


def match_source(conn: sa.Connection, kb_id: int, names: list[str]) -> str | None:
    """The stored source ``names`` denote: an exact match, else the one relative source
    that the given path ends with (``/home/me/docs/faq.md`` finds ``docs/faq.md``)."""
    exact = conn.execute(
        sa.select(kb_sources.c.source).where(
            kb_sources.c.kb_id == kb_id, kb_sources.c.source.in_(names)
        )
    ).scalar()
    if exact is not None:
        return str(exact)
    absolute = names[-1]
    if not absolute.startswith("/"):
        return None
    candidates = [
        s
        for s in conn.execute(
            sa.select(kb_sources.c.source).where(kb_sources.c.kb_id == kb_id)
        ).scalars()
        if not s.startswith("/") and absolute.endswith("/" + s)
    ]
    return max(candidates, key=len) if candidates else None
