"""The role matrix: every action x every role, against a table written out here by hand.

The expected sets are spelled out independently of ``prodline.core.roles`` so that a
change to the permission table has to be made twice, on purpose. The walk goes through
a real workspace: one user per role, each acting through their own token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prodline.core.roles import ACTIONS, PERMISSIONS, ROLES, role_needed
from prodline.errors import Forbidden
from prodline.workspace import Workspace

A, M, D, R, U, S = "admin", "ml-engineer", "data-owner", "reviewer", "auditor", "service"

EXPECTED: dict[str, set[str]] = {
    "user.add": {A},
    "user.disable": {A},
    "token.create": {A},
    "token.revoke": {A},
    "dataset.register": {A, M, D},
    "model.create": {A, M},
    "model.update": {A, M},
    "model.register": {A, M},
    "model.archive": {A, M},
    "model.promote": {A, M},
    "model.rollback": {A, M},
    "model.serve": {A, M},
    "kb.create": {A, M, D},
    "kb.ingest": {A, M, D},
    "kb.remove": {A, M, D},
    "kb.scan": {A, M, D},
    "kb.update": {A, M, D},
    "kb.serve": {A, M},
    "monitor.create": {A, M},
    "monitor.run": {A, M},
    "monitor.alert": {A, M},
    "pipeline.register": {A, M},
    "pipeline.run": {A, M},
    "pipeline.approve": {A, M},
    "review.configure": {A, M},
    "review.claim": {A, R},
    "review.decide": {A, R},
    "cost.prices": {A, M},
    "cost.budget": {A, M},
    "kpi.create": {A, M},
    "kpi.record": {A, M, S},
    "evidence.record": {A, M, D, R},
    "gate.check": {A, M, R},
    "gate.approve": {R},
    "gate.override": {A},
    "gate.justify": {A, M, D},
    "compliance.classify": {A, M},
    "compliance.docs": {A, M, R, U},
    "compliance.export": {A, U},
    "retention.purge": {A},
    "predict": {A, M, S},
    "chat": {A, M, S},
    "feedback.add": {A, M, S},
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Workspace]]:
    """One open workspace per role, each authenticated by that role's user's token."""
    home: Path = tmp_path_factory.mktemp("roles") / "home"
    secrets: dict[str, str] = {}
    with Workspace.open(home) as owner:
        for role in ROLES:
            owner.identity.add_user(f"u-{role}", role)
            secrets[role] = owner.identity.create_token(f"u-{role}")[1]
    opened = {role: Workspace.open(home, token=secret) for role, secret in secrets.items()}
    yield opened
    for ws in opened.values():
        ws.close()


def test_the_table_knows_exactly_these_actions() -> None:
    assert set(ACTIONS) == set(EXPECTED)
    assert set(ROLES) == {A, M, D, R, U, S}


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_every_role_against_every_action(action: str, sessions: dict[str, Workspace]) -> None:
    allowed = set()
    for role, ws in sessions.items():
        assert ws.actor == f"u-{role}" and ws.principal is not None
        try:
            ws.authorize(action)
        except Forbidden as exc:
            assert role_needed(action) in exc.message, exc.message
            assert f"'u-{role}' is {role}" in exc.message
            assert exc.details["needed"] == sorted(EXPECTED[action])
        else:
            allowed.add(role)
    assert allowed == EXPECTED[action], action
    assert set(PERMISSIONS[action]) == EXPECTED[action]


def test_unknown_action_is_refused_not_granted(sessions: dict[str, Workspace]) -> None:
    with pytest.raises(KeyError, match=r"Unknown action 'model\.promte'"):
        sessions[A].authorize("model.promte")


def test_role_needed_reads_well() -> None:
    assert role_needed("predict") == "ml-engineer or service (or admin)"
    assert role_needed("gate.approve") == "reviewer"
    assert role_needed("retention.purge") == "admin"
