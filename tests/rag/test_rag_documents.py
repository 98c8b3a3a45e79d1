"""Loaders: Markdown, text, HTML and PDF into sections; bad files come back as Skipped."""

from __future__ import annotations

import hashlib
import io
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from prodline.rag.documents import SUPPORTED_SUFFIXES, iter_documents, load_document
from prodline.rag.types import Document, Skipped


def _pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF with one Helvetica text stream per page, written by hand."""
    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        lines = text.split("\n")
        escaped = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
        stream = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({e}) Tj T*" for e in escaped)
        data = (stream + " ET").encode("latin-1")
        objects[page_id] = (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)
    info_id = 4 + 2 * n
    objects[info_id] = f"<< /Title ({title}) >>".encode() if title else b"<< >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (info_id + 1)
    for number in range(1, info_id + 1):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (info_id + 1, info_id)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _encrypted(pdf: bytes, user_password: str, owner_password: str | None = None) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, owner_password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _load(tmp_path: Path, name: str, content: str | bytes) -> Document | Skipped:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return load_document(path)


def _doc(result: Document | Skipped) -> Document:
    assert isinstance(result, Document), result
    return result


MARKDOWN = """\
Intro before any heading.

# Returns Guide

How returns work.

```bash
# not a heading, a shell comment
echo hi
```

## Refunds ##

Refunds take 14 days.
#hashtag is not a heading

### Exchanges
Swap an item.

~~~
# still code
~~~
"""


def test_markdown_sections_split_at_atx_headings_outside_code_fences(tmp_path: Path) -> None:
    doc = _doc(_load(tmp_path, "guide.md", MARKDOWN))

    assert doc.title == "Returns Guide"
    assert [(s.heading, s.level) for s in doc.sections] == [
        ("", 0),
        ("Returns Guide", 1),
        ("Refunds", 2),
        ("Exchanges", 3),
    ]
    assert doc.sections[0].text == "Intro before any heading."
    assert "# not a heading, a shell comment" in doc.sections[1].text
    assert doc.sections[2].text == "Refunds take 14 days.\n#hashtag is not a heading"
    assert "# still code" in doc.sections[3].text


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        ("no-h1.markdown", "## Only a subheading\n\nBody.", "no-h1"),
        ("second.md", "text\n\n# First\n\nx\n\n# Second\n\ny", "First"),
        ("hashes.md", "#   Spaced   title   #####\n\nbody", "Spaced   title"),
    ],
)
def test_markdown_title_is_first_h1_or_stem(
    tmp_path: Path, name: str, content: str, title: str
) -> None:
    assert _doc(_load(tmp_path, name, content)).title == title


def test_markdown_drops_headings_without_body_and_utf8_bom(tmp_path: Path) -> None:
    doc = _doc(_load(tmp_path, "bom.md", b"\xef\xbb\xbf# T\r\n\r\n## Empty\r\n## Full\r\nok\r\n"))
    assert doc.title == "T"
    assert [(s.heading, s.text) for s in doc.sections] == [("Full", "ok")]


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("\n\n  Shipping notes  \n\nWe ship daily.", "Shipping notes"),
        ("x" * 121 + "\n\nbody", "notes"),  # a long first line is prose, not a title
        ("x" * 120, "x" * 120),
    ],
)
def test_text_title_is_first_line_up_to_120_chars(tmp_path: Path, content: str, title: str) -> None:
    assert _doc(_load(tmp_path, "notes.txt", content)).title == title


def test_text_is_one_section_of_paragraphs(tmp_path: Path) -> None:
    doc = _doc(
        _load(tmp_path, "a.txt", "Title\r\n\r\n\r\n\r\npara one\r\nline two   \n\n\npara two\n")
    )
    assert len(doc.sections) == 1
    assert doc.sections[0].heading == ""
    assert doc.sections[0].text == "Title\n\npara one\nline two\n\npara two"


HTML = """<!doctype html>
<html><head><title>  Help   Centre </title><style>p { color: red }</style></head>
<body>
<nav><a href="/">Home</a> menu-link</nav>
<script>var secret = "tracking";</script>
<p>Lead <b>bold</b> text.</p>
<h1>Returns</h1>
<div>Returns take <em>30</em> days.<br>Keep the receipt.</div>
<!-- a comment -->
<h2>Refunds <small>(cards)</small></h2>
<ul><li>Card refunds: 5 days</li><li>Cash: same day</li></ul>
<pre>  line one
    indented</pre>
