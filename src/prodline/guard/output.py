"""Output checks: PII the answer should not hold, and leaks of the system prompt.

:func:`pii_leaks` reports personal data in an answer that the user could not already
see: values found by :func:`prodline.core.sensitivity.scan_text` in the answer that
appear in none of the *allowed* texts (the user's own messages and the cited context).
:func:`mask_leaks` hides them. :func:`new_canary` and :func:`leaks_prompt` detect an
answer that repeats the system prompt.

Why it works this way
---------------------
* **Compare values, not spellings.** A value counts as allowed when its normalized
  form occurs in an allowed text: emails, names and the rest case-folded with
  whitespace collapsed, matched on word boundaries (``45`` is not in ``145``);
  card numbers, IBANs and SSNs compared on letters and digits only (``4111 1111…`` is
  ``4111-1111…``); phone numbers on their digits, where one number ending the other
  (at least 7 digits) also matches, so ``+1 415 555 0100`` is ``(415) 555-0100``.
* **A canary instead of guessing.** Each request's system prompt carries a fresh
  random token (``pl-canary-`` and 24 hex digits, 96 random bits): it never occurs in
  documents or questions, so its presence in an answer is proof the prompt leaked.
  It is matched case-insensitively and also with every non-alphanumeric character
  removed, which catches ``p l - c a n a r y …`` and tokens split across lines.
* **Verbatim runs for the rest.** A model that paraphrases its instructions cannot
  be told from one that answers; one that *quotes* them can. ``leaks_prompt`` fires
  when :data:`LEAK_RUN_WORDS` (8) consecutive words of the system prompt occur in the
  answer, words being case-folded ``\\w+`` runs (punctuation and spacing ignored). A
  system prompt shorter than 8 words is judged on all its words, and one shorter than
  :data:`MIN_PROMPT_WORDS` (4) on the canary alone (a short run is too often a
  coincidence). Pass only the instructions, not a sentence the model is told to
  repeat (such as the abstention sentence), or the repetition reads as a leak.

Example
-------
>>> [(f.kind) for f in pii_leaks("Mail bob@example.org or ana@example.org",
...                               ["I am ana@example.org"])]
['email']
>>> canary = new_canary()
>>> leaks_prompt(f"My instructions say {canary}", canary), leaks_prompt("Hi", canary)
(True, False)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from prodline.core.sensitivity import TextFinding, scan_text
from prodline.guard.redact import LABELS

__all__ = [
    "CANARY_PREFIX",
    "LEAK_RUN_WORDS",
    "MIN_PHONE_DIGITS",
    "MIN_PROMPT_WORDS",
    "leaks_prompt",
    "mask_leaks",
    "new_canary",
    "pii_leaks",
]

CANARY_PREFIX = "pl-canary-"
LEAK_RUN_WORDS = 8  # consecutive system-prompt words in the answer that count as a leak
MIN_PROMPT_WORDS = 4  # a shorter system prompt is judged on the canary alone
MIN_PHONE_DIGITS = 7  # one phone number ending the other matches on at least this many

_COMPACT_KINDS = frozenset({"credit_card", "iban", "us_ssn"})
_WORDS = re.compile(r"\w+")
_NON_ALNUM = re.compile(r"[\W_]+")
_PHONE_RUN = re.compile(r"\+?\(?\d[\d\s().\-/]{4,}\d")


def pii_leaks(answer: str, allowed: Sequence[str]) -> list[TextFinding]:
    """PII in ``answer`` whose value appears in none of the ``allowed`` texts.

    Parameters
    ----------
    answer : str
        The model's answer, after any placeholders were restored.
    allowed : sequence of str
        What the user may see anyway: their own messages and the cited passages.

    Returns
    -------
    list of TextFinding
        The leaked spans of ``answer``, in order; empty when there are none.
    """
    findings = scan_text(answer)
    if not findings:
        return []
    texts = [t for t in allowed if t]
    folded = [_fold(t) for t in texts]
    compact = [_compact(t) for t in texts]
    phones = {_digits(m.group(0)) for t in texts for m in _PHONE_RUN.finditer(t)}
    return [
        f
        for f in findings
        if not _allowed(f.kind, answer[f.start : f.end], folded, compact, phones)
    ]


def mask_leaks(answer: str, findings: Sequence[TextFinding]) -> str:
    """``answer`` with each finding replaced by a mark naming its kind.

    >>> text = "Write to bob@example.org."
    >>> mask_leaks(text, pii_leaks(text, []))
    'Write to [REDACTED EMAIL].'
    """
    out: list[str] = []
    at = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < at:
            continue  # overlapping findings: the first one already hid this span
        label = LABELS.get(f.kind, f.kind.upper())
        out += [answer[at : f.start], f"[REDACTED {label}]"]
        at = f.end
    out.append(answer[at:])
    return "".join(out)


def new_canary() -> str:
    """A fresh, unguessable token to put in one request's system prompt.

    >>> canary = new_canary()
    >>> canary.startswith(CANARY_PREFIX), len(canary), canary != new_canary()
    (True, 34, True)
    """
    return CANARY_PREFIX + secrets.token_hex(12)


def leaks_prompt(answer: str, canary: str, system_prompt: str = "") -> bool:
    """Whether ``answer`` reveals the system prompt: its canary, or a verbatim run of it.

    Parameters
    ----------
    answer : str
        The model's answer.
    canary : str
        The token from :func:`new_canary` placed in this request's system prompt
        (``""`` to check the verbatim run only).
    system_prompt : str, optional
        The system instructions; ``LEAK_RUN_WORDS`` consecutive words of them in the
        answer count as a leak (see the module docstring for short prompts).

    Returns
    -------
    bool
        True when the prompt leaked.
    """
    if not answer:
        return False
    if canary:
        if canary.casefold() in answer.casefold():
            return True
        token = _compact(canary)
        if len(token) >= 16 and token in _compact(answer):
            return True
    prompt_words = _WORDS.findall(system_prompt.casefold())
    if len(prompt_words) < MIN_PROMPT_WORDS:
        return False
    n = min(LEAK_RUN_WORDS, len(prompt_words))
    answer_words = _WORDS.findall(answer.casefold())
    if len(answer_words) < n:
        return False
    runs = {tuple(prompt_words[i : i + n]) for i in range(len(prompt_words) - n + 1)}
    return any(tuple(answer_words[i : i + n]) in runs for i in range(len(answer_words) - n + 1))


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _compact(text: str) -> str:
    return _NON_ALNUM.sub("", text.casefold())


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _allowed(
    kind: str, value: str, folded: list[str], compact: list[str], phones: set[str]
) -> bool:
    if kind == "phone":
        digits = _digits(value)
        for seen in phones:
            if min(len(seen), len(digits)) >= MIN_PHONE_DIGITS and (
                seen.endswith(digits) or digits.endswith(seen)
            ):
                return True
    if kind in _COMPACT_KINDS or kind == "phone":
        key = _compact(value)
        if key and any(key in text for text in compact):
            return True
    needle = _fold(value)
    if not needle:
        return True
    pattern = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")
    return any(pattern.search(text) for text in folded)
