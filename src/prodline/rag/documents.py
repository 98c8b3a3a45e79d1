"""Load source files into ``Document``s: Markdown, reST, text, HTML, PDF, Word, notebooks, records.

A bad file never raises. Binary, encrypted, empty, undecodable or unparseable files
come back as ``Skipped`` with a one-line reason, so an ingest of a thousand files
reports the three it could not read instead of stopping at the first.

Structure is kept where the format has it: Markdown, reStructuredText, notebooks,
``.docx`` and HTML split into sections at their headings, PDF into one section per
page, plain text and CSV/JSON records into a single section (see ``loaders.py``).
The chunker never merges text across a section boundary.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodline.rag.loaders import (
    parse_csv,
    parse_docx,
    parse_ipynb,
    parse_json,
    parse_jsonl,
    parse_rst,
    strip_roles,
)
from prodline.rag.types import Document, Section, Skipped

__all__ = [
    "SUPPORTED_SUFFIXES",
    "iter_documents",
    "load_document",
    "plan_files",
    "walk_documents",
]

_log = logging.getLogger(__name__)

_SNIFF_BYTES = 8192
_MAX_TITLE = 120
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)(.*)$")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")

_HTML_DROP = frozenset({"script", "style", "nav", "footer", "noscript", "template", "head"})
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "form", "header", "hr", "html", "li",
        "main", "ol", "p", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip

_Parsed = tuple[str, list[Section]]  # (title, sections)


def load_document(path: Path, *, source: str | None = None) -> Document | Skipped:
    """Read one file into a ``Document``, or say why it was skipped.

    Parameters
    ----------
    path
        A file of one of ``SUPPORTED_SUFFIXES`` (Markdown, reStructuredText, text,
        HTML, PDF, ``.docx``, ``.ipynb``, ``.csv``, ``.json``/``.jsonl``).
    source
        The name to record it under; default: the resolved path.

    Returns
    -------
    Document | Skipped
        ``Skipped`` (never an exception) for unsupported, binary, encrypted, empty,
        non-UTF-8 or unreadable files; its ``reason`` is one line.
    """
    path = Path(path)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        return Skipped(source or str(path), f"unreadable: {_oneline(exc)}")
    source = source or str(resolved)
    suffix = path.suffix.lower() or resolved.suffix.lower()
    parse = _PARSERS.get(suffix)
    if parse is None:
        return Skipped(
            source,
            f"unsupported file type {suffix or '(no suffix)'}; readable types: "
            + " ".join(sorted(_PARSERS)),
        )
    try:
        info = resolved.stat()
        if not stat.S_ISREG(info.st_mode):
            return Skipped(source, "not a regular file")
        data = resolved.read_bytes()
    except OSError as exc:
        return Skipped(source, f"unreadable: {_oneline(exc)}")
    if not data.strip():
        return Skipped(source, "empty file")

    parsed = parse(data, resolved.stem)
    if isinstance(parsed, str):
        return Skipped(source, parsed)
    title, sections = parsed
    kept = tuple(s for s in sections if s.text.strip())
    if not kept:
        return Skipped(source, "no text found (empty file)")
    return Document(
        source=source,
        title=title,
        sections=kept,
        modified_at=datetime.fromtimestamp(info.st_mtime, tz=UTC),
        content_sha256=hashlib.sha256(data).hexdigest(),
    )


def iter_documents(
    paths: Sequence[Path], *, follow_symlinks: bool = False
) -> Iterator[Document | Skipped]:
    """Load every file under ``paths``, walking folders recursively in sorted order.

    Hidden files and folders (name starting with ``.``) inside a walked folder are
    skipped silently; a path given explicitly is always loaded. Symlinked folders are
    not followed, so a link loop cannot hang the walk. A file reached twice is loaded
    once.

    The walk never leaves a folder it was given: a file symlink whose target resolves
    outside that folder is skipped, saying so, unless ``follow_symlinks``; then it is
    loaded under the link's own path (inside the folder), so that removing the link and
    ingesting with ``prune`` removes it.

    Parameters
    ----------
    paths
        Files and folders.
    follow_symlinks
        Load file symlinks that point outside the folder being walked.

    Yields
    ------
    Document | Skipped
        One per file, in walk order; sources are absolute paths.
    """
    for item, _ in walk_documents(paths, follow_symlinks=follow_symlinks):
        yield item


def walk_documents(
    paths: Sequence[Path], *, follow_symlinks: bool = False, relative: bool = False
) -> Iterator[tuple[Document | Skipped, str]]:
    """Like :func:`iter_documents`, yielding ``(item, absolute source)`` pairs.

    With ``relative`` a ``Document``'s source is its path from the ingest root, starting
    with the root folder's own name (``docs/guides/setup.md`` for ``docs/``), or the file
    name for a file given explicitly: the same on every machine, and what citations
    show. The second element is always the absolute source an ingest before relative
    sources recorded (so that old knowledge bases can be matched and renamed).
    ``Skipped`` items keep absolute sources (they are reported, not stored).
    """
    seen: set[str] = set()
    for given in paths:
        given = Path(given)
        root = _root(given)
        for file, error in _walk(given):
            if error is not None:
                yield Skipped(str(file), error), str(file)
                continue
            key = _identity(file)
            source = None
            if root is not None and not _inside(key, root):
                if not follow_symlinks:
                    absolute = str(file.absolute())
                    yield Skipped(absolute, _outside_reason(key, root)), absolute
                    continue
                source = str(file.absolute())
            if key in seen:
                continue
            seen.add(key)
            item = load_document(file, source=source)
            absolute = source or key
            if relative and isinstance(item, Document):
                item = replace(
                    item, source=_relative(file, key, given, root, followed=bool(source))
                )
            yield item, absolute


def _relative(file: Path, key: str, given: Path, root: str | None, *, followed: bool) -> str:
    """The stored name of ``file``: from the root folder's name down, or the file name."""
    if root is None:
        return file.name
    base = Path(root).name or "root"
    inner = file.relative_to(given) if followed else Path(key).relative_to(root)
    return (Path(base) / inner).as_posix()


