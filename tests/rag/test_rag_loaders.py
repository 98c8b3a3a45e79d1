"""Loaders on real files: reStructuredText, MyST roles, .docx, .ipynb, CSV and JSON records."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from prodline.rag.documents import load_document
from prodline.rag.loaders import strip_roles
from prodline.rag.types import Document, Skipped

RST = """\
=========
Refund FAQ
=========

How refunds work, see :func:`shop.refund` and :ref:`the policy <refund-policy>`.

.. _refund-policy:

Policy
======

Refunds are issued within **14 days**. Use ``refund()``:

.. code-block:: python

   refund(order_id, amount)
   notify(customer)

.. note::

   Gift cards cannot be refunded.

Details
-------

Run this::

    shop refund --order 42

.. image:: refund.png

.. This is a comment and disappears.
"""


def _doc(path: Path) -> Document:
    result = load_document(path)
    assert isinstance(result, Document), result
    return result


def test_rst_sections_code_blocks_and_roles(tmp_path: Path) -> None:
    path = tmp_path / "faq.rst"
    path.write_text(RST)
    doc = _doc(path)
    assert doc.title == "Refund FAQ"
    assert [(s.heading, s.level) for s in doc.sections] == [
        ("Refund FAQ", 1),
        ("Policy", 2),
        ("Details", 3),
    ]
    intro, policy, details = (s.text for s in doc.sections)
    assert intro == "How refunds work, see shop.refund and the policy."
    assert "Refunds are issued within 14 days. Use `refund()`:" in policy
    assert "```python\nrefund(order_id, amount)\nnotify(customer)\n```" in policy
    assert "Gift cards cannot be refunded." in policy and "note::" not in policy
    assert "Run this:\n\n```\nshop refund --order 42\n```" in details
    assert "refund.png" not in details and "comment" not in details


def test_myst_and_sphinx_roles_keep_their_text(tmp_path: Path) -> None:
    assert strip_roles("Call {func}`json.dumps` or :py:meth:`~dict.get`.") == (
        "Call json.dumps or dict.get."
    )
    assert strip_roles("See {ref}`Refunds <refunds>` and :doc:`intro`") == "See Refunds and intro"
    path = tmp_path / "api.md"
    path.write_text("# API\n\nUse {func}`shop.refund`.\n\n```\n{func}`kept in code`\n```\n")
    text = _doc(path).sections[0].text
    assert text.startswith("Use shop.refund.") and "{func}`kept in code`" in text


def _docx(path: Path, body: str, title: str = "") -> None:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml", f"<w:document {ns}><w:body>{body}</w:body></w:document>"
        )
        if title:
            archive.writestr(
                "docProps/core.xml",
                '<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>{title}</dc:title></cp:coreProperties>",
            )


def _p(text: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "handbook.docx"
    table = (
        "<w:tbl><w:tr><w:tc>" + _p("Plan") + "</w:tc><w:tc>" + _p("Price") + "</w:tc></w:tr>"
        "<w:tr><w:tc>" + _p("Express") + "</w:tc><w:tc>" + _p("9 EUR") + "</w:tc></w:tr></w:tbl>"
    )
    body = (
        _p("Intro line.")
        + _p("Shipping", "Heading1")
        + _p("We ship worldwide.")
        + table
        + _p("Express", "Heading2")
        + '<w:p><w:r><w:t xml:space="preserve">Next </w:t></w:r><w:r><w:t>day.</w:t></w:r></w:p>'
    )
    _docx(path, body, title="Support handbook")
    doc = _doc(path)
    assert doc.title == "Support handbook"
    assert [(s.heading, s.level, s.text) for s in doc.sections] == [
        ("", 0, "Intro line."),
        ("Shipping", 1, "We ship worldwide.\n\nPlan | Price\nExpress | 9 EUR"),
        ("Express", 2, "Next day."),
    ]
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result = load_document(broken)
    assert isinstance(result, Skipped) and "could not parse" in result.reason


def test_ipynb_markdown_and_code_cells(tmp_path: Path) -> None:
    notebook = {
        "metadata": {"kernelspec": {"language": "python"}},
        "cells": [
            {"cell_type": "markdown", "source": ["# Churn model\n", "\n", "We train {func}`fit`."]},
            {"cell_type": "code", "source": "model.fit(X, y)", "outputs": [{"text": "NOISE"}]},
            {"cell_type": "markdown", "source": "## Results\n\nAUC is 0.91."},
            {"cell_type": "raw", "source": "ignored"},
        ],
        "nbformat": 4,
    }
    path = tmp_path / "churn.ipynb"
    path.write_text(json.dumps(notebook))
    doc = _doc(path)
    assert doc.title == "Churn model"
    texts = {s.heading: s.text for s in doc.sections}
    assert texts["Churn model"] == "We train fit.\n\n```python\nmodel.fit(X, y)\n```"
    assert texts["Results"] == "AUC is 0.91."
    assert "NOISE" not in str(doc.sections) and "ignored" not in str(doc.sections)
    (tmp_path / "bad.ipynb").write_text('{"cells": 3}')
    bad = load_document(tmp_path / "bad.ipynb")
    assert isinstance(bad, Skipped) and "not a Jupyter notebook" in bad.reason


def test_csv_and_json_records(tmp_path: Path) -> None:
    (tmp_path / "plans.csv").write_text("plan;price;note\nBasic;5;\nExpress;9;next day\n")
    doc = _doc(tmp_path / "plans.csv")
    assert doc.title == "plans"
    assert (
        doc.sections[0].text == "plan: Basic\nprice: 5\n\nplan: Express\nprice: 9\nnote: next day"
    )
    (tmp_path / "faq.json").write_text(
        json.dumps(
            {"version": 2, "items": [{"q": "Refunds?", "a": {"days": 14, "tags": ["x", "y"]}}]}
        )
    )
    assert _doc(tmp_path / "faq.json").sections[0].text == "q: Refunds?\na.days: 14\na.tags: x, y"
    (tmp_path / "log.jsonl").write_text('{"event": "signup"}\n\n{"event": "refund"}\n')
    assert _doc(tmp_path / "log.jsonl").sections[0].text == "event: signup\n\nevent: refund"
    (tmp_path / "broken.json").write_text("{nope")
    broken = load_document(tmp_path / "broken.json")
    assert isinstance(broken, Skipped) and broken.reason.startswith("could not parse")


def test_an_unsupported_type_names_the_readable_ones(tmp_path: Path) -> None:
    (tmp_path / "deck.pptx").write_bytes(b"PK\x03\x04")
    result = load_document(tmp_path / "deck.pptx")
    assert isinstance(result, Skipped)
    assert result.reason.startswith("unsupported file type .pptx; readable types:")
    assert ".docx" in result.reason and ".rst" in result.reason
