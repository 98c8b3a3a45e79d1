"""Sensitivity levels (none < pii < phi) and the scanner that finds PII and PHI.

Every part speaks of sensitivity in these three levels: datasets tag columns with them,
knowledge bases tag chunks, retrieval filters on a caller's clearance and the gateway
routes on them. :func:`level_rank` orders them and :func:`worst_level` combines them.

The scanner finds personal (PII) and health (PHI) data in DataFrame columns and in free
text; its rule tables live in ``_sensitivity_rules``.

Why it works this way
---------------------
* **Presidio without NLP.** Identifiers with a fixed shape and, where one exists, a
  checksum (email, phone, credit card with Luhn, IBAN with mod-97, US SSN, IP address)
  come from Presidio's predefined pattern recognizers, called directly with
  ``nlp_artifacts=None``. No spaCy model is loaded: none ships with prodline, and a
  scan must work offline and in milliseconds. The email recognizer's domain check
  is pointed at tldextract's bundled suffix list so it never reaches for the network.
* **Rules where Presidio needs NER.** Names, birth dates, medical record numbers,
  ICD-10 codes, sex and age have no reliable shape of their own: ``"Paris"``,
  ``"1985-03-12"``, ``"0012345"``, ``"B12"``, ``"F"`` and ``45`` are as often city,
  order date, SKU, vitamin, grade and price. So for columns each of these needs the
  header to name it (``first_name``, ``dob``, ``mrn``, ``icd10``, ``sex``, ``age``)
  *and* the values to have the right shape (1-3 capitalized words; a date; 4-12
  digits; the ICD-10 pattern; a sex vocabulary; integers 0-120). Two shapes are
  distinctive enough to count without a header: ``MRN-``-prefixed numbers and dotted
  ICD-10 codes (``E11.9``); likewise the words ``male``/``female``. In free text the
  header's role is played by a label next to the value ("DOB:", "MRN", "ICD-10",
  "sex:", "aged", "Dr.").
* **Sampling.** A column is judged on at most ``sample`` non-null values drawn with a
  seeded generator, so results are stable and a 100k-row frame costs the same as a
  1k-row one. Phone validation (python-phonenumbers, ~2 ms a value) only sees the
  first 50 distinct ones. A kind is reported when its share of the values examined
  reaches ``min_share``; the share is kept as evidence.
* **Numbers are not text.** Numeric columns never go through the regex recognizers
  (``str(3.5e9)`` is not a phone). They are only checked for header-named kinds
  (age, sex codes, MRN, SSN, phone) and for Luhn-valid 13-19 digit integers.
* **Levels.** ``phi`` when a medical kind (MRN, diagnosis code) is present, because
  whatever sits beside it is then health information too; ``pii`` for any other
  kind; ``none`` otherwise.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"sex": ["male", "female"] * 3, "amount": [1169, 5951] * 3})
>>> {name: res.level for name, res in scan_dataframe(frame).items()}
{'sex': 'pii', 'amount': 'none'}
>>> [(f.kind, f.start, f.end) for f in scan_text("Write to ana@example.org")]
[('email', 9, 24)]
>>> worst_level(["pii", "none"]), level_rank("phi") > level_rank("pii")
('pii', True)
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, get_args

from prodline.core._sensitivity_rules import (
    DETECTORS,
    DOB_CONTEXT,
    ICD_CONTEXT,
    ICD_IN_TEXT,
    KINDS,
    MEDICAL_KINDS,
    RANK,
    TEXT_RULES,
    header_kinds,
    rule_kinds,
)
from prodline.errors import InvalidInput

if TYPE_CHECKING:  # imported where used: reading levels must not load pandas
    import pandas as pd

__all__ = [
    "ColumnSensitivity",
    "KINDS",
    "LEVELS",
    "LEVEL_ORDER",
    "Level",
    "MEDICAL_KINDS",
    "TextFinding",
    "level_of",
    "level_rank",
    "scan_dataframe",
    "scan_text",
    "summarize",
    "worst_level",
]

Level = Literal["none", "pii", "phi"]
LEVELS: tuple[Level, ...] = get_args(Level)
LEVEL_ORDER: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}


def level_rank(level: str) -> int:
    """The order of a level: none 0, pii 1, phi 2.

    Raises
    ------
    InvalidInput
        If ``level`` is not one of :data:`LEVELS`.
    """
    try:
        return LEVEL_ORDER[level]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"Sensitivity level {level!r} is unknown; use one of {', '.join(LEVELS)}.",
            field="sensitivity",
        ) from None


def worst_level(levels: Iterable[str]) -> Level:
    """The most sensitive of ``levels`` (``"none"`` when there are none)."""
    return LEVELS[max((level_rank(level) for level in levels), default=0)]


def level_of(kinds: Iterable[str]) -> Level:
    """The level of data holding these kinds: phi with a medical kind, pii with any."""
    found = set(kinds)
    if found & MEDICAL_KINDS:
        return "phi"
    return "pii" if found else "none"


_PHONE_BUDGET = 50  # values per column given to the (slow) phone validator


@dataclass(frozen=True)
class ColumnSensitivity:
    """What one column holds: its level, the kinds found, and the share behind each.

    ``reasons`` says per kind whether the values alone matched (``"values"``) or the
    header named the kind and the values confirmed it (``"header+values"``).
    """

    column: str
    level: Level
    kinds: tuple[str, ...]
    evidence: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable copy."""
        return {
            "column": self.column,
            "level": self.level,
            "kinds": list(self.kinds),
            "evidence": dict(self.evidence),
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True)
class TextFinding:
    """One sensitive span ``text[start:end]`` of ``kind``, with a 0..1 confidence."""

    kind: str
    start: int
    end: int
    score: float


