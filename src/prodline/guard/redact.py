"""PII/PHI redaction with typed, consistent placeholders that are restored in the answer.

Before a prompt and its context go to a provider that is not self-hosted, every
sensitive span :func:`prodline.core.sensitivity.scan_text` finds is replaced by a
placeholder naming its kind: ``<EMAIL_1>``, ``<PHONE_2>``, ``<PERSON_1>``. The
:class:`Vault` of one request remembers which placeholder stands for which value; the
answer that comes back is put through :func:`restore` (or, streamed, through a
:class:`StreamRestorer`), so the user reads the real values and the provider never saw
them.

Why it works this way
---------------------
* **Consistent within a request.** The same value gets the same placeholder in every
  message and passage redacted through one vault, so a model can still tell that the
  ``<EMAIL_1>`` of the question is the one of passage [2]. Values are compared exactly:
  ``Ana@x.org`` and ``ana@x.org`` are two entries, which keeps :func:`restore` exact
  (``restore(redact(t, v), v) == t`` for every text).
* **User text that looks like a placeholder is escaped.** A literal ``<EMAIL_1>``
  typed by a user (or written in a document) is itself vaulted, as ``<LITERAL_n>``,
  so every placeholder in redacted text is the vault's own and nothing the user wrote
  can be confused with a vault entry or restored into someone's address. A sensitive
  span that overlaps such a token wins (the value is hidden; restore stays exact).
* **Known values are chased.** :func:`redact_many` learns the values of all texts of
  a request first, then replaces each identifying value (not ages or sex words)
  wherever it occurs: the bare "Jane Roe" of a question is hidden because a passage
  said "Patient: Jane Roe".
* **Phones are looked for twice.** The phone matcher reads a number followed by
  another digit group (``+1 415 555 0100 2``, or a card beside it) as one invalid
  number; each remaining run of 7+ digits is scanned again on its own and with up to
  two groups trimmed at either end.
* **Placeholders are not PII.** They hold no digits of the value, no ``@`` and no
  capitalized words, so scanning redacted text finds nothing in them.
* **Unknown placeholders stay.** A model that invents ``<EMAIL_9>`` gets it back as
  written: restoring guesses nothing.
* **The vault never leaves the process.** Its ``repr`` shows counts, never values; it
  cannot be pickled or copied (``__reduce__`` raises), so it cannot end up in a
  queue, a cache or a log record by accident.

Example
-------
>>> vault = Vault()
>>> sent = redact("Mail ana@example.org, cc ana@example.org", vault)
>>> sent
'Mail <EMAIL_1>, cc <EMAIL_1>'
>>> restore("I wrote to <EMAIL_1>.", vault)
'I wrote to ana@example.org.'
>>> vault
Vault(1 value: email 1)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NoReturn

from prodline.core.sensitivity import KINDS, scan_text
from prodline.errors import InvalidInput

__all__ = [
    "LABELS",
    "LITERAL",
    "PLACEHOLDER",
    "Redaction",
    "StreamRestorer",
    "Vault",
    "redact",
    "redact_many",
    "restore",
]

LITERAL = "literal"  # the kind of user text shaped like a placeholder (not PII; not counted)
LABELS: dict[str, str] = {
    "age": "AGE",
    "credit_card": "CREDIT_CARD",
    "date_of_birth": "DATE_OF_BIRTH",
    "diagnosis_code": "DIAGNOSIS",
    "email": "EMAIL",
    "iban": "IBAN",
    "ip_address": "IP_ADDRESS",
    "medical_record_number": "MRN",
    "person_name": "PERSON",
    "phone": "PHONE",
    "sex": "SEX",
    "us_ssn": "SSN",
    LITERAL: "LITERAL",
}
PLACEHOLDER = re.compile(r"<([A-Z]+(?:_[A-Z]+)*)_([1-9][0-9]{0,8})>")
# A tail that may still grow into a placeholder: "<", "<EMA", "<EMAIL_", "<EMAIL_1".
_OPEN = re.compile(r"<[A-Z]*(?:_[A-Z]*)*(?:_[0-9]{0,9})?\Z")
_MAX_RUN = 64  # longest digit run (with separators) searched again for a missed phone
# Values replaced wherever they occur once known; ages and sex words ("45", "female")
# are too common to chase through a text, and so are very short values.
_NOT_SWEPT = frozenset({LITERAL, "age", "sex"})
_MIN_SWEPT = 3
_DIGIT_RUN = re.compile(r"\+?\(?\d[\d \t().\-/]{5,}\d\)?")
_GROUP = re.compile(r"\S+")
_TITLE_AFTER = re.compile(r"(?:\s+(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof))+\Z")
_MAX_PLACEHOLDER = 2 + max(map(len, LABELS.values())) + 1 + 9


def _label(kind: str) -> str:
    return LABELS.get(kind) or re.sub(r"[^A-Z]+", "_", kind.upper()).strip("_") or "PII"


class Vault:
    """The placeholders of one request and the values they stand for, both ways.

    Parameters
    ----------
    kinds : iterable of str, optional
        The scanner kinds to redact (default: all of
        :data:`prodline.core.sensitivity.KINDS`). Unknown kinds raise ``InvalidInput``.

    Notes
    -----
    Make one per request and drop it with the request. It is neither picklable nor
    copyable, and ``repr``/``str`` show only counts, so values cannot reach a log.
    """

    __slots__ = ("_by_placeholder", "_by_value", "_kinds", "_next")

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        chosen = frozenset(KINDS if kinds is None else kinds)
        unknown = sorted(chosen - set(KINDS))
        if unknown:
            raise InvalidInput(
                f"Cannot redact unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}.",
                field="kinds",
            )
        self._kinds = chosen
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, tuple[str, str]] = {}  # placeholder -> (kind, value)
        self._next: dict[str, int] = {}

    @property
    def kinds(self) -> frozenset[str]:
        """The scanner kinds this vault redacts."""
        return self._kinds

    def placeholder(self, kind: str, value: str) -> str:
        """The placeholder for ``value``: the one it already has, or the next of ``kind``.

        A value keeps the kind it was first vaulted under.
        """
        known = self._by_value.get(value)
        if known is not None:
            return known
        label = _label(kind)
        number = self._next.get(label, 0) + 1
        self._next[label] = number
        placeholder = f"<{label}_{number}>"
        self._by_value[value] = placeholder
        self._by_placeholder[placeholder] = (kind, value)
        return placeholder

    def value(self, placeholder: str) -> str | None:
        """The value ``placeholder`` stands for, or ``None`` if this vault did not issue it."""
        entry = self._by_placeholder.get(placeholder)
        return entry[1] if entry else None

    @property
    def placeholders(self) -> list[str]:
        """The placeholders issued so far, in order (never the values)."""
        return list(self._by_placeholder)

    def _sweepable(self) -> list[tuple[str, str]]:
        """(kind, value) of identifying values to replace wherever they occur, longest first."""
        entries = [
            (kind, value)
            for kind, value in self._by_placeholder.values()
            if kind not in _NOT_SWEPT and len(value) >= _MIN_SWEPT
        ]
        return sorted(entries, key=lambda e: -len(e[1]))

    def counts(self) -> dict[str, int]:
        """Distinct values redacted per scanner kind (escaped literals not counted)."""
        out: dict[str, int] = {}
        for kind, _ in self._by_placeholder.values():
            if kind != LITERAL:
                out[kind] = out.get(kind, 0) + 1
        return dict(sorted(out.items()))

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def __contains__(self, placeholder: object) -> bool:
        return placeholder in self._by_placeholder

    def __repr__(self) -> str:
        counts = self.counts()
        total = sum(counts.values())
        noun = "value" if total == 1 else "values"
        shown = ", ".join(f"{k} {n}" for k, n in counts.items())
        return f"Vault({total} {noun}: {shown})" if shown else f"Vault({total} {noun})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("A Vault holds redacted values and never leaves the process.")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("A Vault holds redacted values and never leaves the process.")

    def __copy__(self) -> NoReturn:
        raise TypeError("A Vault is not copied; make one per request.")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("A Vault is not copied; make one per request.")


def redact(text: str, vault: Vault) -> str:
    """``text`` with every sensitive value, and every placeholder-like token, vaulted.

    Parameters
    ----------
    text : str
        A message or passage.
    vault : Vault
        The request's vault; the same value gets the same placeholder across calls,
        and a value it already holds is replaced wherever it occurs in ``text``.

    Returns
    -------
    str
        The text with ``<KIND_n>`` placeholders. Every placeholder-shaped token in it
        was issued by ``vault``, so ``restore(redact(text, vault), vault) == text``.
    """
    return redact_many([text], vault)[0]


def redact_many(texts: Sequence[str], vault: Vault) -> list[str]:
    """Redact all the texts of one request: every value found in any of them is
    replaced in all of them.

    A name the scanner recognizes in a passage ("Patient Jane Roe") is also replaced
    where the question mentions it bare ("Is Jane Roe insured?"), which one text at a
    time could miss. Ages and sex words are replaced only where they were found.

    >>> vault = Vault()
    >>> redact_many(["Is Jane Roe insured?", "Patient: Jane Roe, plan B."], vault)
    ['Is <PERSON_1> insured?', 'Patient: <PERSON_1>, plan B.']
    """
    seen: dict[str, list[tuple[int, int]]] = {}  # phone rescans of this call (no global cache)
    found = [_findings(text, vault, seen) for text in texts]  # first learn every value
    return [
        _apply(text, vault, spans, [m.span() for m in PLACEHOLDER.finditer(text)])
        for text, spans in zip(texts, found, strict=True)
    ]


_Span = tuple[int, int, str]


def _free(start: int, end: int, taken: Iterable[tuple[int, int]]) -> bool:
    return all(end <= s or e <= start for s, e in taken)


def _findings(text: str, vault: Vault, seen: dict[str, list[tuple[int, int]]]) -> list[_Span]:
    """The scanner's spans of the vault's kinds, their values vaulted in text order."""
    spans: list[_Span] = []
    if not text:
        return spans
    for f in scan_text(text):
        if f.kind in vault.kinds:
            end = f.end
            if f.kind == "person_name":  # "Mr. John Smith  Mr. …" reads "John Smith  Mr"
                end = f.start + len(_TITLE_AFTER.sub("", text[f.start : f.end]))
            spans.append((f.start, end, f.kind))
    if "phone" in vault.kinds:
        spans += [(s, e, "phone") for s, e in _phone_rescue(text, spans, seen)]
    spans.sort()
    for start, end, kind in spans:
        vault.placeholder(kind, text[start:end])
    return spans


def _phone_rescue(
    text: str, spans: list[_Span], seen: dict[str, list[tuple[int, int]]]
) -> list[tuple[int, int]]:
    """Phones the matcher missed because a neighbouring digit group touched them.

    The phone matcher reads ``+1 415 555 0100 2`` as one invalid 12-digit number, and
    ``+1 415 555 0100  4111 1111 1111 1111`` as one number beside a card, so the phone
    is not found. Each run of 7+ digits outside the findings (of at most
    ``_MAX_RUN`` characters) is scanned on its own, and again without up to two
    whitespace-separated groups at either end, longest first.
    """
    masked = list(text)
    for start, end, _ in spans:
        masked[start:end] = "\x00" * (end - start)
    found: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer("".join(masked)):
        chunk = run.group(0)
        if len(chunk) > _MAX_RUN or sum(c.isdigit() for c in chunk) < 7:
            continue
        groups = [(run.start() + m.start(), run.start() + m.end()) for m in _GROUP.finditer(chunk)]
        k = len(groups)
        tries = sorted(
            ((i, j) for i in range(3) for j in range(k - 2, k + 1) if j - i >= 1),
            key=lambda ij: (ij[0] - ij[1], ij[0]),
        )
        for i, j in tries:
            lo, hi = groups[i][0], groups[j - 1][1]
            piece = text[lo:hi]
            if piece not in seen:
                seen[piece] = [(f.start, f.end) for f in scan_text(piece) if f.kind == "phone"]
            if seen[piece]:
                found += [(lo + s, lo + e) for s, e in seen[piece]]
                break
    return found


def _apply(
    text: str,
    vault: Vault,
    spans: list[_Span],
    literals: list[tuple[int, int]],
) -> str:
    """``text`` with ``spans``, other occurrences of known values and free literals vaulted."""
    taken = [(s, e) for s, e, _ in spans]
    for kind, value in vault._sweepable():
        at = text.find(value)
        while at >= 0:
            end = at + len(value)
            if _bounded(text, at, end) and _free(at, end, taken):
                spans.append((at, end, kind))
                taken.append((at, end))
            at = text.find(value, end)
    spans += [(s, e, LITERAL) for s, e in literals if _free(s, e, taken)]
    spans.sort()
    out: list[str] = []
    at = 0
    for start, end, kind in spans:
        out.append(text[at:start])
        out.append(vault.placeholder(kind, text[start:end]))
        at = end
    out.append(text[at:])
    return "".join(out)


def _bounded(text: str, start: int, end: int) -> bool:
    """The match is not part of a longer word or number ("Jane Roe" in "Jane Roesler")."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    inner_first, inner_last = text[start], text[end - 1]
    return not (
        (before.isalnum() and inner_first.isalnum()) or (after.isalnum() and inner_last.isalnum())
    )


