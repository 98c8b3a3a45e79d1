"""``prodline user`` and ``prodline token``: the token printed once alone on its line, the
first-user bootstrap, role checks on the CLI once users exist (one line, exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from prodline.ledger.identity import os_login

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]


def test_users_tokens_and_role_checks(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODLINE_TOKEN", raising=False)
    assert cli("init").code == 0
    first = cli("user", "add", "ada", "--role", "admin")
    assert first.code == 0, first.err
    # ada is not the OS login: she gets a token, or nobody could act any more
    lines = first.out.strip().splitlines()
    assert lines[0] == "added user ada (admin)" and lines[1].startswith("plt_")
    assert "shown once" in first.err
    monkeypatch.setenv("PRODLINE_TOKEN", lines[1])
    made = cli("user", "add", "rita", "--role", "reviewer")
    assert made.code == 0 and made.out.strip() == "added user rita (reviewer)"
    token = cli("token", "create", "--user", "rita", "--expires", "30d")
    assert token.code == 0
    secret = token.out.strip()
    assert secret.startswith("plt_") and "\n" not in secret
    listed = json.loads(cli("token", "list", "--user", "rita", "--json").out)
    assert [(t["user"], t["state"]) for t in listed] == [("rita", "active")]
    assert secret not in cli("token", "list").out
    users = json.loads(cli("user", "list", "--json").out)
    assert [(u["name"], u["role"]) for u in users] == [("ada", "admin"), ("rita", "reviewer")]

    monkeypatch.setenv("PRODLINE_TOKEN", secret)
    refused = cli("user", "add", "eve", "--role", "admin")
    assert refused.code == 2
    assert refused.err.strip() == (
        "error: user.add needs role admin; 'rita' is reviewer. Ask an admin to do it, or to "
        "act as a user with that role."
    )
    monkeypatch.setenv("PRODLINE_TOKEN", lines[1])
    revoked = cli("token", "revoke", str(listed[0]["id"]), "--json")
    assert revoked.code == 0 and json.loads(revoked.out)["state"] == "revoked"
    monkeypatch.setenv("PRODLINE_TOKEN", secret)
    gone = cli("user", "list")
    assert gone.code == 2 and "was revoked" in gone.err
    monkeypatch.delenv("PRODLINE_TOKEN")
    anon = cli("data", "add", "x.csv", "--name", "d", "--owner", "o")
    assert anon.code == 2 and "PRODLINE_TOKEN" in anon.err
    assert cli("user", "disable", "rita").code == 2  # the OS login is not a user


def test_first_user_named_like_the_os_login_needs_no_token(cli: CLI) -> None:
    assert cli("init").code == 0
    made = cli("user", "add", os_login(), "--role", "admin")
    assert made.code == 0 and "plt_" not in made.out
    assert cli("user", "add", "svc", "--role", "service").code == 0
    assert cli("user", "disable", "svc", "--json").code == 0
    bad = cli("user", "add", "x", "--role", "boss")
    assert bad.code == 2 and "roles are admin, ml-engineer" in bad.err
