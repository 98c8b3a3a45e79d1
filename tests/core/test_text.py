"""The shared text toolkit: sentences, stems, stop words."""

from __future__ import annotations

import doctest

import pytest

from prodline.core import text
from prodline.core.text import (
    QUESTION_STOP_WORDS,
    STOP_WORDS,
    sentence_spans,
    split_sentences,
    stem,
    strip_bullet,
    strip_citations,
    terms,
    unwrap,
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Refunds take 14 days. Call us!", ["Refunds take 14 days.", "Call us!"]),
        ("See e.g. the FAQ. Dr. Ray agrees.", ["See e.g. the FAQ.", "Dr. Ray agrees."]),
        ("Version 2.5 is out. it ships", ["Version 2.5 is out. it ships"]),
        ("Yes [1]. Also [2, 3]. Done [^4].", ["Yes.", "Also.", "Done."]),
        ("- first item\n- second item", ["first item", "second item"]),
        ("1. one\n2) two", ["one", "two"]),
        ("A hard\nwrapped line.", ["A hard wrapped line."]),
        # the closing quote goes with the break (groundedness weights were fitted so)
        ('He said "Stop." Then left.', ['He said "Stop.', "Then left."]),
        ("", []),
    ],
)
def test_split_sentences(source: str, expected: list[str]) -> None:
    assert split_sentences(source) == expected


def test_headings_are_stripped_only_when_asked() -> None:
    assert split_sentences("## Refunds\n\nMoney back.") == ["## Refunds", "Money back."]
    assert split_sentences("## Refunds\n\nMoney back.", headings=True) == [
        "Refunds",
        "Money back.",
    ]


@pytest.mark.parametrize(
    ("source", "pieces"),
    [
        ("One. Two!\nThree", ["One.", "Two!", "Three"]),
        ("e.g. lower case ends too. x", ["e.g.", "lower case ends too.", "x"]),
        ("句子一。句子二！", ["句子一。", "句子二！"]),
        ("  padded  .  ", ["padded  ."]),
        ("Wait…  and see", ["Wait…", "and see"]),
        ("No end", ["No end"]),
        ("", []),
    ],
)
def test_sentence_spans_keep_offsets_into_raw_text(source: str, pieces: list[str]) -> None:
    assert [source[a:b] for a, b in sentence_spans(source)] == pieces


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("refund", "refund"),
        ("refunds", "refund"),
        ("refunded", "refund"),
        ("shipping", "ship"),
        ("shipped", "ship"),
        ("policies", "policy"),
        ("applied", "apply"),
        ("classes", "class"),
        ("business", "busine"),
        ("installations", "instal"),
        ("goes", "goe"),
        ("is", "is"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_terms_use_the_stop_list_given() -> None:
    assert terms("How long does it take within a week?") == ["long", "take", "week"]
    assert terms("How long does it take within a week?", QUESTION_STOP_WORDS) == [
        "long",
        "within",
        "week",
    ]


def test_stop_lists_keep_what_carries_meaning() -> None:
    assert {"not", "no", "never"}.isdisjoint(STOP_WORDS)
    assert {"take", "need", "know"} <= QUESTION_STOP_WORDS
    assert "within" in STOP_WORDS and "within" not in QUESTION_STOP_WORDS


def test_helpers() -> None:
    assert unwrap("a\nb\n- c\n\nd") == "a b\n- c\n\nd"
    assert strip_citations("x [1] y [doc 2]") == "x y"
    assert strip_bullet("• item") == "item"
    assert strip_bullet("# Title", headings=True) == "Title"


def test_the_parts_share_it() -> None:
    from prodline.monitor import groundedness

    assert groundedness.split_sentences is split_sentences


def test_module_examples_run() -> None:
    assert doctest.testmod(text).failed == 0