def plan_files(paths: Sequence[Path], *, follow_symlinks: bool = False) -> tuple[int, int]:
    """How many files a walk of ``paths`` will visit and their total size in bytes.

    Counts what :func:`walk_documents` visits (same hidden-file and symlink rules) from
    file metadata only, for a progress bar's total.
    """
    files = size = 0
    seen: set[str] = set()
    for given in paths:
        root = _root(Path(given))
        for file, error in _walk(Path(given)):
            key = _identity(file)
            if key in seen:
                continue
            seen.add(key)
            files += 1
            if error is None and (follow_symlinks or root is None or _inside(key, root)):
                with contextlib.suppress(OSError):
                    size += file.stat().st_size
    return files, size


def _outside_reason(target: str, root: str) -> str:
    """Why a symlink out of the ingest root was not followed, and how to follow it."""
    return (
        f"symlink to {target}, outside {root}: not followed; pass follow_symlinks=True "
        "(--follow-symlinks) to ingest it"
    )


def _root(path: Path) -> str | None:
    """The resolved folder a walk must stay in; None for a file given explicitly."""
    try:
        return str(path.resolve()) if path.is_dir() else None
    except (OSError, RuntimeError):
        return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return str(path.absolute())


def _walk(path: Path) -> Iterator[tuple[Path, str | None]]:
    if not path.exists() and not path.is_symlink():
        yield path.absolute(), "no such file or folder"
        return
    if not path.is_dir():
        yield path, None
        return
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            yield folder.absolute(), f"unreadable folder: {_oneline(exc)}"
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if not entry.is_symlink():
                    subfolders.append(entry)
            else:
                yield entry, None
        stack.extend(reversed(subfolders))  # pop in sorted order, files before subfolders


# --------------------------------------------------------------------------- decoding


