"""Sentence embeddings stored at ingest (``kb_sentences``): written with the chunks, gone
with them on replace and remove, and exactly the pieces chat embeds. Both metadata
backends; migration 0013 up and down with data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from alembic import command

from prodline.core.text import passage_sentences, split_sentences
from prodline.rag.sentences import sentence_texts, stored_vectors
from prodline.store.db import Database
from prodline.store.migrate import alembic_config
from prodline.store.tables import kb_chunks, kb_sentences, kb_sources
from prodline.workspace import Workspace

DOCS = {
    "refunds.md": "# Refunds\n\nRefunds are issued within 14 days of the request. "
    "Items must be unused and in the original packaging.\n\n## Exceptions\n\n"
    "Gift cards and downloadable software cannot be refunded.\n",
    "shipping.md": "# Shipping\n\nWe ship worldwide. Standard delivery takes 3 to 5 business "
    "days; express delivery arrives the next business day.\n",
}
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()


def _ingest(ws: Workspace, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (root / name).write_text(text)
    ws.kbs.create("support", owner="support-team")
    ws.kbs.ingest("support", [root])
    return root


def _rows(ws: Workspace) -> dict[int, int]:
    """Stored pieces per chunk id; asserts that none outlives its chunk."""
    with ws.db.read() as conn:
        chunks = set(conn.execute(sa.select(kb_chunks.c.id)).scalars())
        rows = conn.execute(sa.select(kb_sentences.c.chunk_id)).scalars().all()
    assert set(rows) <= chunks, "a stored sentence outlived its chunk"
    return {cid: rows.count(cid) for cid in chunks}


def _source_chunks(ws: Workspace, name: str) -> list[tuple[int, str]]:
    with ws.db.read() as conn:
        return [
            (int(r.id), r.text)
            for r in conn.execute(
                sa.select(kb_chunks.c.id, kb_chunks.c.text)
                .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
                .where(kb_sources.c.source.endswith(name))
            )
        ]


def test_sentence_texts_cover_what_the_answerer_and_the_scorer_embed() -> None:
    text = (
        "# Refunds\n\nRefunds are issued within 14 days.\nItems must be unused.\n\n"
        "For example:\n\n    refund(order)\n    notify(customer)\n"
    )
    pieces = sentence_texts(text)
    assert {t for t, _ in passage_sentences(text)} <= set(pieces)
    assert set(split_sentences(text)) <= set(pieces)
    assert text in pieces and len(pieces) == len(set(pieces))
    assert sentence_texts("One sentence only here.") == ["One sentence only here."]


def test_ingest_stores_each_chunks_pieces_with_the_kb_embedder(
    ws: Workspace, tmp_path: Path
) -> None:
    _ingest(ws, tmp_path / "docs")
    counts = _rows(ws)
    assert counts and all(n > 0 for n in counts.values())
    hits = _source_chunks(ws, "refunds.md")
    assert hits
    found = stored_vectors(ws.db, hits)
    wanted = {t for _, text in hits for t in sentence_texts(text)}
    assert set(found) == wanted
    some = sorted(wanted)[:3]
    fresh = ws.kbs.embedder("support").embed(some)
    for text, vector in zip(some, fresh, strict=True):
        assert found[text].dtype == np.float32
        assert float(found[text] @ vector) > 0.9999
    # a text that is not the stored chunk's (a widened hit, an edited splitter) finds nothing
    assert stored_vectors(ws.db, [(hits[0][0], "Something else entirely. Truly.")]) == {}


def test_replace_and_remove_take_the_sources_sentences_with_them(
    ws: Workspace, tmp_path: Path
) -> None:
    docs = _ingest(ws, tmp_path / "docs")
    old = {cid for cid, _ in _source_chunks(ws, "refunds.md")}
    assert old
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds now take 30 days. Ask first.\n")
    ws.kbs.ingest("support", [docs])
    counts = _rows(ws)
    new = {cid for cid, _ in _source_chunks(ws, "refunds.md")}
    assert new and all(counts[cid] > 0 for cid in new)
    with ws.db.read() as conn:
        left = conn.execute(
            sa.select(sa.func.count())
            .select_from(kb_sentences)
            .where(kb_sentences.c.chunk_id.in_(sorted(old - new)))
        ).scalar_one()
    assert left == 0
    shipping = {cid for cid, _ in _source_chunks(ws, "shipping.md")}
    assert shipping
    ws.kbs.remove("support", "docs/shipping.md")
    counts = _rows(ws)
    assert shipping.isdisjoint(counts) and all(counts[cid] > 0 for cid in new)


def test_migration_0013_adds_kb_sentences_and_back(db_url: str) -> None:
    db = Database(db_url)
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
        conn.execute(
            sa.text(
                "INSERT INTO kbs (id, name, owner, description, embedder, generation, "
                "created_by, created_at) VALUES (1, 'old', 'team', '', 'minilm', 3, 'me', :ts)"
            ),
            {"ts": NOW},
        )
        conn.execute(sa.text("INSERT INTO kb_owners (id, name) VALUES (1, 'team')"))
        conn.execute(
            sa.text(
                "INSERT INTO kb_sources (id, kb_id, source, title, owner_id, content_sha256, "
                "modified_at, ingested_at, chunks, sensitivity, kinds) VALUES "
                "(1, 1, 'a.md', 'A', 1, 'h', :ts, :ts, 1, 'none', '[]')"
            ),
            {"ts": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO kb_chunks (id, kb_id, source_id, ordinal, title, heading, text, "
                "token_count, content_sha256, sensitivity, kinds, embedding, ingested_at) "
                "VALUES (1, 1, 1, 0, 'A', '', 'some text', 2, 'c', 'none', '[]', :e, :ts)"
            ),
            {"ts": NOW, "e": b"\x00\x00\x80\x3f"},
        )
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
    with db.read() as conn:  # a KB ingested before: no stored sentences, chat embeds them
        assert conn.execute(sa.text("SELECT count(*) FROM kb_sentences")).scalar_one() == 0
    with db.tx() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO kb_sentences (chunk_id, ordinal, sha256, embedding) "
                "VALUES (1, 0, 'x', :e)"
            ),
            {"e": b"\x00\x00\x80\x3f"},
        )
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
    with db.read() as conn:
        assert "kb_sentences" not in sa.inspect(conn).get_table_names()
        assert conn.execute(sa.text("SELECT text FROM kb_chunks")).scalar_one() == "some text"
    db.dispose()
