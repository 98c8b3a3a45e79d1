"""The [guard] table of prodline.toml: defaults, per-route overrides, named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodline.errors import InvalidInput
from prodline.guard.policy import (
    DEFAULT_ACTIONS,
    GuardPolicy,
    load_guard_policy,
    parse_guard_policy,
)


def test_defaults_block_injection_redact_pii_block_leaks_flag_ungrounded() -> None:
    policy = GuardPolicy()
    assert dict(DEFAULT_ACTIONS) == {
        "injection": "block",
        "pii_output": "redact",
        "prompt_leak": "block",
        "groundedness": "flag",
    }
    assert policy.input and policy.canary and not policy.fail_open
    assert all(policy.action(g, "chat") == a for g, a in DEFAULT_ACTIONS.items())


def test_a_route_overrides_the_default_action_and_only_that_route(tmp_path: Path) -> None:
    (tmp_path / "prodline.toml").write_text(
        '[guard]\nfail_open = true\n[guard.actions]\ngroundedness = "block"\n'
        '[guard.routes.retrieve]\ninjection = "flag"\n'
    )
    policy = load_guard_policy(tmp_path)
    assert policy.fail_open
    assert policy.action("injection", "retrieve") == "flag"
    assert policy.action("injection", "chat") == "block"
    assert policy.action("groundedness", "chat") == "block"
    assert policy.to_dict()["routes"] == {"retrieve": {"injection": "flag"}}


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_guard_policy(tmp_path) == GuardPolicy()


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"inputs": True}, "guard.inputs"),
        ({"fail_open": "yes"}, "guard.fail_open"),
        ({"model": 3}, "guard.model"),
        ({"actions": {"injection": "redact"}}, "guard.actions.injection"),
        ({"actions": {"toxicity": "block"}}, "guard.actions.toxicity"),
        ({"actions": "block"}, "guard.actions"),
        ({"routes": {"predict": {}}}, "guard.routes.predict"),
        ({"routes": {"chat": {"pii_output": "drop"}}}, "guard.routes.chat.pii_output"),
    ],
)
def test_a_wrong_key_or_value_is_named(table: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_guard_policy(table)
    assert err.value.details["key"] == key
    assert key in err.value.message


def test_broken_toml_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "prodline.toml").write_text("[guard\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_guard_policy(tmp_path)
