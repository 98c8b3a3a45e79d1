"""Rule tables of the PII/PHI scanner: header words, value shapes and text labels.

Kinds without a reliable shape of their own (names, birth dates, medical record
numbers, ICD-10 codes, sex, age) are recognised by these rules: in a column the header
must name the kind and the values must have its shape; in free text a label next to
the value plays the header's role. See :mod:`prodline.core.sensitivity`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DETECTORS",
    "DOB_CONTEXT",
    "Detector",
    "ICD_CONTEXT",
    "ICD_IN_TEXT",
    "KINDS",
    "MEDICAL_KINDS",
    "RANK",
    "TEXT_RULES",
    "header_kinds",
    "rule_kinds",
]

# Most specific first: when two findings overlap, the earlier kind wins.
_PRIORITY: tuple[str, ...] = (
    "credit_card",
    "iban",
    "us_ssn",
    "medical_record_number",
    "diagnosis_code",
    "email",
    "ip_address",
    "date_of_birth",
    "phone",
    "person_name",
    "sex",
    "age",
)
KINDS: tuple[str, ...] = tuple(sorted(_PRIORITY))
MEDICAL_KINDS: frozenset[str] = frozenset({"medical_record_number", "diagnosis_code"})
RANK = {kind: i for i, kind in enumerate(_PRIORITY)}

# --- Presidio recognizers: which score counts, and a cheap pre-check per kind ---------


@dataclass(frozen=True)
class Detector:
    """A Presidio recognizer's thresholds and the cheap test a text must pass first."""

    kind: str
    threshold: float  # minimum Presidio score to count
    header_threshold: float  # ... when the column header names this kind
    gate: Callable[[str, int], bool]  # cheap (text, digit count) pre-check


DETECTORS: tuple[Detector, ...] = (
    # Validated results score 1.0, failed checksums 0.0 (Presidio drops them).
    Detector("email", 0.5, 0.5, lambda t, d: "@" in t),
    Detector("credit_card", 0.5, 0.5, lambda t, d: d >= 13),
    Detector("iban", 0.5, 0.5, lambda t, d: d >= 2 and len(t) >= 15),
    # 0.5 is the delimited ddd-dd-dddd form; bare 9 digits (0.05) need an "ssn" header.
    Detector("us_ssn", 0.5, 0.05, lambda t, d: d >= 9),
    # 0.1 is the bare "::"; it needs an "ip" header.
    Detector("ip_address", 0.5, 0.1, lambda t, d: ("." in t and d >= 4) or t.count(":") >= 2),
    # Presidio gives every phonenumbers-valid match 0.4.
    Detector("phone", 0.4, 0.4, lambda t, d: d >= 7),
)


_NAME_HEADERS = {"name", "fullname", "firstname", "lastname", "surname", "forename"}
_NAME_HEADERS |= {"givenname", "familyname", "middlename", "maidenname"}
_NAME_QUALIFIERS = {"first", "last", "full", "given", "family", "middle", "maiden", "patient"}
_NAME_QUALIFIERS |= {"customer", "client", "contact", "employee", "person", "holder"}
_SEX_VOCAB = {"m", "f", "male", "female", "man", "woman", "x", "d", "w", "u", "o", "other"}
_SEX_VOCAB |= {"unknown", "non-binary", "nonbinary", "diverse", "divers", "intersex"}
_SEX_VOCAB |= {"männlich", "weiblich", "unspecified", "not specified"}
_SEX_WORDS = {"male", "female", "non-binary", "nonbinary", "intersex"}  # enough without a header

_ICD = re.compile(r"[A-TV-Z][0-9][0-9AB](?:\.?[0-9A-TV-Z]{1,4})?")
_ICD_DOTTED = re.compile(r"[A-TV-Z][0-9][0-9AB]\.[0-9A-TV-Z]{1,4}")
_MRN = re.compile(r"(?:MRN[-:# ]?\s*)?[A-Z]{0,3}-?\d{4,12}", re.IGNORECASE)
_MRN_PREFIXED = re.compile(r"MRN[-:# ]?\s*[A-Z]{0,3}-?\d{4,12}", re.IGNORECASE)
_AGE = re.compile(r"\d{1,3}(?:\.0+)?")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'\u2019][^\W\d_]+)*")
_INITIAL = re.compile(r"[^\W\d_]\.?")