def scan_dataframe(
    df: pd.DataFrame, *, sample: int = 500, min_share: float = 0.3, seed: int = 0
) -> dict[str, ColumnSensitivity]:
    """Tag every column of ``df`` with the sensitive kinds it holds.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to scan.
    sample : int, default 500
        Most non-null values examined per column.
    min_share : float, default 0.3
        Share of examined values a kind must match to be reported, in (0, 1].
    seed : int, default 0
        Seed of the sampler; the same frame and seed give the same result.

    Returns
    -------
    dict of str to ColumnSensitivity
        One entry per column, in column order, keyed by the column name as text.

    Raises
    ------
    InvalidInput
        If ``df`` is not a DataFrame, has duplicate column names, or ``sample`` or
        ``min_share`` is out of range.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"Expected a pandas DataFrame, got {type(df).__name__}.")
    if sample < 1:
        raise InvalidInput(f"sample must be at least 1, got {sample}.", sample=sample)
    if not 0 < min_share <= 1:
        raise InvalidInput(f"min_share must be in (0, 1], got {min_share}.", min_share=min_share)
    if df.columns.duplicated().any():
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise InvalidInput(
            f"Column names must be unique; rename the duplicates: {', '.join(dupes)}.",
            columns=dupes,
        )
    out: dict[str, ColumnSensitivity] = {}
    for name, series in df.items():
        column = str(name)
        hinted = header_kinds(column)
        values = _sample(series, sample=sample, seed=seed)
        shares = _column_shares(values, hinted) if len(values) else {}
        kept = {k: round(s, 4) for k, s in shares.items() if s >= min_share}
        kinds = tuple(sorted(kept))
        out[column] = ColumnSensitivity(
            column=column,
            level=level_of(kinds),
            kinds=kinds,
            evidence={k: kept[k] for k in kinds},
            reasons={k: "header+values" if k in hinted else "values" for k in kinds},
        )
    return out


def scan_text(text: str) -> list[TextFinding]:
    """Find sensitive spans in free text, ordered by position; overlaps are resolved.

    Parameters
    ----------
    text : str
        Any text, e.g. a document chunk.

    Returns
    -------
    list of TextFinding
        Non-overlapping findings; where two overlapped, the more specific kind won
        (a Luhn-valid card number is not also reported as a phone number).
    """
    if not text:
        return []
    patterns = _find_patterns([text], frozenset(), phone_upto=1)[0]
    return _resolve(patterns + _labelled(text))


def summarize(findings: Iterable[TextFinding]) -> tuple[Level, tuple[str, ...]]:
    """Reduce findings to the level of the whole text and its sorted kinds."""
    kinds = tuple(sorted({f.kind for f in findings}))
    return level_of(kinds), kinds


# --- Presidio recognizers ------------------------------------------------------------


@functools.cache
def _recognizers() -> dict[str, Any]:
    """Build the recognizers once; importing Presidio takes about a second."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class _OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return offline(pattern_text).fqdn != ""

    return {
        "email": _OfflineEmailRecognizer(),
        "credit_card": CreditCardRecognizer(),
        "iban": IbanRecognizer(),
        "us_ssn": UsSsnRecognizer(),
        "ip_address": IpRecognizer(),
        "phone": PhoneRecognizer(),
        "date": DateRecognizer(),
    }