def restore(text: str, vault: Vault) -> str:
    """``text`` with the vault's placeholders replaced by their values, in one pass.

    Placeholders the vault never issued (a model's inventions) are left as written; a
    restored value is never itself re-read as a placeholder.
    """

    def swap(m: re.Match[str]) -> str:
        value = vault.value(m.group(0))
        return m.group(0) if value is None else value

    return PLACEHOLDER.sub(swap, text) if "<" in text else text


class StreamRestorer:
    """Restores a streamed answer delta by delta, never emitting half a placeholder.

    A trailing ``<``, ``<EMAIL_`` or ``<EMAIL_1`` is held back until the next delta
    shows whether it closes; :meth:`flush` returns what is left at the end. The
    pieces joined equal ``restore(whole_answer, vault)``.

    Examples
    --------
    >>> vault = Vault()
    >>> _ = redact("ana@example.org", vault)
    >>> restorer = StreamRestorer(vault)
    >>> restorer.feed("Write to <EMA"), restorer.feed("IL_1> today"), restorer.flush()
    ('Write to ', 'ana@example.org today', '')
    """

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._pending = ""

    def feed(self, delta: str) -> str:
        """The restored text that is safe to emit after ``delta``."""
        text = self._pending + delta
        hold = _OPEN.search(text) if "<" in text else None
        if hold and len(text) - hold.start() <= _MAX_PLACEHOLDER:
            text, self._pending = text[: hold.start()], text[hold.start() :]
        else:
            self._pending = ""
        return restore(text, self.vault)

    def flush(self) -> str:
        """Whatever is still held back (an unclosed ``<EMAIL_`` is just text)."""
        text, self._pending = self._pending, ""
        return restore(text, self.vault)


