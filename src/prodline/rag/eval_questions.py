"""Question sets for the knowledge-base evaluation, and the corpus of the shipped one.

A question set is JSON lines, one question per line::

    {"id": "assert-1", "question": "What does assert do when optimization is on?",
     "source": "assert.md", "key_phrase": "emits no code"}
    {"question": "How do I pin a dependency with pip?", "answerable": false}

Fields: ``question`` (required); ``source`` (a file, or a list of files, matched on the
end of the chunk's source path or its name without the suffix) and/or ``section`` (a
heading); ``key_phrase`` (a phrase, or a list of alternatives, a right answer contains)
and/or ``reference`` (a reference answer, scored by token F1); ``answerable`` (default
true: an unanswerable question must be abstained on); ``id`` (default ``q<line>``).

The shipped set, ``pydoc_topics``, is about CPython's ``pydoc_data.topics``;
:func:`write_pydoc_corpus` writes those topics as Markdown files to ingest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from prodline.errors import InvalidInput

__all__ = [
    "SHIPPED_SETS",
    "EvalQuestion",
    "load_questions",
    "resolve_question_set",
    "set_sha256",
    "write_pydoc_corpus",
]

EVALSETS = Path(__file__).parent / "evalsets"
SHIPPED_SETS: dict[str, Path] = {"pydoc_topics": EVALSETS / "pydoc_topics.jsonl"}
_KNOWN = frozenset({"id", "question", "source", "section", "key_phrase", "reference", "answerable"})


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a set and what a right result looks like."""

    id: str
    question: str
    sources: tuple[str, ...] = ()
    section: str | None = None
    key_phrases: tuple[str, ...] = ()
    reference: str | None = None
    answerable: bool = True

    @property
    def judged_on_retrieval(self) -> bool:
        """True when the question names where its answer lives."""
        return self.answerable and bool(self.sources or self.section)


# -- question sets -------------------------------------------------------------------
def resolve_question_set(ref: str | Path) -> Path:
    """A question file path, or the name of a shipped set (``pydoc_topics``)."""
    path = Path(ref)
    if path.is_file():
        return path
    if str(ref) in SHIPPED_SETS:
        return SHIPPED_SETS[str(ref)]
    raise InvalidInput(
        f"Question set '{ref}' is neither a file nor a shipped set; give a .jsonl path or "
        f"one of {', '.join(sorted(SHIPPED_SETS))}.",
        field="questions",
    )


def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(s, str) and s.strip() for s in items)
    ):
        raise InvalidInput(
            f"{where}: '{name}' must be a non-empty string or list of strings.", field=name
        )
    return tuple(s.strip() for s in items)


def _question(obj: Any, line: int, where: str) -> EvalQuestion:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where}: each line must be a JSON object.", field="questions")
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown field '{unknown[0]}'; use {', '.join(sorted(_KNOWN))}.",
            field=unknown[0],
        )
    text = obj.get("question")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{where}: 'question' must be non-empty text.", field="question")
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise InvalidInput(f"{where}: 'answerable' must be true or false.", field="answerable")
    sources = _strings(obj["source"], where, "source") if "source" in obj else ()
    section = _strings(obj["section"], where, "section")[0] if "section" in obj else None
    phrases = _strings(obj["key_phrase"], where, "key_phrase") if "key_phrase" in obj else ()
    reference = _strings(obj["reference"], where, "reference")[0] if "reference" in obj else None
    if answerable and not (sources or section or phrases or reference):
        raise InvalidInput(
            f"{where}: an answerable question needs a source, section, key_phrase or "
            'reference to be judged on (or set "answerable": false).',
            field="question",
        )
    if not answerable and (sources or section or phrases or reference):
        raise InvalidInput(
            f"{where}: an unanswerable question has no source, section, key_phrase or "
            'reference; drop them or set "answerable": true.',
            field="answerable",
        )
    ident = obj.get("id", f"q{line}")
    return EvalQuestion(
        id=str(ident),
        question=text.strip(),
        sources=sources,
        section=section,
        key_phrases=phrases,
        reference=reference,
        answerable=answerable,
    )


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Parse a JSON-lines question set; errors name the file and line."""
    path = resolve_question_set(path)
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path.name}:{line}"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{where}: not valid JSON ({exc}).", field="questions") from None
        q = _question(obj, line, where)
        if q.id in seen:
            raise InvalidInput(f"{where}: id '{q.id}' is used twice.", field="id")
        seen.add(q.id)
        questions.append(q)
    if not questions:
        raise InvalidInput(f"{path}: holds no questions; one JSON object per line.")
    return questions


def set_sha256(path: str | Path) -> str:
    """The identity of a question set: sha256 of its file's bytes."""
    return hashlib.sha256(resolve_question_set(path).read_bytes()).hexdigest()


# -- the pydoc corpus ------------------------------------------------------------------
_UNDERLINE = re.compile(r"^([*=\-~^\"'`#+])\1{2,}\s*$")


def _topic_markdown(name: str, text: str) -> str:
    """A pydoc topic as Markdown: its underlined titles become headings."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()) - 2:
            level = 1 if nxt.strip()[0] == "*" else 2
            out.append(f"{'#' * level} {line.strip()}")
            i += 2
            continue
        out.append(line)
        i += 1
    body = "\n".join(out).strip()
    if not body.startswith("# "):
        body = f"# {name}\n\n{body}"
    return body + "\n"


def write_pydoc_corpus(folder: str | Path) -> list[Path]:
    """Write CPython's ``pydoc_data.topics`` as one Markdown file per topic (``assert.md``
    …) into ``folder``: the documents the shipped ``pydoc_topics`` set is about."""
    from pydoc_data import topics

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(topics.topics.items()):
        path = out / f"{name}.md"
        path.write_text(_topic_markdown(name, text), encoding="utf-8")
        written.append(path)
    return written
