"""Normalization unmasks disguises without mangling ordinary text."""

from __future__ import annotations

import base64
import os

import pytest

from prodline.guard.normalize import MAX_VARIANTS, normalize


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII question about sorting lists?",
        "Привет, как дела?",  # real Cyrillic is kept, not folded
        "Καλημέρα κόσμε",
        "The sha256 is 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
        "Install mp3 tools and 7zip on Windows 10",
    ],
)
def test_ordinary_text_has_no_signals(text: str) -> None:
    result = normalize(text)
    assert result.signals == ()
    assert result.text == text
    assert result.variants == ()


def test_binary_base64_is_not_a_variant() -> None:
    blob = base64.b64encode(os.urandom(48)).decode()
    assert "base64" not in normalize(f"attachment: {blob}").signals


def test_variants_are_capped() -> None:
    runs = " ".join(
        base64.b64encode(f"hello there number {i}".encode()).decode() for i in range(40)
    )
    assert len(normalize(runs).variants) <= MAX_VARIANTS


def test_invisible_and_bidi_characters_are_removed() -> None:
    result = normalize("a\u200bb\u202ec\ufeffd")
    assert result.text == "abcd"
    assert set(result.signals) == {"zero_width", "bidi"}