def _header_tokens(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return tuple(t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t)


def header_kinds(name: str) -> frozenset[str]:
    """Kinds the column header names, e.g. ``"PatientDOB"`` -> ``{"date_of_birth"}``."""
    tokens = _header_tokens(name)
    if not tokens:
        return frozenset()
    words, compact = set(tokens), "".join(tokens)
    rules = {
        "email": "email" in compact or "mail" in words,
        "phone": bool(words & {"phone", "tel", "telephone", "mobile", "cell", "fax"})
        or "phone" in compact,
        "us_ssn": "ssn" in words or "socialsecurity" in compact,
        "iban": "iban" in words,
        "ip_address": bool(words & {"ip", "ipv4", "ipv6"}) or "ipaddress" in compact,
        "credit_card": "creditcard" in compact or bool(words & {"cc", "pan"}),
        "person_name": compact in _NAME_HEADERS
        or tokens[-1] in _NAME_HEADERS - {"name"}
        or (tokens[-1] == "name" and len(tokens) > 1 and tokens[-2] in _NAME_QUALIFIERS),
        "date_of_birth": bool(words & {"dob", "birth", "birthdate", "birthday", "born"}),
        "medical_record_number": "mrn" in words
        or "medicalrecord" in compact
        or (bool(words & {"patient", "chart"}) and bool(words & {"id", "number", "no"})),
        "diagnosis_code": any(t.startswith("icd") for t in tokens)
        or bool(words & {"diagnosis", "diagnoses", "dx", "diag"}),
        "sex": bool(words & {"sex", "gender"}),
        "age": bool(words & {"age", "ages"}),
    }
    return frozenset(kind for kind, hit in rules.items() if hit)


def _looks_like_name(value: str) -> bool:
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 3 or all(_INITIAL.fullmatch(w) for w in words):
        return False
    return all(w[0].isupper() and (_NAME_WORD.fullmatch(w) or _INITIAL.fullmatch(w)) for w in words)


def rule_kinds(value: str, hinted: frozenset[str], *, dated: bool) -> set[str]:
    """Kinds a whole cell value has by shape; header-named kinds need the header."""
    kinds: set[str] = set()
    lower = value.lower()
    if "person_name" in hinted and _looks_like_name(value):
        kinds.add("person_name")
    if "date_of_birth" in hinted and dated:
        kinds.add("date_of_birth")
    if ("medical_record_number" in hinted and _MRN.fullmatch(value)) or _MRN_PREFIXED.fullmatch(
        value
    ):
        kinds.add("medical_record_number")
    if ("diagnosis_code" in hinted and _ICD.fullmatch(value.upper())) or _ICD_DOTTED.fullmatch(
        value
    ):
        kinds.add("diagnosis_code")
    if ("sex" in hinted and lower in _SEX_VOCAB) or lower in _SEX_WORDS:
        kinds.add("sex")
    if "age" in hinted and _AGE.fullmatch(value) and float(value) <= 120:
        kinds.add("age")
    return kinds


# --- Free text: the labels that make a value sensitive -------------------------------

# A capitalized word with a lowercase letter in it (so "ID" or "MRN" is not a name).
_WORD = (
    r"(?=[A-Za-z\u00c0-\u024f'\u2019-]*[a-z\u00df-\u00ff])"
    r"[A-Z][^\W\d_]*(?:[-'\u2019][^\W\d_]+)*"
)
_FULL_NAME = rf"{_WORD}(?:[ \t]+(?:[A-Z]\.[ \t]+)?{_WORD}){{0,2}}"
TEXT_RULES: tuple[tuple[str, re.Pattern[str], float], ...] = (
    (
        "person_name",
        re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+(?P<v>{_FULL_NAME})"),
        0.6,
    ),
    (
        "person_name",
        re.compile(rf"(?i:\b(?:full name|name))[ \t]*[:=][ \t]*(?P<v>{_FULL_NAME})"),
        0.7,
    ),
    ("person_name", re.compile(rf"(?i:\bpatient)[ \t]*:?[ \t]*(?P<v>{_FULL_NAME})"), 0.6),
    (
        "medical_record_number",
        re.compile(
            r"(?i:\b(?:MRN|medical record (?:number|no\.?|#)|patient id)\b)[ \t]*[:#]?[ \t]*"
            r"(?P<v>[A-Za-z]{0,3}-?\d{4,12})\b"
        ),
        0.85,
    ),
    (
        "sex",
        re.compile(
            r"(?i:\b(?:sex|gender)\b[ \t]*[:=]?[ \t]*"
            r"(?P<v>male|female|man|woman|non-binary|nonbinary|diverse|m|f|x)\b)"
        ),
        0.7,
    ),
    (
        "sex",
        re.compile(r"(?i:\b\d{1,3}[- ](?:year|yr)s?[- ]old[ \t]+(?P<v>male|female|man|woman)\b)"),
        0.6,
    ),
    ("age", re.compile(r"(?i:\b(?:age|aged)\b)[ \t]*[:=]?[ \t]*(?P<v>\d{1,3})\b"), 0.7),
    ("age", re.compile(r"\b(?P<v>\d{1,3})[- ](?i:years?|yrs?)[- ](?i:old)\b"), 0.7),
)
ICD_CONTEXT = re.compile(
    r"(?i:\b(?:ICD-?10(?:-CM)?|ICD|diagnos[ie]s(?: code)?|dx|diagnosed with)\b)"
)
ICD_IN_TEXT = re.compile(r"\b[A-TV-Z][0-9][0-9AB](?:\.[0-9A-TV-Z]{1,4})?\b")
DOB_CONTEXT = re.compile(r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born)\b)")