def _decode(data: bytes) -> str:
    """UTF-8 text with a BOM dropped and newlines normalised; raise on binary/other."""
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise _Unreadable("binary file (NUL bytes in the first 8 KiB); text files must be UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from exc
    text = text.removeprefix("\ufeff")  # what decoding as utf-8-sig would do
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Unreadable(Exception):
    """Internal: a parser's reason to skip a file."""


def _textual(parse: Callable[[str, str], _Parsed]) -> Callable[[bytes, str], _Parsed | str]:
    def run(data: bytes, stem: str) -> _Parsed | str:
        try:
            text = _decode(data)
        except _Unreadable as exc:
            return str(exc)
        if not text.strip():
            return "empty file"
        try:
            return parse(text, stem)
        except RecursionError:
            return "could not parse: nested too deeply"
        except Exception as exc:  # third-party parsers: a bad file must not stop an ingest
            _log.debug("parse failed for %s", stem, exc_info=True)
            return f"could not parse: {_oneline(exc)}"

    return run


def _binary(parse: Callable[[bytes, str], _Parsed]) -> Callable[[bytes, str], _Parsed | str]:
    def run(data: bytes, stem: str) -> _Parsed | str:
        try:
            return parse(data, stem)
        except Exception as exc:  # a damaged file must not stop an ingest
            _log.debug("parse failed for %s", stem, exc_info=True)
            return f"could not parse: {_oneline(exc)}"

    return run


def _oneline(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _clean_block(lines: list[str]) -> str:
    """Join lines, trim blank lines at both ends and squeeze runs of blank lines."""
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return _BLANK_RUNS.sub("\n\n", text)


# --------------------------------------------------------------------------- markdown


def _parse_markdown(text: str, stem: str) -> _Parsed:
    sections: list[Section] = []
    heading, level, body = "", 0, []
    title = ""
    fence: str | None = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and _closes(fence, opener.group(1), line):
                fence = None
            body.append(line)
            continue
        if opener:
            fence = opener.group(1)
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx is None:
            body.append(strip_roles(line) if "`" in line else line)
            continue
        sections.append(Section(heading, _clean_block(body), level))
        heading = _ATX_CLOSE.sub("", atx.group(2).strip()).strip()
        level, body = len(atx.group(1)), []
        if level == 1 and not title and heading:
            title = heading
    sections.append(Section(heading, _clean_block(body), level))
    return title or stem, sections


def _closes(fence: str, marker: str, line: str) -> bool:
    """A closing fence uses the opener's character, is at least as long, and has no info."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :]


# --------------------------------------------------------------------------- plain text


def _parse_text(text: str, stem: str) -> _Parsed:
    first = next(line.strip() for line in text.split("\n") if line.strip())
    title = first if len(first) <= _MAX_TITLE else stem  # a long first line is prose
    return title, [Section("", _clean_block(text.split("\n")), 0)]


# --------------------------------------------------------------------------- html


def _parse_html(text: str, stem: str) -> _Parsed:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""
    walker = _HtmlWalker()
    walker.walk(soup)
    sections = walker.finish()
    if not title:
        title = next((s.heading for s in walker.headings if s.level == 1 and s.heading), "")
    return title or stem, sections


class _HtmlWalker:
    """Turn a parsed tree into sections: block elements become paragraphs."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.headings: list[Section] = []
        self.heading, self.level = "", 0
        self.paragraphs: list[str] = []
        self.inline: list[str] = []

    def walk(self, root: Any) -> None:
        from bs4 import Tag
        from bs4.element import NavigableString, PreformattedString

        # Explicit stack instead of recursion: deeply nested pages stay readable.
        stack: list[Any] = [iter(root.children)]
        closers: list[bool] = [False]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                if closers.pop():
                    self.flush()
                continue
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = (child.name or "").lower()
            if name in _HTML_DROP:
                continue
            if name in _HTML_HEADINGS:
                self.start_section(" ".join(child.get_text(" ").split()), _HTML_HEADINGS[name])
            elif name == "br":
                self.inline.append("\n")
            elif name == "pre":
                self.flush()
                preformatted = child.get_text().strip("\n")
                if preformatted.strip():
                    self.paragraphs.append(preformatted)
            else:
                block = name in _HTML_BLOCKS
                if block:
                    self.flush()
                stack.append(iter(child.children))
                closers.append(block)

    def flush(self) -> None:
        lines = ("".join(self.inline)).split("\n")
        self.inline = []
        text = "\n".join(" ".join(line.split()) for line in lines).strip()
        if text:
            self.paragraphs.append(text)

    def start_section(self, heading: str, level: int) -> None:
        self.flush()
        self.sections.append(Section(self.heading, "\n\n".join(self.paragraphs), self.level))
        self.heading, self.level, self.paragraphs = heading, level, []
        self.headings.append(Section(heading, "", level))

    def finish(self) -> list[Section]:
        self.flush()
        self.sections.append(Section(self.heading, "\n\n".join(self.paragraphs), self.level))
        return self.sections


# --------------------------------------------------------------------------- pdf


def _parse_pdf(data: bytes, stem: str) -> _Parsed | str:
    try:
        from pypdf import PdfReader
    except ImportError:
        return "PDF support is not installed; install prodline[rag]"
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # wrong password, or AES without the cryptography package
                opened = False
            if not opened:
                return "encrypted PDF"
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            raw = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n")
            sections.append(Section(f"page {number}", _clean_block(raw.split("\n")), 0))
        meta = reader.metadata
        title = " ".join(str(meta.title).split()) if meta is not None and meta.title else ""
    except RecursionError:
        return "unreadable PDF: nested too deeply"
    except Exception as exc:  # pypdf raises many kinds for damaged files
        return f"unreadable PDF: {_oneline(exc)}"
    if not any(s.text.strip() for s in sections):
        return "no text found in PDF (scanned images need OCR first)"
    return title or stem, sections


_PARSERS: dict[str, Callable[[bytes, str], _Parsed | str]] = {
    ".md": _textual(_parse_markdown),
    ".markdown": _textual(_parse_markdown),
    ".txt": _textual(_parse_text),
    ".html": _textual(_parse_html),
    ".htm": _textual(_parse_html),
    ".pdf": _parse_pdf,
    ".rst": _textual(parse_rst),
    ".rest": _textual(parse_rst),
    ".ipynb": _textual(lambda text, stem: parse_ipynb(text, stem, _parse_markdown)),
    ".csv": _textual(parse_csv),
    ".json": _textual(parse_json),
    ".jsonl": _textual(parse_jsonl),
    ".docx": _binary(parse_docx),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)