def _find_patterns(
    texts: list[str], hinted: frozenset[str], *, phone_upto: int
) -> list[list[TextFinding]]:
    """Run the recognizers over many texts at once; one list of findings per text.

    Each regex recognizer sees the texts joined by newlines (no pattern spans a line
    break), which costs one Presidio call instead of one per value. Phone validation
    runs per text, only on the first ``phone_upto`` texts, and only where at least
    seven digits lie outside higher-priority findings (anything else would lose to
    them in :func:`_resolve`).
    """
    found: list[list[TextFinding]] = [[] for _ in texts]
    digits = [sum(map(str.isdigit, t)) for t in texts]
    for det in DETECTORS:
        threshold = det.header_threshold if det.kind in hinted else det.threshold
        if det.kind == "phone":
            for i, text in enumerate(texts[:phone_upto]):
                taken = sum(sum(map(str.isdigit, text[f.start : f.end])) for f in found[i])
                if digits[i] - taken >= 7:
                    found[i].extend(_hits(det.kind, text, threshold))
            continue
        chosen = [i for i, text in enumerate(texts) if det.gate(text, digits[i])]
        for i, hits in zip(
            chosen, _batched(det.kind, [texts[i] for i in chosen], threshold), strict=True
        ):
            found[i].extend(hits)
    return found


def _batched(kind: str, texts: list[str], threshold: float) -> list[list[TextFinding]]:
    """``[_hits(kind, t, threshold) for t in texts]`` in one Presidio call."""
    per_text: list[list[TextFinding]] = [[] for _ in texts]
    if not texts:
        return per_text
    starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
    for hit in _hits(kind, "\n".join(texts), threshold):
        k = bisect.bisect_right(starts, hit.start) - 1
        if hit.end <= starts[k] + len(texts[k]):  # never true across a line break anyway
            shift = starts[k]
            per_text[k].append(TextFinding(kind, hit.start - shift, hit.end - shift, hit.score))
    return per_text


def _hits(kind: str, text: str, threshold: float) -> list[TextFinding]:
    recognizer = _recognizers()[kind]
    results = recognizer.analyze(text, entities=recognizer.supported_entities, nlp_artifacts=None)
    return [
        TextFinding(kind, r.start, r.end, round(float(r.score), 4))
        for r in results
        if r.score >= threshold
    ]


def _dated(texts: list[str]) -> set[str]:
    """The texts that contain a date (Presidio score 0.6 or more)."""
    candidates = [t for t in texts if len(t) <= 40 and sum(map(str.isdigit, t)) >= 4]
    return {
        t for t, hits in zip(candidates, _batched("date", candidates, 0.6), strict=True) if hits
    }


def _resolve(findings: list[TextFinding]) -> list[TextFinding]:
    kept: list[TextFinding] = []
    for f in sorted(findings, key=lambda f: (RANK[f.kind], -f.score, f.start - f.end, f.start)):
        if all(f.end <= k.start or k.end <= f.start for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))


# --- Columns -------------------------------------------------------------------------