<footer>Copyright footer-text</footer>
</body></html>
"""


def test_html_sections_at_headings_without_boilerplate(tmp_path: Path) -> None:
    doc = _doc(_load(tmp_path, "help.html", HTML))

    assert doc.title == "Help Centre"
    assert [(s.heading, s.level) for s in doc.sections] == [
        ("", 0),
        ("Returns", 1),
        ("Refunds (cards)", 2),
    ]
    assert doc.sections[0].text == "Lead bold text."
    assert doc.sections[1].text == "Returns take 30 days.\nKeep the receipt."
    assert (
        doc.sections[2].text == "Card refunds: 5 days\n\nCash: same day\n\n  line one\n    indented"
    )
    for gone in ("menu-link", "tracking", "color", "footer-text", "a comment"):
        assert gone not in doc.text


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("<h2>Minor</h2><h1>Main <i>heading</i></h1><p>x</p>", "Main heading"),
        ("<title> </title><p>no headings</p>", "page"),
    ],
)
def test_html_title_falls_back_to_first_h1_then_stem(
    tmp_path: Path, content: str, title: str
) -> None:
    assert _doc(_load(tmp_path, "page.htm", content)).title == title


def test_html_deeply_nested_does_not_raise(tmp_path: Path) -> None:
    content = "<div>" * 5000 + "deep text" + "</div>" * 5000
    assert _doc(_load(tmp_path, "deep.html", content)).text == "deep text"


def test_pdf_one_section_per_page_and_metadata_title(tmp_path: Path) -> None:
    doc = _doc(
        _load(tmp_path, "manual.pdf", _pdf(["Hello refunds", "Second (page) text"], "Manual"))
    )

    assert doc.title == "Manual"
    assert [s.heading for s in doc.sections] == ["page 1", "page 2"]
    assert "Hello refunds" in doc.sections[0].text
    assert "Second (page) text" in doc.sections[1].text


def test_pdf_without_metadata_title_uses_stem_and_skips_blank_pages(tmp_path: Path) -> None:
    doc = _doc(_load(tmp_path, "scan.pdf", _pdf(["", "Only text"])))
    assert doc.title == "scan"
    assert [s.heading for s in doc.sections] == ["page 2"]


def test_pdf_encrypted_with_a_user_password_is_skipped(tmp_path: Path) -> None:
    result = _load(tmp_path, "locked.pdf", _encrypted(_pdf(["Secret plan"]), "secret"))
    assert result == Skipped(str((tmp_path / "locked.pdf").resolve()), "encrypted PDF")


def test_pdf_encrypted_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    doc = _doc(_load(tmp_path, "owner.pdf", _encrypted(_pdf(["Open text"]), "", "owner")))
    assert "Open text" in doc.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("notes.md", "café crème".encode("latin-1"), "not valid UTF-8"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\n  ", "empty file"),
        ("only-headings.md", b"# A\n## B\n", "no text found"),
        ("nothing.html", b"<script>x()</script><nav>menu</nav>", "no text found"),
        ("report.docx", b"PK\x03\x04", "could not parse: not a .docx file"),
        ("deck.pptx", b"PK\x03\x04", "unsupported file type .pptx"),
        ("Makefile", b"all:\n\ttrue\n", "unsupported file type (no suffix)"),
        ("broken.pdf", b"this is not a pdf at all", "unreadable PDF"),
        ("truncated.pdf", _pdf(["text"])[:60], "unreadable PDF"),
        ("images.pdf", _pdf([""]), "no text found in PDF"),
    ],
)
def test_bad_files_are_skipped_with_a_one_line_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    result = _load(tmp_path, name, content)
    assert isinstance(result, Skipped), result
    assert reason in result.reason
    assert "\n" not in result.reason
    assert result.source == str((tmp_path / name).resolve())


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.md"
    path.write_text("# hi\n\ntext")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert load_document(path) == Skipped(str(path.resolve()), "unreadable: Permission denied")


def test_folder_and_fifo_are_not_regular_files(tmp_path: Path) -> None:
    folder = tmp_path / "dir.md"
    folder.mkdir()
    assert load_document(folder) == Skipped(str(folder), "not a regular file")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert load_document(fifo) == Skipped(str(fifo), "not a regular file")  # no blocking read


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_random_bytes_never_raise(tmp_path: Path, suffix: str) -> None:
    rng = random.Random(suffix)
    for index in range(20):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
        if suffix == ".pdf" and index % 2:
            blob = b"%PDF-1.4\n" + blob
        result = _load(tmp_path, f"fuzz{index}{suffix}", blob)
        assert isinstance(result, Document | Skipped)


def test_document_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"# Title\n\nBody text.\n"
    (tmp_path / "meta.md").write_bytes(content)
    os.utime(tmp_path / "meta.md", (1_700_000_000, 1_700_000_000))
    monkeypatch.chdir(tmp_path)

    doc = _doc(load_document(Path("meta.md")))

    assert doc.source == str((tmp_path / "meta.md").resolve())
    assert Path(doc.source).is_absolute()
    assert doc.content_sha256 == hashlib.sha256(content).hexdigest()
    assert doc.modified_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert doc.modified_at.tzinfo is not None
    assert doc.text == "Body text."


def test_iter_documents_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.md").write_text("# hidden")
    (root / ".draft.md").write_text("# hidden")
    (root / "b.md").write_text("# B\n\nb")
    (root / "a.txt").write_text("a")
    (root / "c.png").write_bytes(b"\x89PNG\x00")
    (root / "sub" / "z.html").write_text("<p>z</p>")
    (root / "sub" / "deeper" / "d.md").write_text("d")
    (root / "sub" / "y.md").write_text("")
    (root / "zz.md").write_text("zz")
    extra = tmp_path / "extra.md"
    extra.write_text("extra")

    results = list(iter_documents([root, extra, root / "b.md", tmp_path / "missing"]))

    names = [Path(r.source).relative_to(tmp_path).as_posix() for r in results]
    assert names == [
        "kb/a.txt",
        "kb/b.md",
        "kb/c.png",
        "kb/zz.md",
        "kb/sub/y.md",
        "kb/sub/z.html",
        "kb/sub/deeper/d.md",
        "extra.md",
        "missing",
    ]
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "Document",
        "Document",
        "Skipped",
        "Document",
        "Skipped",
        "Document",
        "Document",
        "Document",
        "Skipped",
    ]
    assert isinstance(results[2], Skipped)
    assert results[2].reason.startswith("unsupported file type .png; readable types: ")
    assert isinstance(results[-1], Skipped)
    assert results[-1].reason == "no such file or folder"


def test_iter_documents_does_not_follow_folder_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    results = list(iter_documents([tmp_path]))
    assert [Path(r.source).name for r in results] == ["a.md"]
