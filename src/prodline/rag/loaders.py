"""Loaders for reStructuredText, Word ``.docx``, Jupyter notebooks and CSV/JSON records.

Each parser takes the decoded text (or raw bytes for ``.docx``) and returns ``(title,
sections)`` like the Markdown one in ``documents.py``, or raises with a one-line reason
that the caller turns into a ``Skipped``. No extra dependency: ``.docx`` is a zip of
XML read with the standard library, reStructuredText is read line by line (the parts a
documentation set uses: section titles, directives, literal blocks and roles).

Sphinx and MyST roles keep their text: ``:func:`json.dumps``` and ``{func}`json.dumps```
become ``json.dumps``; ``:ref:`Refunds <refunds>``` becomes ``Refunds``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree as ET

from prodline.rag.types import Section

__all__ = [
    "parse_csv",
    "parse_docx",
    "parse_ipynb",
    "parse_json",
    "parse_jsonl",
    "parse_rst",
    "strip_roles",
]

Parsed = tuple[str, list[Section]]
MarkdownParser = Callable[[str, str], Parsed]

_MAX_RECORDS_FIELD = 2000  # characters of one field kept in a record's text

# --------------------------------------------------------------------------- roles

_ROLE_TEXT = r"`(?P<body>[^`\n]+)`"
_RST_ROLE = re.compile(r":(?:[\w.+-]+:)*[\w.+-]+:" + _ROLE_TEXT)
_MYST_ROLE = re.compile(r"\{[\w.+:-]+\}" + _ROLE_TEXT)
_TITLED = re.compile(r"^(?P<title>.+?)\s*<[^<>]+>$")


def _role_text(match: re.Match[str]) -> str:
    body = match.group("body").strip()
    titled = _TITLED.match(body)
    if titled:
        return titled.group("title")
    return body.removeprefix("~").removeprefix("!")


def strip_roles(text: str) -> str:
    """Replace Sphinx (``:func:`x```) and MyST (``{func}`x```) roles by their text."""
    return _MYST_ROLE.sub(_role_text, _RST_ROLE.sub(_role_text, text))


# --------------------------------------------------------------------------- rst

_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_DIRECTIVE = re.compile(r"^\.\.\s+([\w:-]+)::\s*(.*)$")
_TARGET_OR_COMMENT = re.compile(r"^\.\.(\s|$)")
_LINK = re.compile(r"`([^`<\n]+?)\s*<[^>\n]+>`__?")
_REF = re.compile(r"`([^`\n]+)`__?")
_LITERAL = re.compile(r"``([^`\n]+)``")
_EMPH = re.compile(r"(?<![\w*])\*\*?([^*\n]+?)\*\*?(?![\w*])")
_CODE_DIRECTIVES = frozenset({"code", "code-block", "sourcecode", "literalinclude", "doctest"})
_DROP_DIRECTIVES = frozenset(
    {"image", "figure", "toctree", "include", "raw", "index", "only", "highlight", "meta",
     "contents", "autosummary", "currentmodule", "module", "sectionauthor", "moduleauthor"}
)  # fmt: skip


def _inline_rst(line: str) -> str:
    line = strip_roles(line)
    line = _LINK.sub(r"\1", line)
    line = _LITERAL.sub(r"`\1`", line)
    line = _REF.sub(r"\1", line)
    return _EMPH.sub(r"\1", line)


def _indented_block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented (or blank) lines from ``start``, dedented; and the index after them."""
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in " \t"):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    block = textwrap.dedent("\n".join(lines[start:end])).strip("\n")
    return (block.split("\n") if block else []), end


