"""The text toolkit: sentences, stems and stop words, shared by chunking, answers and checks.

Two questions get two functions, one rule set behind both:

* :func:`sentence_spans` cuts *raw* text where a sentence or a line ends, keeping
  offsets, so the chunker can pack the original text (CJK full stops count; every line
  break ends a piece, since lists, code and PDF lines have no full stops).
* :func:`split_sentences` reads *prose* into claim-sized sentences: citation markers
  go, hard-wrapped lines are joined, bullets and headings are stripped, and a full stop
  ends a sentence only before a capital or digit and never after an abbreviation
  ("e.g.", "Dr."). The extractive answerer and the groundedness scorer both use it,
  so an answer sentence and the sentence it was taken from split the same way.

:func:`terms` lower-cases, drops stop words (:data:`STOP_WORDS` for claims,
:data:`QUESTION_STOP_WORDS` for matching questions) and applies :func:`stem`, a light
suffix stripper that lets "refund", "refunds" and "refunded" meet.

Examples
--------
>>> split_sentences("Refunds take 14 days [1]. See e.g. the FAQ.\\n- Call us")
['Refunds take 14 days.', 'See e.g. the FAQ.', 'Call us']
>>> text = "One. Two!\\nThree"
>>> [text[a:b] for a, b in sentence_spans(text)]
['One.', 'Two!', 'Three']
>>> [stem(w) for w in ("refunds", "refunded", "shipping", "policies")]
['refund', 'refund', 'ship', 'policy']
>>> terms("How long do refunds take?")
['long', 'refund', 'take']
"""

from __future__ import annotations

import re

__all__ = [
    "QUESTION_STOP_WORDS",
    "STOP_WORDS",
    "passage_blocks",
    "passage_sentences",
    "sentence_spans",
    "split_sentences",
    "stem",
    "strip_bullet",
    "strip_citations",
    "terms",
    "unwrap",
    "words",
]

STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    either else ever every few for from further get gets got had has have having he her here
    hers herself him himself his how however i if in into is it its itself just let lets like
    may me might more most much must my myself now of off on once only or other our ours
    ourselves out over own per please same shall she should so some such than that the their
    theirs them themselves then there these they this those through thus to too under until
    up upon us very via was we were what when where whether which while who whom whose why
    will with within would yes yet you your yours yourself yourselves sure thanks thank okay
    ok well great good question answer hello hi glad help""".split()  # noqa: SIM905
)
"""Function words and chat filler, for reading claims. Negations ("not", "no", "never")
are kept: they change what a sentence claims."""

QUESTION_STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again all also am an and any are as at be been before being
    below between both but by can could did do does doing done during each few for from
    further get gets got had has have having he her here hers him his how i if in into
    is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own please same she should so some such tell than that the their
    them then there these they this those through to too under until up us very was we
    were what when where which while who whom why will with would you your yours take
    takes took taken make makes made need needs want wants know""".split()  # noqa: SIM905
)
"""A shorter list for matching a question against passages (the extractive answerer's
ranking is tuned on it): fewer function words, so "within", "down" and "must" still
count toward a sentence's length; negations dropped; plus the verbs that say what is
asked rather than what about ("take", "need", "know")."""

# -- sentences in raw text (offsets kept) -------------------------------------------------
# A piece ends at . ! ? … (plus closing quotes/brackets) before whitespace, at CJK full
# stops, or at a line break (list items, code lines, PDF lines).
_PIECE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+|\n")

