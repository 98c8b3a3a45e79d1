"""Output checks: PII the user could not already see, and system-prompt leaks."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from prodline.guard.output import (
    CANARY_PREFIX,
    LEAK_RUN_WORDS,
    leaks_prompt,
    mask_leaks,
    new_canary,
    pii_leaks,
)
from prodline.llm.prompt import SYSTEM_PROMPT


def _leaked(answer: str, allowed: list[str]) -> list[tuple[str, str]]:
    return [(f.kind, answer[f.start : f.end]) for f in pii_leaks(answer, allowed)]


def test_pii_from_nowhere_is_a_leak() -> None:
    answer = "Your refund went to bob@example.org; call +1 415 555 0100."
    assert _leaked(answer, ["How long do refunds take?", "Refunds take 14 days."]) == [
        ("email", "bob@example.org"),
        ("phone", "+1 415 555 0100"),
    ]


def test_pii_the_user_gave_or_the_context_held_is_allowed() -> None:
    answer = (
        "We will write to Ana@Example.org and call +1 (415) 555-0100 about card 4111111111111111."
    )
    allowed = [
        "My address is ana@example.org",  # case differs
        "Support line: 415 555 0100",  # no country code, other separators
        "Card on file: 4111 1111 1111 1111",  # spaces
    ]
    assert _leaked(answer, allowed) == []


def test_names_match_on_case_and_whitespace_but_whole_words() -> None:
    answer = "Patient: Jane  Roe was seen. Patient: Jane Roesler too."
    allowed = ["the patient JANE ROE, MRN 12345678."]
    assert _leaked(answer, allowed) == [("person_name", "Jane Roesler")]


def test_a_short_digit_run_in_the_context_does_not_allow_a_phone() -> None:
    answer = "Call +1 415 555 0100."
    assert _leaked(answer, ["Order 0100 shipped", "Room 555"]) == [("phone", "+1 415 555 0100")]


def test_no_pii_no_findings() -> None:
    assert pii_leaks("Refunds take 14 days [1].", []) == []
    assert pii_leaks("", ["anything"]) == []


def test_mask_leaks_names_the_kind() -> None:
    answer = "Write to bob@example.org or +1 415 555 0100."
    assert mask_leaks(answer, pii_leaks(answer, [])) == (
        "Write to [REDACTED EMAIL] or [REDACTED PHONE]."
    )
    assert mask_leaks(answer, []) == answer


def test_canaries_are_fresh_opaque_tokens() -> None:
    tokens = {new_canary() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(rf"{CANARY_PREFIX}[0-9a-f]{{24}}", t) for t in tokens)


@pytest.mark.parametrize(
    "render",
    [
        lambda c: f"Sure! My hidden token is {c}.",
        lambda c: f"TOKEN: {c.upper()}",
        lambda c: "split: " + " ".join(c),  # spaced out letter by letter
        lambda c: f"{c[:12]}\n{c[12:]}",  # broken over lines
    ],
)
def test_a_canary_in_any_disguise_is_a_leak(render: Callable[[str], str]) -> None:
    canary = new_canary()
    assert leaks_prompt(render(canary), canary)


def test_an_answer_without_the_canary_is_fine() -> None:
    canary = new_canary()
    assert not leaks_prompt("Refunds take 14 days [1].", canary, SYSTEM_PROMPT)
    assert not leaks_prompt("", canary, SYSTEM_PROMPT)
    assert not leaks_prompt(f"{CANARY_PREFIX}0000", canary)  # the prefix alone is public


def test_a_verbatim_run_of_the_system_prompt_is_a_leak() -> None:
    canary = new_canary()
    words = SYSTEM_PROMPT.split()
    quoted = " ".join(words[3 : 3 + LEAK_RUN_WORDS])
    shorter = " ".join(words[3 : 3 + LEAK_RUN_WORDS - 1])
    assert leaks_prompt(f"My instructions: {quoted.upper()}!", canary, SYSTEM_PROMPT)
    assert leaks_prompt(f"They say:\n{quoted.replace(' ', '   ')}", "", SYSTEM_PROMPT)
    assert not leaks_prompt(f"They say: {shorter}", canary, SYSTEM_PROMPT)


def test_short_system_prompts() -> None:
    assert leaks_prompt("I must be brief and polite always.", "", "Be brief and polite.")
    assert not leaks_prompt("Be brief.", "", "Be brief.")  # under 4 words: canary only
