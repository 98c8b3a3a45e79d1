"""PII redaction: typed consistent placeholders, exact restore, streams, a sealed vault."""

from __future__ import annotations

import copy
import logging
import pickle
import random

import pytest

from prodline.core.sensitivity import scan_text
from prodline.errors import InvalidInput
from prodline.guard.redact import (
    PLACEHOLDER,
    Redaction,
    StreamRestorer,
    Vault,
    redact,
    redact_many,
    restore,
)

EMAIL, OTHER_EMAIL = "ana.lopez@example.org", "bob@example.com"
PHONE = "+1 415 555 0100"
CARD = "4111 1111 1111 1111"
IBAN = "DE89370400440532013000"
TICKET = (
    f"Patient Jane Roe, MRN 12345678, DOB: 1985-03-12, aged 45, sex: female, "
    f"diagnosed with E11.9. Reach her at {EMAIL} or {PHONE}; card {CARD}; "
    f"IBAN {IBAN}; last login from 10.1.2.3."
)
VALUES = [
    "Jane Roe",
    "12345678",
    "1985-03-12",
    EMAIL,
    PHONE,
    CARD,
    IBAN,
    "10.1.2.3",
    "E11.9",
]


def test_every_kind_gets_a_typed_placeholder() -> None:
    vault = Vault()
    out = redact(TICKET, vault)
    for value in VALUES:
        assert value not in out
    for placeholder in (
        "<PERSON_1>",
        "<MRN_1>",
        "<DATE_OF_BIRTH_1>",
        "<AGE_1>",
        "<SEX_1>",
        "<DIAGNOSIS_1>",
        "<EMAIL_1>",
        "<PHONE_1>",
        "<CREDIT_CARD_1>",
        "<IBAN_1>",
        "<IP_ADDRESS_1>",
    ):
        assert placeholder in out
    assert restore(out, vault) == TICKET
    assert vault.counts() == {
        "age": 1,
        "credit_card": 1,
        "date_of_birth": 1,
        "diagnosis_code": 1,
        "email": 1,
        "iban": 1,
        "ip_address": 1,
        "medical_record_number": 1,
        "person_name": 1,
        "phone": 1,
        "sex": 1,
    }


def test_same_value_same_placeholder_across_texts_of_one_request() -> None:
    vault = Vault()
    question = redact(f"Is {EMAIL} on file? Also {OTHER_EMAIL}.", vault)
    passage = redact(f"Contact: {OTHER_EMAIL}, then {EMAIL}, then {EMAIL}", vault)
    assert question == "Is <EMAIL_1> on file? Also <EMAIL_2>."
    assert passage == "Contact: <EMAIL_2>, then <EMAIL_1>, then <EMAIL_1>"
    assert vault.counts() == {"email": 2} and len(vault) == 2
    assert vault.placeholders == ["<EMAIL_1>", "<EMAIL_2>"]
    assert vault.value("<EMAIL_2>") == OTHER_EMAIL and vault.value("<EMAIL_3>") is None
    assert "<EMAIL_1>" in vault and EMAIL not in vault


def test_a_new_vault_starts_again_at_one() -> None:
    first, second = Vault(), Vault()
    redact(f"{OTHER_EMAIL}", first)
    assert redact(EMAIL, second) == "<EMAIL_1>"
    assert restore("<EMAIL_1>", first) == OTHER_EMAIL


def test_restore_leaves_invented_placeholders_and_is_one_pass() -> None:
    vault = Vault()
    redact(f"mail {EMAIL}", vault)
    answer = "Write to <EMAIL_1>, not <EMAIL_7> or <PHONE_1> or <email_1> or <EMAIL_1"
    assert restore(answer, vault) == (
        f"Write to {EMAIL}, not <EMAIL_7> or <PHONE_1> or <email_1> or <EMAIL_1"
    )
    assert restore("no placeholders here", vault) == "no placeholders here"


