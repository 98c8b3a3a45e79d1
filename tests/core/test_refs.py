"""Names, NAME@REF references and lineage node ids: one set of rules."""

from __future__ import annotations

import pytest

from prodline.core.refs import (
    MAX_NAME_LENGTH,
    check_name,
    is_valid_name,
    node,
    parse_node,
    parse_ref,
)
from prodline.errors import InvalidInput


@pytest.mark.parametrize(
    "name",
    ["a", "german-credit", "credit_risk.v2", "0day", "A" * MAX_NAME_LENGTH, "x.y-z_1"],
)
def test_valid_names_pass_unchanged(name: str) -> None:
    assert check_name("Dataset", name) == name
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "-lead", ".hidden", "_under", "has space", "a/b", "a@1", "é", "A" * (MAX_NAME_LENGTH + 1)],
)
def test_invalid_names_are_refused_with_the_rule(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(InvalidInput) as caught:
        check_name("Model", name)
    assert str(caught.value) == (
        f"Model name '{name}' is not valid; use letters, digits, '.', '_' or '-' "
        "(up to 200, starting with a letter or digit)."
    )
    assert caught.value.details["field"] == "name"


def test_non_strings_are_not_names() -> None:
    assert not is_valid_name(None)
    assert not is_valid_name(3)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("credit-risk", ("credit-risk", None)),
        ("credit-risk@2", ("credit-risk", "2")),
        ("credit-risk@production", ("credit-risk", "production")),
        ("d@latest", ("d", "latest")),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, str | None]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "what", "message"),
    [
        ("@1", "model", "'@1' is not a valid model reference; write NAME or NAME@REF."),
        ("m@", "model", "'m@' is not a valid model reference; write NAME or NAME@REF."),
        ("m@1@2", "", "'m@1@2' is not a valid reference; write NAME or NAME@REF."),
        ("", "dataset", "'' is not a valid dataset reference; write NAME or NAME@REF."),
    ],
)
def test_bad_refs_are_refused(ref: str, what: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_ref(ref, what=what)
    assert str(caught.value) == message


def test_a_required_ref_names_the_fix() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_ref("m", need_ref=True)
    assert str(caught.value) == "'m' needs a version or alias: write m@1 or m@production."
    assert parse_ref("m@3", need_ref=True) == ("m", "3")


@pytest.mark.parametrize(
    ("parts", "node_id"),
    [
        (("model", "credit-risk", 2), "model:credit-risk@2"),
        (("dataset", "german.credit", "1"), "dataset:german.credit@1"),
        (("alias", "m", "production"), "alias:m@production"),
    ],
)
def test_node_ids_round_trip(parts: tuple[str, str, str | int], node_id: str) -> None:
    assert node(*parts) == node_id
    assert parse_node(node_id) == tuple(str(p) for p in parts)


@pytest.mark.parametrize("bad", ["model", "model:m", ":m@1", "model:@1", "model:m@"])
def test_bad_node_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="is not a lineage node id; write kind:name@ref"):
        parse_node(bad)


def test_ledger_node_is_the_core_one() -> None:
    from prodline.ledger import lineage

    assert lineage.node is node


def test_module_examples_run() -> None:
    import doctest

    from prodline.core import refs

    assert doctest.testmod(refs).failed == 0
