"""Users, tokens and who acts: tokens shown once and stored hashed, expiry, revocation,
disabled users, the OS-user-as-admin rule before any user exists, PRODLINE_ACTOR losing
its power once users exist, and ``authorize`` called first by every state-changing
operation of every part."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from prodline.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from prodline.ledger.identity import os_login, parse_expiry
from prodline.store.tables import api_tokens
from prodline.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PRODLINE_TOKEN", "PRODLINE_ACTOR", "PRODLINE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def test_token_is_shown_once_and_stored_only_as_a_keyed_hash(home: Path) -> None:
    with Workspace.open(home) as ws:
        ws.identity.add_user("ada", "admin")
        token, secret = ws.identity.create_token("ada", expires="30d")
        assert secret.startswith("plt_") and len(secret) > 40
        with ws.db.read() as conn:
            stored = conn.execute(sa.select(api_tokens)).one()
        assert secret not in {str(v) for v in stored}
        assert stored.hash == ws.identity.hash(secret) and stored.prefix == secret[:12]
        assert token.expires_at is not None
        assert timedelta(days=29) < token.expires_at - datetime.now(UTC) <= timedelta(days=30)
        assert ws.identity.tokens("ada")[0].last_used_at is None
        who = ws.identity.authenticate(secret)
        assert (who.user, who.role, who.token_id) == ("ada", "admin", token.id)
        assert ws.identity.tokens("ada")[0].last_used_at is not None
        actions = [e.action for e in sorted(ws.audit.events(), key=lambda e: e.seq)]
        assert actions == ["user.added", "token.created"]
        assert ws.audit.verify().ok


def test_expired_revoked_unknown_and_disabled_tokens_are_401(home: Path) -> None:
    with Workspace.open(home) as ws:
        ws.identity.add_user("ada", "admin")
        ws.identity.add_user("bob", "ml-engineer")
        _, short = ws.identity.create_token("bob", expires=timedelta(seconds=1))
        revoked, gone = ws.identity.create_token("bob")
        ws.identity.revoke_token(revoked.id)
        ws.identity.revoke_token(revoked.id)  # twice is harmless
        _, disabled = ws.identity.create_token("bob")
        assert ws.identity.authenticate(short).user == "bob"
        time.sleep(1.1)
        cases = {short: "expired", gone: "revoked", "plt_nope": "unknown", "abc": "malformed"}
        for secret, reason in cases.items():
            with pytest.raises(Unauthorized) as info:
                ws.identity.authenticate(secret)
            assert info.value.details["reason"] == reason
            assert "prodline token create" in info.value.message or reason == "disabled"
        ws.identity.disable_user("bob")
        with pytest.raises(Unauthorized, match="User 'bob' is disabled"):
            ws.identity.authenticate(disabled)
        states = {t.id: t.state() for t in ws.identity.tokens("bob")}
        assert sorted(states.values()) == ["active", "expired", "revoked"]
    with pytest.raises(Unauthorized, match="was revoked"):
        Workspace.open(home, token=gone)


def test_user_rules(home: Path) -> None:
    with Workspace.open(home) as ws:
        with pytest.raises(InvalidInput, match="first user must be an admin"):
            ws.identity.add_user("bob", "reviewer")
        with pytest.raises(InvalidInput, match="Unknown role 'boss'; roles are admin, "):
            ws.identity.add_user("bob", "boss")
        ws.identity.add_user("ada", "admin")
        with pytest.raises(Conflict, match="already exists"):
            ws.identity.add_user("ada", "admin")
        with pytest.raises(Conflict, match="last active admin"):
            ws.identity.disable_user("ada")
        with pytest.raises(NotFound, match="No user 'zed'; users: ada"):
            ws.identity.create_token("zed")
        with pytest.raises(InvalidInput, match="not a duration"):
            ws.identity.create_token("ada", expires="soon")
    with pytest.raises(InvalidInput, match="not in the future"):
        parse_expiry(timedelta(seconds=-1), now=datetime.now(UTC))


def test_no_users_the_os_user_is_admin_and_prodline_actor_still_names_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODLINE_ACTOR", "someone-else")
    with Workspace.open(home) as ws:
        assert ws.principal is None and ws.actor == "someone-else"
        ws.authorize("retention.purge")  # anything goes
        ws.identity.add_user("ada", "admin")
        assert _newest(ws).actor == "someone-else"
    monkeypatch.setenv("PRODLINE_TOKEN", "plt_whatever")
    with pytest.raises(Unauthorized, match="Unknown token"):
        Workspace.open(home)


def test_once_users_exist_the_actor_is_the_authenticated_user(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.open(home) as ws:
        ws.identity.add_user("ada", "admin")
        ws.identity.add_user("rita", "reviewer")
        _, rita = ws.identity.create_token("rita")
    monkeypatch.setenv("PRODLINE_ACTOR", "someone-else")
    with Workspace.open(home, actor="also-ignored") as anon:
        assert anon.principal is None and anon.actor == os_login()
        with pytest.raises(Unauthorized, match="PRODLINE_TOKEN"):
            anon.authorize("dataset.register")
        assert anon.identity.users()  # reads still work
    monkeypatch.setenv("PRODLINE_TOKEN", rita)
    with Workspace.open(home) as ws:
        assert ws.actor == "rita" and ws.principal is not None
        with pytest.raises(Forbidden, match="needs role admin; 'rita' is reviewer"):
            ws.identity.add_user("eve", "admin")
        with ws.tx() as conn:
            ws.evidence.record(conn, "model:m@1", "signoff", {"note": "ok"}, passed=True)
        event = _newest(ws)
        assert (event.action, event.actor) == ("evidence.recorded", "rita")


def test_an_os_login_that_is_a_user_acts_as_that_user(home: Path) -> None:
    with Workspace.open(home) as ws:
        ws.identity.add_user(os_login(), "admin")
        ws.identity.add_user("dora", "data-owner")
    with Workspace.open(home) as ws:
        assert ws.actor == os_login() and ws.principal is not None
        ws.identity.disable_user("dora")


def test_a_revoked_token_stops_a_long_running_session(home: Path) -> None:
    with Workspace.open(home) as ws:
        ws.identity.add_user("ada", "admin")
        token, secret = ws.identity.create_token("ada")
    with Workspace.open(home, token=secret) as worker, Workspace.open(home, token=secret) as ws:
        worker.authorize("monitor.run")
        ws.identity.revoke_token(token.id)
        worker._checked_at -= 60  # as if 60 s went by
        with pytest.raises(Unauthorized, match="revoked"):
            worker.authorize("monitor.run")


def _newest(ws: Workspace) -> Any:
    return max(ws.audit.events(), key=lambda e: e.seq)


class _Called(Exception):
    pass


def _operations() -> dict[str, Callable[[Workspace], Any]]:
    frame = pd.DataFrame({"x": [1.0]})
    return {
        "dataset.register": lambda ws: ws.datasets.register(frame, name="d", owner="o"),
        "model.create": lambda ws: ws.models.create("m"),
        "model.update": lambda ws: ws.models.update("m", risk_level="high"),
        "model.register": lambda ws: ws.models.register(object(), name="m"),
        "model.archive": lambda ws: ws.models.archive("m", 1),
        "model.promote": lambda ws: ws.promote("m", 1, "production"),
        "model.rollback": lambda ws: ws.rollback("m", "production"),
        "kb.create": lambda ws: ws.kbs.create("k", owner="o"),
        "kb.ingest": lambda ws: ws.kbs.ingest("k", []),
        "kb.remove": lambda ws: ws.kbs.remove("k", "a.md"),
        "kb.scan": lambda ws: ws.kbs.scan("k"),
        "kb.update": lambda ws: ws.kbs.update("k", privacy="redact"),
        "monitor.create": lambda ws: ws.monitors.create("mon"),
        "monitor.run": lambda ws: ws.monitors.run("mon"),
        "monitor.alert": lambda ws: ws.alerts.add("drift", "msg", subject="model:m"),
        "pipeline.register": lambda ws: ws.pipelines.register(
            "p", entrypoint="x:y", dataset="d", model="m"
        ),
        "pipeline.run": lambda ws: ws.pipelines.run("p"),
        "pipeline.approve": lambda ws: ws.pipelines.approve("p", 1),
        "pipeline.run (tick)": lambda ws: ws.pipelines.tick(),
        "review.configure": lambda ws: ws.reviews.set_policy("model", "m", mode="hold"),
        "review.configure (clear)": lambda ws: ws.reviews.clear_policy("model", "m"),
        "review.claim": lambda ws: ws.reviews.claim(1),
        "review.claim (release)": lambda ws: ws.reviews.release(1),
        "review.decide": lambda ws: ws.reviews.decide(1, "approve"),
        "cost.prices": lambda ws: ws.costs.prices.set("tokens: {}\ncompute: {}\n"),
        "evidence.record": lambda ws: ws.evidence.record(None, "s", "k", {}),  # type: ignore[arg-type]
        "feedback.add": lambda ws: ws.feedback.add("r-1", 1),
        "cost.budget": lambda ws: ws.costs.budgets.create(
            "b", scope_kind="all", scope="", period="day", amount_usd=1.0
        ),
        "cost.budget (delete)": lambda ws: ws.costs.budgets.delete("b"),
        "kpi.create": lambda ws: ws.costs.kpis.create(
            "k",
            definition="d",
            source="events",
            aggregate="mean",
            baseline=0,
            target=1,
            direction="up",
        ),
        "kpi.record": lambda ws: ws.costs.kpis.record("k", 1.0),
        "user.add": lambda ws: ws.identity.add_user("u", "admin"),
        "user.disable": lambda ws: ws.identity.disable_user("u"),
        "token.create": lambda ws: ws.identity.create_token("u"),
        "token.revoke": lambda ws: ws.identity.revoke_token(1),
    }


@pytest.mark.parametrize("label", sorted(_operations()))
def test_every_state_changing_operation_asks_authorize_first(
    label: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before touching anything (the named things do not even exist), each operation asks
    ``authorize`` for its action; a refusal therefore changes nothing."""
    asked: list[str] = []

    def spy(action: str) -> None:
        asked.append(action)
        raise _Called(action)

    with Workspace.open(home) as ws:
        monkeypatch.setattr(ws, "authorize", spy)
        with pytest.raises(_Called):
            _operations()[label](ws)
        assert asked == [label.split(" ")[0]]
        assert ws.audit.events() == []