def test_user_text_shaped_like_a_placeholder_is_escaped_not_confused() -> None:
    vault = Vault()
    # The user literally types "<EMAIL_1>"; a real address in the context comes later.
    question = redact("What does <EMAIL_1> mean in my export? And <LITERAL_1>?", vault)
    passage = redact(f"Owner: {EMAIL}", vault)
    assert question == "What does <LITERAL_1> mean in my export? And <LITERAL_2>?"
    assert passage == "Owner: <EMAIL_1>"
    # Every placeholder in the redacted text is the vault's own ...
    for text in (question, passage):
        assert all(m.group(0) in vault for m in PLACEHOLDER.finditer(text))
    # ... so restoring gives each back exactly, never the address for the user's literal.
    assert restore(question, vault) == "What does <EMAIL_1> mean in my export? And <LITERAL_1>?"
    assert restore(passage, vault) == f"Owner: {EMAIL}"
    assert vault.counts() == {"email": 1}  # escaped literals are not PII


def test_placeholders_are_not_pii_on_a_second_pass() -> None:
    vault = Vault()
    once = redact(TICKET, vault)
    assert [f for f in scan_text(once) if "<" not in once[f.start : f.end]] == []
    spans = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(once)]
    for f in scan_text(once):
        assert all(f.end <= s or e <= f.start for s, e in spans), f
    # A second vault over already-redacted text escapes, and both restores undo it.
    outer = Vault()
    twice = redact(once, outer)
    assert outer.counts() == {} and restore(restore(twice, outer), vault) == TICKET


def test_a_value_found_in_one_text_is_hidden_in_all() -> None:
    vault = Vault()
    question, passage = redact_many(
        ["Is Jane Roe (not Jane Roesler) insured? She is 45.", "Patient: Jane Roe, aged 45."],
        vault,
    )
    assert question == "Is <PERSON_1> (not Jane Roesler) insured? She is 45."
    assert passage == "Patient: <PERSON_1>, aged <AGE_1>."  # ages are not chased
    # ... and a later single-text call still hides the known value.
    assert redact("Jane Roe called.", vault) == "<PERSON_1> called."


@pytest.mark.parametrize(
    "text",
    ["+1 415 555 0100 0", "(415) 555-0100 3 times", "call 1 2 +1 415 555 0100 3 4"],
)
def test_a_phone_touching_another_digit_group_is_still_found(text: str) -> None:
    vault = Vault()
    out = redact(text, vault)
    assert "<PHONE_1>" in out and "555" not in out and restore(out, vault) == text


def test_a_phone_beside_a_card_is_found_on_the_rescan() -> None:
    vault = Vault()
    out = redact(f" {PHONE}  {CARD} ", vault)
    assert out == " <PHONE_1>  <CREDIT_CARD_1> "


def test_kinds_can_be_limited_and_unknown_kinds_are_refused() -> None:
    vault = Vault(kinds=["email"])
    assert redact(f"{EMAIL} {PHONE}", vault) == f"<EMAIL_1> {PHONE}"
    with pytest.raises(InvalidInput, match="unknown kind"):
        Vault(kinds=["email", "shoe_size"])


def test_empty_and_clean_text_pass_through() -> None:
    vault = Vault()
    assert redact("", vault) == "" and restore("", vault) == ""
    assert redact("Refunds take 14 days.", vault) == "Refunds take 14 days."
    assert len(vault) == 0 and repr(vault) == "Vault(0 values)"


def test_vault_never_shows_or_ships_its_values(caplog: pytest.LogCaptureFixture) -> None:
    vault = Vault()
    redact(TICKET, vault)
    redaction = Redaction()
    redaction.redact(TICKET)
    for shown in (repr(vault), str(vault), f"{vault}", repr(redaction), str(redaction)):
        for value in VALUES:
            assert value not in shown
    assert repr(vault).startswith("Vault(11 values: age 1, credit_card 1")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("prodline").info("vault %s %r", vault, redaction)
    assert all(value not in caplog.text for value in VALUES)
    for obj in (vault, redaction):
        with pytest.raises(TypeError, match="never leaves the process"):
            pickle.dumps(obj)
        with pytest.raises(TypeError):
            obj.__reduce__()
        with pytest.raises(TypeError):
            copy.deepcopy(obj)
    with pytest.raises(TypeError):
        copy.copy(vault)
    assert not hasattr(vault, "__dict__")  # no vars(vault) to dump


