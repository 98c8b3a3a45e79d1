"""Sentence embeddings stored at ingest, so a chat embeds the question and little else.

Every offline chat embeds the retrieved chunks piece by piece: the extractive answerer
ranks their sentences and code blocks (``core.text.passage_sentences``) by cosine to the
question, and the groundedness scorer compares each answer sentence with every context
sentence (``core.text.split_sentences``) and the whole chunk. On CPU that was ~1 s a
chat over a real documentation set, and the same chunks are embedded again by every
question that retrieves them. Ingest already holds the KB's embedder and every chunk's
text, so it embeds those pieces once (in the same model call as the chunks) and stores
them in ``kb_sentences``: one row per piece with the sha256 of its text.

At answer time the server recomputes a hit's pieces from its text, looks up the stored
rows by chunk id and takes the vectors whose sha256 matches (:func:`stored_vectors`).
A piece with no match (a KB ingested before this table existed, a splitter changed
since, a hit widened with its neighbours) is embedded as before: never wrong, only slower.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from prodline.core.text import passage_sentences, split_sentences
from prodline.store.tables import kb_chunks, kb_sentences

if TYPE_CHECKING:
    from prodline.store.db import Database

__all__ = [
    "Pieces",
    "delete_sentences",
    "embed_with_sentences",
    "insert_sentences",
    "sentence_texts",
    "stored_vectors",
]

Pieces = list[tuple[str, bytes]]
"""One chunk's stored pieces: (sha256 of the text, float32 little-endian vector)."""

Embed = Callable[[list[str]], npt.NDArray[np.float32]]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sentence_texts(text: str) -> list[str]:
    """The pieces of a chunk the answerer and the scorer embed, each once, in order.

    Parameters
    ----------
    text : str
        The chunk's text, as stored and as a search hit carries it.

    Returns
    -------
    list of str
        The answerer's sentences and code blocks, the scorer's context sentences and,
        when the chunk has more than one sentence, the chunk itself (the scorer compares
        a claim with the whole context too).

    Examples
    --------
    >>> sentence_texts("Refunds take 14 days. Ask us first.")
    ['Refunds take 14 days.', 'Ask us first.', 'Refunds take 14 days. Ask us first.']
    """
    scored = split_sentences(text)
    whole = [text] if len(scored) > 1 else []
    return list(dict.fromkeys([*(t for t, _ in passage_sentences(text)), *scored, *whole]))


def embed_with_sentences(
    embed: Embed, chunk_texts: Sequence[str], texts: Sequence[str]
) -> tuple[npt.NDArray[np.float32], list[Pieces]]:
    """Embed chunks and their pieces in one model call.

    One call lets the model's length-sorted batching pack short sentences together and
    embeds a piece shared by overlapping chunks once.

    Parameters
    ----------
    embed : callable
        The KB's embedder (``Embedder.embed``).
    chunk_texts : sequence of str
        What the vector index holds per chunk (``embed_text``: title, heading, text).
    texts : sequence of str
        Each chunk's plain text, in the same order.

    Returns
    -------
    (numpy.ndarray, list of Pieces)
        The chunk vectors, and each chunk's pieces for :func:`insert_sentences`.
    """
    per_chunk = [sentence_texts(t) for t in texts]
    unique = list(dict.fromkeys(p for pieces in per_chunk for p in pieces))
    vectors = embed([*chunk_texts, *unique])
    n = len(chunk_texts)
    packed = {
        text: np.asarray(vec, dtype="<f4").tobytes()
        for text, vec in zip(unique, vectors[n:], strict=True)
    }
    return vectors[:n], [[(_sha(p), packed[p]) for p in pieces] for pieces in per_chunk]


def insert_sentences(
    conn: sa.Connection, chunk_ids: Sequence[int], pieces: Sequence[Pieces]
) -> int:
    """Store each chunk's pieces (inside the transaction that stored the chunks).

    Returns
    -------
    int
        The rows written.
    """
    rows = [
        {"chunk_id": cid, "ordinal": n, "sha256": sha, "embedding": vec}
        for cid, mine in zip(chunk_ids, pieces, strict=True)
        for n, (sha, vec) in enumerate(mine)
    ]
    if rows:
        conn.execute(kb_sentences.insert(), rows)
    return len(rows)


def delete_sentences(conn: sa.Connection, source_id: int) -> None:
    """Drop the pieces of a source's chunks, before the chunks (same transaction)."""
    chunks = sa.select(kb_chunks.c.id).where(kb_chunks.c.source_id == source_id)
    conn.execute(kb_sentences.delete().where(kb_sentences.c.chunk_id.in_(chunks)))


def stored_vectors(
    db: Database, hits: Iterable[tuple[int, str]]
) -> dict[str, npt.NDArray[np.float32]]:
    """The stored vectors of the hits' pieces, by piece text.

    Parameters
    ----------
    db : Database
        The workspace's database.
    hits : iterable of (int, str)
        Each hit's chunk id and text.

    Returns
    -------
    dict
        Piece text → read-only float32 vector, for the pieces whose stored sha256
        matches the text's; pieces with none are left out (the caller embeds them).
    """
    wanted: dict[int, dict[str, str]] = {}
    for chunk_id, text in hits:
        wanted.setdefault(int(chunk_id), {}).update((_sha(t), t) for t in sentence_texts(text))
    if not wanted:
        return {}
    with db.read() as conn:
        rows = conn.execute(
            sa.select(
                kb_sentences.c.chunk_id, kb_sentences.c.sha256, kb_sentences.c.embedding
            ).where(kb_sentences.c.chunk_id.in_(sorted(wanted)))
        ).all()
    out: dict[str, npt.NDArray[np.float32]] = {}
    for row in rows:
        piece = wanted[int(row.chunk_id)].get(row.sha256)
        if piece is not None and piece not in out:
            out[piece] = np.frombuffer(row.embedding, dtype="<f4")  # over bytes: read-only
    return out
