"""Tests for prodline.core.sensitivity: kinds, levels, evidence, sampling, speed."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodline.core import sensitivity
from prodline.core.sensitivity import (
    KINDS,
    ColumnSensitivity,
    TextFinding,
    scan_dataframe,
    scan_text,
    summarize,
)
from prodline.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _cards(n: int, rnd: random.Random, *, valid: bool = True) -> list[str]:
    out = []
    for _ in range(n):
        body = "4" + "".join(str(rnd.randint(0, 9)) for _ in range(14))
        check = _luhn_digit(body)
        if not valid:
            check = str((int(check) + 1) % 10)
        out.append(body + check)
    return out


def _iban(bban: str, country: str = "DE") -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


# --- free text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "span"),
    [
        ("Write to ana.lopez@example.org today", "email", "ana.lopez@example.org"),
        ("Call me on (415) 555-2671 after six", "phone", "(415) 555-2671"),
        ("Ring +49 30 1234567 please", "phone", "+49 30 1234567"),
        ("Card 4111 1111 1111 1111 exp 12/29", "credit_card", "4111 1111 1111 1111"),
        ("Pay to DE89 3704 0044 0532 0130 00 now", "iban", "DE89 3704 0044 0532 0130 00"),
        ("SSN 536-90-4399 on file", "us_ssn", "536-90-4399"),
        ("login from 192.168.1.10 failed", "ip_address", "192.168.1.10"),
        ("ipv6 2001:db8::1 seen", "ip_address", "2001:db8::1"),
        ("Seen by Dr. Maria Lopez today", "person_name", "Maria Lopez"),
        ("Mr. O'Brien called", "person_name", "O'Brien"),
        ("Name: Anna Müller", "person_name", "Anna Müller"),
        ("DOB: 03/12/1985", "date_of_birth", "03/12/1985"),
        ("she was born on 1990-05-01 in Graz", "date_of_birth", "1990-05-01"),
        ("MRN: 00123456", "medical_record_number", "00123456"),
        ("Patient ID: P-123456", "medical_record_number", "P-123456"),
        ("diagnosis: E11.9 confirmed", "diagnosis_code", "E11.9"),
        ("ICD-10 codes: J45.909, I10", "diagnosis_code", "I10"),
        ("Sex: F", "sex", "F"),
        ("a 45-year-old female", "sex", "female"),
        ("aged 45, non-smoker", "age", "45"),
        ("a 45-year-old female", "age", "45"),
    ],
)
def test_scan_text_finds_kind(text: str, kind: str, span: str) -> None:
    found = [(f.kind, text[f.start : f.end]) for f in scan_text(text)]
    assert (kind, span) in found


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ana at example dot org", "email"),
        ("ana@localhost", "email"),  # no public suffix
        ("call 555-12", "phone"),
        ("Card 4111 1111 1111 1112", "credit_card"),  # fails Luhn
        ("4111111111111112", "credit_card"),
        ("Pay to DE89 3704 0044 0532 0130 01", "iban"),  # bad mod-97 checksum
        ("SSN 000-12-3456", "us_ssn"),  # area 000 is never issued
        ("ref 123456789", "us_ssn"),  # bare nine digits need an ssn header
        ("version 999.1.1.1", "ip_address"),
        ("John Smith", "person_name"),  # no label: no NER, so no name
        ("Patient ID: 123456", "person_name"),
        ("shipped 03/12/1985", "date_of_birth"),  # a date is not a birth date
        ("order 00123456", "medical_record_number"),
        ("see section E11.9", "diagnosis_code"),  # no diagnosis label
        ("F grade", "sex"),
        ("age 150", "age"),  # not a human age
        ("the loan runs 5 years", "age"),
    ],
)
def test_scan_text_rejects_lookalikes(text: str, kind: str) -> None:
    assert kind not in {f.kind for f in scan_text(text)}


def test_scan_text_resolves_overlaps_to_the_specific_kind() -> None:
    text = "card 4111 1111 1111 1111"
    assert [(f.kind, f.start, f.end) for f in scan_text(text)] == [("credit_card", 5, 24)]


def test_scan_text_orders_spans_and_handles_empty() -> None:
    text = "MRN 00123456, mail ana@example.org, diagnosis E11.9"
    findings = scan_text(text)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    assert all(0 < f.score <= 1 for f in findings)
    assert scan_text("") == []
    assert scan_text("nothing to see here") == []


@pytest.mark.parametrize(
    ("kinds", "level"),
    [
        ((), "none"),
        (("email",), "pii"),
        (("sex", "age"), "pii"),
        (("diagnosis_code",), "phi"),
        (("medical_record_number",), "phi"),
        (("person_name", "diagnosis_code"), "phi"),  # a name next to a diagnosis is PHI
    ],
)
def test_summarize_level(kinds: tuple[str, ...], level: str) -> None:
    findings = [TextFinding(kind, i, i + 1, 1.0) for i, kind in enumerate(kinds)]
    assert summarize(findings) == (level, tuple(sorted(set(kinds))))


def test_summarize_of_scanned_text() -> None:
    text = "Patient: John Smith, MRN 00123456, diagnosed with E11.9"
    level, kinds = summarize(scan_text(text))
    assert level == "phi"
    assert kinds == ("diagnosis_code", "medical_record_number", "person_name")
    assert set(kinds) <= set(KINDS)


# --- columns ---------------------------------------------------------------------------

N = 60


def _column_frame() -> pd.DataFrame:
    rnd = random.Random(7)
    first = ["Anna", "John", "Maria", "Lukas", "Sofia", "Noah", "Li", "José"]
    last = ["Smith", "Müller", "Lopez", "O'Brien", "Nguyen", "Na"]
    return pd.DataFrame(
        {
            "contact": [f"user{i}@example.com" for i in range(N)],
            "tel": [f"(415) 555-{rnd.randint(1000, 9999)}" for _ in range(N)],
            "payment": _cards(N, rnd),
            "payment_bad": _cards(N, rnd, valid=False),
            "account": [_iban(f"37040044{rnd.randint(10**9, 10**10 - 1)}") for _ in range(N)],
            "account_bad": [f"DE00370400440{rnd.randint(10**8, 10**9 - 1)}" for _ in range(N)],
            "ssn": [
                f"{rnd.randint(100, 665)}-{rnd.randint(10, 99)}-{rnd.randint(1000, 9999)}"
                for _ in range(N)
            ],
            "client_ip": [f"10.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}" for _ in range(N)],
            "full_name": [f"{rnd.choice(first)} {rnd.choice(last)}" for _ in range(N)],
            "city": [rnd.choice(["New York", "Graz", "Paris", "Lyon"]) for _ in range(N)],
            "dob": [
                f"19{rnd.randint(40, 99)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}"
                for _ in range(N)
            ],
            "order_date": [f"2024-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}" for _ in range(N)],
            "mrn": [f"{rnd.randint(10**6, 10**7 - 1)}" for _ in range(N)],
            "ref": [f"MRN-{rnd.randint(10**5, 10**6 - 1)}" for _ in range(N)],
            "order_no": [f"{rnd.randint(10**6, 10**7 - 1)}" for _ in range(N)],
            "icd10": [rnd.choice(["E11", "I10", "J45.909", "E11.9"]) for _ in range(N)],
            "code": [rnd.choice(["E11.9", "I10.0", "J45.909"]) for _ in range(N)],
            "sku": [rnd.choice(["A12", "B12", "C30"]) for _ in range(N)],
            "gender": [rnd.choice(["M", "F", "X"]) for _ in range(N)],
            "grade": [rnd.choice(["M", "F", "A"]) for _ in range(N)],
            "age_years": [rnd.randint(18, 99) for _ in range(N)],
            "quantity": [rnd.randint(0, 120) for _ in range(N)],
            "patient_age": [str(rnd.randint(200, 300)) for _ in range(N)],
        }
    )


EXPECTED_COLUMNS = {
    "contact": ("email",),
    "tel": ("phone",),
    "payment": ("credit_card",),
    "payment_bad": (),
    "account": ("iban",),
    "account_bad": (),
    "ssn": ("us_ssn",),
    "client_ip": ("ip_address",),
    "full_name": ("person_name",),
    "city": (),  # name-shaped values, but the header does not say name
    "dob": ("date_of_birth",),
    "order_date": (),
    "mrn": ("medical_record_number",),
    "ref": ("medical_record_number",),  # the MRN- prefix needs no header
    "order_no": (),
    "icd10": ("diagnosis_code",),
    "code": ("diagnosis_code",),  # dotted ICD-10 codes need no header
    "sku": (),  # undotted codes do
    "gender": ("sex",),
    "grade": (),
    "age_years": ("age",),
    "quantity": (),
    "patient_age": (),  # not 0..120
}


@pytest.fixture(scope="module")
def scanned() -> dict[str, ColumnSensitivity]:
    return scan_dataframe(_column_frame())


@pytest.mark.parametrize(("column", "kinds"), sorted(EXPECTED_COLUMNS.items()))
def test_scan_dataframe_kinds(
    scanned: dict[str, ColumnSensitivity], column: str, kinds: tuple[str, ...]
) -> None:
    assert scanned[column].kinds == kinds


@pytest.mark.parametrize(("column", "kinds"), sorted(EXPECTED_COLUMNS.items()))
def test_scan_dataframe_levels(
    scanned: dict[str, ColumnSensitivity], column: str, kinds: tuple[str, ...]
) -> None:
    expected = "phi" if set(kinds) & sensitivity.MEDICAL_KINDS else "pii" if kinds else "none"
    assert scanned[column].level == expected


def test_scan_dataframe_reasons_say_whether_the_header_helped(
    scanned: dict[str, ColumnSensitivity],
) -> None:
    assert scanned["gender"].reasons == {"sex": "header+values"}
    assert scanned["contact"].reasons == {"email": "values"}
    assert scanned["code"].reasons == {"diagnosis_code": "values"}
    assert scanned["city"].reasons == {}


def test_scan_dataframe_keeps_column_order_and_serializes(
    scanned: dict[str, ColumnSensitivity],
) -> None:
    assert list(scanned) == list(EXPECTED_COLUMNS)
    payload = json.loads(json.dumps({c: s.to_dict() for c, s in scanned.items()}))
    assert payload["contact"] == {
        "column": "contact",
        "level": "pii",
        "kinds": ["email"],
        "evidence": {"email": 1.0},
        "reasons": {"email": "values"},
    }


def test_phi_when_kinds_co_occur_with_medical_ones() -> None:
    values = ["ana@example.org", "MRN-123456"] * 20
    result = scan_dataframe(pd.DataFrame({"mixed": values}))["mixed"]
    assert result.kinds == ("email", "medical_record_number")
    assert result.level == "phi"
    assert result.evidence == {"email": 0.5, "medical_record_number": 0.5}


@pytest.mark.parametrize(("min_share", "flagged"), [(0.2, True), (0.25, True), (0.3, False)])
def test_evidence_is_the_share_of_values_matched(min_share: float, flagged: bool) -> None:
    values = [f"u{i}@example.org" for i in range(10)] + ["n/a", "unknown", "-"] * 10
    result = scan_dataframe(pd.DataFrame({"notes": values}), min_share=min_share)["notes"]
    assert result.evidence == ({"email": 0.25} if flagged else {})


def test_missing_values_do_not_dilute_the_share() -> None:
    values = [f"u{i}@example.org" for i in range(10)] + [None] * 90
    result = scan_dataframe(pd.DataFrame({"email": values}))["email"]
    assert result.evidence == {"email": 1.0}


@pytest.mark.parametrize(
    ("column", "values", "kinds"),
    [
        ("age", [22.0, 35.0, np.nan, 67.0], ("age",)),
        ("age", [1500, 2000, 2500], ()),
        ("age_score", [0.25, 0.5, 0.75], ()),
        ("gender", [1, 2, 1, 2], ("sex",)),
        ("gender", list(range(10)), ()),
        ("mrn", [1234567, 7654321], ("medical_record_number",)),
        ("ssn", [536904399, 219099999], ("us_ssn",)),
        ("phone", [4155552671, 3012345678], ("phone",)),
        ("amount", [4155552671, 3012345678], ()),  # numbers are never read as phones
        ("card", [int(c) for c in _cards(5, random.Random(1))], ("credit_card",)),
        ("card", [int(c) for c in _cards(5, random.Random(1), valid=False)], ()),
        ("risk", [0, 1, 1, 0], ()),
        ("is_male", [True, False, True], ()),
    ],
)
def test_numeric_and_boolean_columns(
    column: str, values: list[object], kinds: tuple[str, ...]
) -> None:
    assert scan_dataframe(pd.DataFrame({column: values}))[column].kinds == kinds


@pytest.mark.parametrize(
    ("column", "kinds"), [("birth_date", ("date_of_birth",)), ("created_at", ())]
)
def test_datetime_columns(column: str, kinds: tuple[str, ...]) -> None:
    frame = pd.DataFrame({column: pd.to_datetime(pd.Series(["1985-03-12", "1990-07-01", None]))})
    assert scan_dataframe(frame)[column].kinds == kinds


@pytest.mark.parametrize(
    ("header", "kinds"),
    [
        ("PatientDOB", {"date_of_birth"}),
        ("first_name", {"person_name"}),
        ("customerFullName", {"person_name"}),
        ("product_name", set()),
        ("username", set()),
        ("ICD10Code", {"diagnosis_code"}),
        ("patient_id", {"medical_record_number"}),
        ("usage", set()),  # "age" only as a whole word
        ("Sex", {"sex"}),
        ("credit_amount", set()),
        ("", set()),
    ],
)
def test_header_hints(header: str, kinds: set[str]) -> None:
    assert sensitivity.header_kinds(header) == kinds


def test_german_credit_like_frame() -> None:
    rnd = random.Random(3)
    frame = pd.DataFrame(
        {
            "risk": [rnd.randint(0, 1) for _ in range(200)],
            "sex": [rnd.choice(["male", "female"]) for _ in range(200)],
            "job": [rnd.randint(0, 3) for _ in range(200)],
            "housing": [rnd.choice(["own", "free", "rent"]) for _ in range(200)],
            "saving_accounts": [rnd.choice(["little", "moderate", None]) for _ in range(200)],
            "checking_account": [rnd.choice(["little", "rich", "not_known"]) for _ in range(200)],
            "credit_amount": [rnd.randint(250, 18_424) for _ in range(200)],
            "duration": [rnd.randint(4, 72) for _ in range(200)],
            "purpose": [rnd.choice(["radio/TV", "car", "education"]) for _ in range(200)],
            "age": [rnd.randint(19, 75) for _ in range(200)],
        }
    )
    result = scan_dataframe(frame)
    flagged = {c: (s.level, s.kinds) for c, s in result.items() if s.level != "none"}
    assert flagged == {"sex": ("pii", ("sex",)), "age": ("pii", ("age",))}


def test_german_credit_demo_file() -> None:
    candidates = [
        ROOT / "examples" / "credit_risk" / "german_credit.csv",
        ROOT / "src" / "prodline" / "demo" / "data" / "german_credit.csv",
    ]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        pytest.skip("german_credit.csv is not in this checkout")
    result = scan_dataframe(pd.read_csv(path))
    assert result["sex"].level == "pii" and result["sex"].kinds == ("sex",)
    assert result["age"].level == "pii" and result["age"].kinds == ("age",)
    for column in ("purpose", "housing", "credit_amount", "duration", "risk", "job"):
        assert result[column].level == "none", column


def test_scan_is_deterministic_for_a_seed() -> None:
    rnd = random.Random(11)
    values = [rnd.choice([f"u{i}@example.org", "n/a"]) for i in range(5_000)]
    frame = pd.DataFrame({"notes": values})
    first = scan_dataframe(frame, sample=50, min_share=0.01, seed=3)
    again = scan_dataframe(frame, sample=50, min_share=0.01, seed=3)
    assert first == again
    assert first["notes"].kinds == ("email",)


def test_large_frames_are_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = sensitivity._column_shares

    def spy(values: pd.Series, hinted: frozenset[str]) -> dict[str, float]:
        seen.append(len(values))
        return original(values, hinted)

    monkeypatch.setattr(sensitivity, "_column_shares", spy)
    frame = pd.DataFrame({"email": [f"u{i}@example.org" for i in range(100_000)]})
    result = scan_dataframe(frame, sample=40)
    assert seen == [40]
    assert result["email"].evidence == {"email": 1.0}


def test_share_is_measured_on_the_sample() -> None:
    rnd = random.Random(5)
    values = [f"u{i}@example.org" if rnd.random() < 0.5 else "n/a" for i in range(1_000)]
    share = scan_dataframe(pd.DataFrame({"notes": values}), sample=10, min_share=0.01)["notes"]
    assert round(share.evidence["email"] * 10, 6).is_integer()


def test_scan_is_fast_on_a_thousand_by_ten_frame() -> None:
    rnd = random.Random(2)
    frame = pd.DataFrame(
        {
            "email": [f"user{i}@example.com" for i in range(1_000)],
            "phone": [f"(415) 555-{rnd.randint(1000, 9999)}" for _ in range(1_000)],
            "card": _cards(1_000, rnd),
            "ip": [f"10.1.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}" for _ in range(1_000)],
            "full_name": [rnd.choice(["Anna Smith", "John Doe"]) for _ in range(1_000)],
            "dob": [f"19{rnd.randint(40, 99)}-0{rnd.randint(1, 9)}-12" for _ in range(1_000)],
            "age": [rnd.randint(18, 90) for _ in range(1_000)],
            "sex": [rnd.choice(["m", "f"]) for _ in range(1_000)],
            "amount": np.random.default_rng(0).normal(100, 10, 1_000),
            "notes": [rnd.choice(["ok", "late payment", "n/a"]) for _ in range(1_000)],
        }
    )
    scan_dataframe(frame.head(5))  # import Presidio outside the timed part
    start = time.perf_counter()
    result = scan_dataframe(frame)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"scan took {elapsed:.2f}s"
    assert sum(1 for s in result.values() if s.level == "pii") == 8


def test_edge_frames() -> None:
    assert scan_dataframe(pd.DataFrame()) == {}
    frame = pd.DataFrame({"email": [None, None], "blank": ["", "  "], 3: [1, 2]})
    result = scan_dataframe(frame)
    assert list(result) == ["email", "blank", "3"]
    assert all(s.level == "none" and s.kinds == () and s.evidence == {} for s in result.values())


def test_category_and_string_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "sex": pd.Categorical(["male", "female", "male"]),
            "email": pd.array(["a@example.org", "b@example.org", pd.NA], dtype="string"),
        }
    )
    result = scan_dataframe(frame)
    assert result["sex"].kinds == ("sex",)
    assert result["email"].kinds == ("email",)


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        ([1, 2], {}, "Expected a pandas DataFrame, got list."),
        (pd.DataFrame({"a": [1]}), {"sample": 0}, "sample must be at least 1, got 0."),
        (pd.DataFrame({"a": [1]}), {"min_share": 0}, "min_share must be in (0, 1], got 0."),
        (pd.DataFrame({"a": [1]}), {"min_share": 1.5}, "min_share must be in (0, 1], got 1.5."),
        (
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            {},
            "Column names must be unique; rename the duplicates: a.",
        ),
    ],
)
def test_invalid_input(frame: object, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        scan_dataframe(frame, **kwargs)  # type: ignore[arg-type]
    assert err.value.message == message


# --- levels: one order for every part -------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "worst"),
    [([], "none"), (["none"], "none"), (["none", "pii"], "pii"), (["phi", "pii", "none"], "phi")],
)
def test_worst_level(levels: list[str], worst: str) -> None:
    assert sensitivity.worst_level(levels) == worst


def test_level_order_and_unknown_levels() -> None:
    assert sensitivity.LEVELS == ("none", "pii", "phi")
    assert [sensitivity.level_rank(lv) for lv in sensitivity.LEVELS] == [0, 1, 2]
    with pytest.raises(InvalidInput) as caught:
        sensitivity.level_rank("secret")
    assert str(caught.value) == "Sensitivity level 'secret' is unknown; use one of none, pii, phi."


@pytest.mark.parametrize(
    ("kinds", "level"),
    [((), "none"), (("email",), "pii"), (("age", "diagnosis_code"), "phi")],
)
def test_level_of_kinds(kinds: tuple[str, ...], level: str) -> None:
    assert sensitivity.level_of(kinds) == level


def test_every_part_uses_the_one_table() -> None:
    import prodline.data as data
    from prodline.rag import types

    assert types.SENSITIVITY_ORDER is sensitivity.LEVEL_ORDER
    assert data.scan_dataframe is sensitivity.scan_dataframe


def test_module_examples_run() -> None:
    import doctest

    assert doctest.testmod(sensitivity).failed == 0