# -- sentences in prose --------------------------------------------------------------------
_ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|etc|vs|approx|Mr|Mrs|Ms|Dr|St|No|Inc|Ltd)\.")
_CITATION = re.compile(r"\s*\[(?:\^|[A-Za-z]+\s*)?\d+(?:\s*[,;–-]\s*\d+)*\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
# A single line break inside a paragraph is hard wrapping (as in most Markdown sources),
# not a sentence end, unless the next line starts a bullet, heading, table row or field.
_WRAP = re.compile(r"(?<=\S)[ \t]*\n(?![ \t]*(?:\n|[-*\u2022#=|:]|\d+[.)]\s))[ \t]*")
_HEADING = re.compile(r"^\s*#+\s*")
_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence or line of raw ``text``, trimmed of whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _PIECE_END.finditer(text):
        _trimmed(text, start, match.end(), spans)
        start = match.end()
    _trimmed(text, start, len(text), spans)
    return spans


def _trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def unwrap(text: str) -> str:
    """Join hard-wrapped lines; keep breaks before bullets, headings, tables and fields."""
    return _WRAP.sub(" ", text)


def strip_citations(text: str) -> str:
    """Remove citation markers such as ``[1]``, ``[2, 3]``, ``[^4]`` or ``[doc 5]``."""
    return _CITATION.sub("", text)


def strip_bullet(line: str, *, headings: bool = False) -> str:
    """A line without its list marker (``-``, ``*``, ``•``, ``1.``) and, if asked, ``#``s."""
    line = _BULLET.sub("", line)
    return _HEADING.sub("", line) if headings else line


def split_sentences(text: str, *, headings: bool = False) -> list[str]:
    """Split prose into sentences: bullets and lines first, then sentence punctuation.

    Parameters
    ----------
    text : str
        An answer or a passage.
    headings : bool
        Also strip Markdown heading marks (``## Refunds``) from the start of lines.
    """
    text = unwrap(strip_citations(text))
    out: list[str] = []
    for line in text.splitlines():
        line = strip_bullet(line, headings=headings).strip()
        if not line:
            continue
        protected = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\0"), line)
        out.extend(
            s.replace("\0", ".").strip() for s in _SENTENCE_END.split(protected) if s.strip()
        )
    return out


_BLANK = re.compile(r"\n[ \t]*\n")
_LISTY = re.compile(r"^\s*(?:[-*+\u2022#>|]|\d+[.)])\s")
_MAX_CODE_LINES = 12


def _is_code(lines: list[str]) -> bool:
    """A block of code or grammar: fenced, indented after its first line, or ``::=``."""
    first = lines[0].lstrip()
    return (
        first.startswith(("```", "~~~", ">>>"))
        or any(line[:1] in (" ", "\t") for line in lines[1:] if line.strip())
        or any("::=" in line for line in lines)
        or (len(lines) == 1 and lines[0].startswith(("    ", "\t")))
    )


def passage_blocks(text: str) -> list[tuple[str, bool]]:
    """``text`` as (block, is_code) pairs; hard-wrapped prose lines joined into one line.

    Documentation wrapped at ~72 columns would otherwise split into line fragments
    (a line break ends a sentence for lists and code), so prose paragraphs are unwrapped;
    lists, headings and code keep their lines (a code block at most 12 of them).

    Parameters
    ----------
    text : str
        A retrieved passage.

    Returns
    -------
    list of (str, bool)
        Each block's text and whether it is code.
    """
    out: list[tuple[str, bool]] = []
    for block in _BLANK.split(text):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if _is_code(lines):
            body = [line for line in lines if not line.lstrip().startswith(("```", "~~~"))]
            out.append(("\n".join(body[:_MAX_CODE_LINES]), True))
        elif len(lines) > 1 and not any(_LISTY.match(line) for line in lines):
            out.append((" ".join(line.strip() for line in lines), False))
        else:
            out.append(("\n".join(lines), False))
    return out


def passage_sentences(text: str) -> list[tuple[str, str]]:
    """The units an extractive answer is built from: prose sentences and code blocks.

    Headings and fragments (under three words) are left out, and code blocks of under
    two words. A sentence that ends its paragraph and leads into a code block ("… is
    equivalent to", "For example:") carries that block. The extractive answerer picks
    from these, and ingest stores their embeddings (``prodline.rag.sentences``), so both
    must cut a passage the same way: this one function does it for both.

    Parameters
    ----------
    text : str
        A retrieved passage.

    Returns
    -------
    list of (str, str)
        Each unit's text, and the code block it leads into ("" for none).

    Examples
    --------
    >>> passage_sentences("# Title\\n\\nRefunds take 14 days. Ask us first.")
    [('Refunds take 14 days.', ''), ('Ask us first.', '')]
    """
    out: list[tuple[str, str]] = []
    blocks = passage_blocks(text)
    for b, (block, code) in enumerate(blocks):
        if code:
            if len(words(block)) >= 2:
                out.append((block, ""))
            continue
        pieces = split_sentences(block, headings=True)
        following = blocks[b + 1] if b + 1 < len(blocks) else ("", False)
        for i, piece in enumerate(pieces):
            if len(words(piece)) < 3:  # headings, fragments
                continue
            leads = i == len(pieces) - 1 and following[1] and piece[-1] not in ".!?"
            out.append((piece, following[0] if leads else ""))
    return out


def stem(word: str) -> str:
    """Strip one common English suffix and keep at most six letters.

    Crude on purpose: it only has to make the forms of one word meet ("shipped",
    "shipping" -> "ship"), never to produce a real word.
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # shipp(ed) -> ship
            break
    return word[:6]


def words(text: str) -> list[str]:
    """The lower-cased letter/digit runs of ``text``."""
    return _WORD.findall(text.lower())


def terms(text: str, stop: frozenset[str] = STOP_WORDS) -> list[str]:
    """The stems of the words of ``text`` that are not in ``stop``, in order."""
    return [stem(w) for w in words(text) if w not in stop]