def _sample(series: pd.Series, *, sample: int, seed: int) -> pd.Series:
    import numpy as np

    values = series.dropna()
    if len(values) > sample:
        rows = np.random.default_rng(seed).choice(len(values), size=sample, replace=False)
        values = values.iloc[rows]
    return values


def _column_shares(values: pd.Series, hinted: frozenset[str]) -> dict[str, float]:
    import pandas as pd

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return {}
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if "date_of_birth" not in hinted:
            return {}
        years = values.dt.year
        return {"date_of_birth": float(((years >= 1900) & (years <= date.today().year)).mean())}
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric_shares(values, hinted)
    return _string_shares([str(v).strip() for v in values], hinted)


def _numeric_shares(values: pd.Series, hinted: frozenset[str]) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    nums = values.to_numpy(dtype=np.float64)
    whole = np.isfinite(nums) & (np.floor(nums) == nums)
    checks = {
        "age": whole & (nums >= 0) & (nums <= 120),
        "medical_record_number": whole & (nums >= 1_000) & (nums < 1e12),
        "us_ssn": whole & (nums >= 1_000_000) & (nums < 1e9),
        "phone": whole & (nums >= 1e6) & (nums < 1e15),
    }
    shares = {k: float(mask.mean()) for k, mask in checks.items() if k in hinted}
    if "sex" in hinted:  # codes such as 0/1 or 1/2
        shares["sex"] = 1.0 if np.unique(nums).size <= 3 else 0.0
    if pd.api.types.is_integer_dtype(values.dtype):
        texts = [str(v) for v in values.tolist() if 10**12 <= abs(v) < 10**19]
        cards = sum(1 for t in texts if _hits("credit_card", t, 0.5))
        if cards:
            shares["credit_card"] = cards / len(values)
    return shares


def _string_shares(values: list[str], hinted: frozenset[str]) -> dict[str, float]:
    counts = Counter(v for v in values if v)  # insertion-ordered: the sample's order
    if not counts:
        return {}
    dated = _dated(list(counts)) if "date_of_birth" in hinted else set()
    kinds = {v: frozenset(rule_kinds(v, hinted, dated=v in dated)) for v in counts}
    # A value that wholly has a rule shape (an MRN, an age) is not re-read as a phone.
    rest = [value for value, ruled in kinds.items() if not ruled]
    findings = _find_patterns(rest, hinted, phone_upto=_PHONE_BUDGET)
    for value, found in zip(rest, findings, strict=True):
        kinds[value] = frozenset(f.kind for f in _resolve(found))
    phone_checked = set(rest[:_PHONE_BUDGET]) | {v for v, ruled in kinds.items() if ruled}
    total = sum(counts.values())
    phone_total = sum(c for v, c in counts.items() if v in phone_checked)
    hits: Counter[str] = Counter()
    for value, count in counts.items():
        for kind in kinds[value]:
            hits[kind] += count
    return {k: c / (phone_total if k == "phone" else total) for k, c in hits.items()}


# --- Free text: labelled values ------------------------------------------------------


def _labelled(text: str) -> list[TextFinding]:
    """Findings that need a label next to the value, since the value alone is ambiguous."""
    found: list[TextFinding] = []
    for kind, pattern, score in TEXT_RULES:
        for m in pattern.finditer(text):
            if kind == "age" and int(m.group("v")) > 120:
                continue
            found.append(TextFinding(kind, m.start("v"), m.end("v"), score))
    for ctx in ICD_CONTEXT.finditer(text):
        window = text[ctx.end() : ctx.end() + 60]
        for m in ICD_IN_TEXT.finditer(window):
            found.append(
                TextFinding("diagnosis_code", ctx.end() + m.start(), ctx.end() + m.end(), 0.8)
            )
    if DOB_CONTEXT.search(text):
        for d in _hits("date", text, 0.6):
            if DOB_CONTEXT.search(text[max(0, d.start - 30) : d.start]):
                found.append(TextFinding("date_of_birth", d.start, d.end, 0.85))
    return found