class Redaction:
    """One request's redaction: a fresh :class:`Vault` and the operations over it.

    This is what the LLM gateway's ``redactor`` factory returns
    (``Gateway(redactor=Redaction)``); it satisfies
    :class:`prodline.llm.types.Redactor` without the gateway importing this part.

    Parameters
    ----------
    kinds : iterable of str, optional
        The scanner kinds to redact; all of them by default.

    Examples
    --------
    >>> r = Redaction()
    >>> r.redact("Call +1 415 555 0100")
    'Call <PHONE_1>'
    >>> r.restore("<PHONE_1> is open"), r.counts()
    ('+1 415 555 0100 is open', {'phone': 1})
    """

    __slots__ = ("vault",)

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self.vault = Vault(kinds)

    def redact(self, text: str) -> str:
        """``text`` with its sensitive values replaced by this request's placeholders."""
        return redact(text, self.vault)

    def redact_many(self, texts: Sequence[str]) -> list[str]:
        """All texts of the request at once: a value found in one is replaced in all."""
        return redact_many(texts, self.vault)

    def restore(self, text: str) -> str:
        """``text`` with this request's placeholders replaced by their values."""
        return restore(text, self.vault)

    def stream_restorer(self) -> StreamRestorer:
        """A restorer for one streamed answer."""
        return StreamRestorer(self.vault)

    def counts(self) -> dict[str, int]:
        """Distinct values redacted so far, per kind."""
        return self.vault.counts()

    def __repr__(self) -> str:
        return f"Redaction({self.vault!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("A Redaction holds redacted values and never leaves the process.")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("A Redaction holds redacted values and never leaves the process.")