def parse_rst(text: str, stem: str) -> Parsed:
    """reStructuredText: sections at adorned titles, code blocks fenced, roles stripped."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []  # adornment (char, overlined) in order of first use
    sections: list[Section] = []
    heading, level, body = "", 0, list[str]()
    title = ""
    i = 0

    def fence(code: list[str], lang: str = "") -> None:
        if code:
            body.extend(["", f"```{lang}", *code, "```", ""])

    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        after = lines[i + 2] if i + 2 < len(lines) else ""
        over = _ADORN.match(line)
        if over and nxt.strip() and _ADORN.match(after) and after.strip()[0] == line.strip()[0]:
            style, text_line, i = (line.strip()[0], True), nxt.strip(), i + 3
        elif (
            line.strip()
            and not line[:1].isspace()
            and _ADORN.match(nxt)
            and len(nxt.strip()) >= len(line.strip())
            and not _ADORN.match(line)
        ):
            style, text_line, i = (nxt.strip()[0], False), line.strip(), i + 2
        else:
            directive = _DIRECTIVE.match(line)
            if directive:
                name, arg = directive.group(1).lower(), directive.group(2).strip()
                block, i = _indented_block(lines, i + 1)
                block = [b for b in block if not re.match(r"^:[\w-]+:", b)] if block else []
                if name in _CODE_DIRECTIVES:
                    fence(block, arg if name != "doctest" else "pycon")
                elif name not in _DROP_DIRECTIVES:
                    if arg and name not in {"note", "warning", "tip", "important", "seealso"}:
                        body.append(_inline_rst(arg))
                    body.extend(_inline_rst(b) for b in block)
                continue
            if _TARGET_OR_COMMENT.match(line):
                _, i = _indented_block(lines, i + 1)
                continue
            stripped = line.rstrip()
            if stripped.endswith("::") and not stripped.lstrip().startswith(".."):
                prose = stripped[:-1] if stripped[:-2].strip() else ""
                if prose.endswith(" :"):
                    prose = prose[:-2]
                if prose:
                    body.append(_inline_rst(prose))
                i += 1
                while i < len(lines) and not lines[i].strip():
                    i += 1
                block, i = _indented_block(lines, i)
                fence(block)
                continue
            body.append(_inline_rst(line))
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        sections.append(Section(heading, _clean(body), level))
        heading, level, body = _inline_rst(text_line), min(styles.index(style) + 1, 6), []
        if not title:
            title = heading
    sections.append(Section(heading, _clean(body), level))
    return title or stem, sections


def _clean(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)*", "\n\n", text)


# --------------------------------------------------------------------------- docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_HEADING_STYLE = re.compile(r"^heading(\d)$")


def parse_docx(data: bytes, stem: str) -> Parsed:
    """Word ``.docx``: paragraphs and tables in order, sections at Heading 1-6 styles."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError("not a .docx file (not a zip archive)") from exc
    with archive:
        names = set(archive.namelist())
        if "word/document.xml" not in names:
            raise ValueError("not a .docx file (no word/document.xml)")
        root = ET.fromstring(archive.read("word/document.xml"))
        core = (
            ET.fromstring(archive.read("docProps/core.xml"))
            if "docProps/core.xml" in names
            else None
        )
    doc_title = ""
    if core is not None:
        found = core.find(f"{_DC}title")
        doc_title = " ".join((found.text or "").split()) if found is not None else ""
    body_el = root.find(f"{_W}body")
    if body_el is None:
        raise ValueError("not a .docx file (no document body)")
    sections: list[Section] = []
    heading, level, paragraphs = "", 0, list[str]()
    for element in body_el:
        if element.tag == f"{_W}p":
            text = _paragraph_text(element)
            style = _paragraph_style(element)
            if style == "title" and text:
                doc_title = doc_title or text
                continue
            match = _HEADING_STYLE.match(style)
            if match and text:
                sections.append(Section(heading, "\n\n".join(paragraphs), level))
                heading, level, paragraphs = text, int(match.group(1)), []
                doc_title = doc_title or (text if level == 1 else "")
            elif text:
                paragraphs.append(text)
        elif element.tag == f"{_W}tbl":
            rows = [
                " | ".join(_paragraph_text(cell) for cell in row.iter(f"{_W}tc"))
                for row in element.iter(f"{_W}tr")
            ]
            table = "\n".join(r for r in rows if r.strip(" |"))
            if table:
                paragraphs.append(table)
    sections.append(Section(heading, "\n\n".join(paragraphs), level))
    return doc_title or stem, sections


def _paragraph_text(element: ET.Element) -> str:
    parts: list[str] = []
    for node in element.iter():
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif node.tag == f"{_W}p" and parts and node is not element:
            parts.append(" ")
    return " ".join("".join(parts).split(" ")).strip()


def _paragraph_style(element: ET.Element) -> str:
    style = element.find(f"{_W}pPr/{_W}pStyle")
    value = style.get(f"{_W}val", "") if style is not None else ""
    return value.lower().replace(" ", "")


# --------------------------------------------------------------------------- notebooks


def parse_ipynb(text: str, stem: str, markdown: MarkdownParser) -> Parsed:
    """Jupyter notebook: Markdown cells as Markdown, code cells as fenced code; no outputs."""
    notebook = json.loads(text)
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no 'cells' list)")
    meta = notebook.get("metadata") or {}
    lang = str(
        (meta.get("kernelspec") or {}).get("language")
        or (meta.get("language_info") or {}).get("name")
        or "python"
    )
    parts: list[str] = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip():
            continue
        kind = cell.get("cell_type")
        if kind == "markdown":
            parts.append(source.strip("\n"))
        elif kind == "code":
            parts.append(f"```{lang}\n{source.strip(chr(10))}\n```")
    if not parts:
        raise ValueError("notebook has no Markdown or code cells with text")
    return markdown("\n\n".join(parts), stem)


# --------------------------------------------------------------------------- records


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and not all(isinstance(v, (str, int, float, bool)) for v in value):
        for n, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{n}]")
    elif value is not None and value != "":
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        yield prefix or "value", " ".join(shown.split())[:_MAX_RECORDS_FIELD]


def _record(value: Any) -> str:
    return "\n".join(f"{key}: {text}" for key, text in _flatten(value))


def _records_document(records: list[str], stem: str, what: str) -> Parsed:
    kept = [r for r in records if r.strip()]
    if not kept:
        raise ValueError(f"no {what} records with values")
    return stem, [Section("", "\n\n".join(kept), 0)]


def parse_csv(text: str, stem: str) -> Parsed:
    """CSV: the first row names the fields; each row becomes one ``field: value`` record."""
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = next(rows, None)
    if not header:
        raise ValueError("empty CSV (no header row)")
    fields = [h.strip() or f"column {n + 1}" for n, h in enumerate(header)]
    records = [
        _record({fields[n] if n < len(fields) else f"column {n + 1}": v for n, v in enumerate(row)})
        for row in rows
    ]
    return _records_document(records, stem, "CSV")


def parse_json(text: str, stem: str) -> Parsed:
    """JSON: a list of records (or an object holding one), each as ``field: value`` lines."""
    data = json.loads(text)
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        data = [data]
    return _records_document([_record(item) for item in data], stem, "JSON")


def parse_jsonl(text: str, stem: str) -> Parsed:
    """JSON Lines: one record per non-blank line."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                records.append(_record(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc.msg}") from exc
    return _records_document(records, stem, "JSON Lines")