def _stream(answer: str, vault: Vault, cuts: list[int]) -> list[str]:
    restorer = StreamRestorer(vault)
    pieces, at = [], 0
    for cut in [*cuts, len(answer)]:
        pieces.append(restorer.feed(answer[at:cut]))
        at = cut
    pieces.append(restorer.flush())
    return pieces


def test_stream_restorer_never_emits_half_a_placeholder() -> None:
    vault = Vault()
    redact(f"{EMAIL} {PHONE}", vault)
    answer = "Mail <EMAIL_1> or call <PHONE_1>; <EMAIL_9> is unknown; a < b; <EMAIL_"
    expected = restore(answer, vault)
    for cut in range(len(answer) + 1):
        pieces = _stream(answer, vault, [cut])
        assert "".join(pieces) == expected
        for piece in pieces[:-1]:  # the flush may end in the unclosed "<EMAIL_"
            stray = piece.replace("<EMAIL_9>", "").replace("a < b", "")
            assert "<EMAIL_1" not in stray and "<PHONE" not in stray
            assert not piece.endswith(("<", "<E", "<EMAIL_", "<PHONE_1"))
    # One character at a time: the placeholder comes out whole, as its value.
    pieces = _stream(answer, vault, list(range(1, len(answer))))
    assert "".join(pieces) == expected and EMAIL in pieces and PHONE in pieces


def test_stream_restorer_flushes_an_unclosed_tail_as_text() -> None:
    vault = Vault()
    redact(EMAIL, vault)
    restorer = StreamRestorer(vault)
    assert restorer.feed("see <EMAIL_1") == "see "
    assert restorer.flush() == "<EMAIL_1"
    assert restorer.feed("x < y and <b>bold</b>") == "x < y and <b>bold</b>"


def test_redaction_satisfies_the_gateway_protocol() -> None:
    from prodline.llm.types import Redactor

    redaction: Redactor = Redaction()
    sent = redaction.redact(f"I am {EMAIL}")
    assert sent == "I am <EMAIL_1>" and redaction.counts() == {"email": 1}
    restorer = redaction.stream_restorer()
    assert restorer.feed("Hi <EMA") + restorer.feed("IL_1>") + restorer.flush() == f"Hi {EMAIL}"
    assert redaction.restore("<EMAIL_1>") == EMAIL


# --- Round trips: redact -> restore is the identity; no raw value stays in what is sent --

_POOL = [EMAIL, OTHER_EMAIL, PHONE, CARD, IBAN, "Mr. John Smith", "MRN 7654321"]
_FILLER = ["Hello", " ", ",", "\n", "refund", "<EMAIL_1>", "<PHONE_2>", "<", ">", "order 42", "é"]
_RAW = [EMAIL, OTHER_EMAIL, PHONE, CARD, IBAN, "John Smith", "7654321"]


def _check_round_trip(parts: list[str]) -> None:
    vault = Vault()
    texts = ["".join(parts), " | ".join(reversed(parts))]
    sent = [redact(t, vault) for t in texts]
    for original, out in zip(texts, sent, strict=True):
        assert restore(out, vault) == original
        for value in _RAW:
            assert value not in out
        assert all(m.group(0) in vault for m in PLACEHOLDER.finditer(out))


def test_round_trip_seeded() -> None:
    rng = random.Random(10)
    for _ in range(40):
        parts = [rng.choice(_POOL + _FILLER) for _ in range(rng.randint(0, 8))]
        # separate values so that neighbours cannot fuse into one longer token
        _check_round_trip([f" {p} " if p in _POOL else p for p in parts])


def test_round_trip_property() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    part = st.one_of(
        st.sampled_from(_POOL).map(lambda p: f" {p} "),
        st.sampled_from(_FILLER),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12).map(lambda t: f" {t} "),
    )

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(part, max_size=8))
    def check(parts: list[str]) -> None:
        _check_round_trip(parts)

    check()
