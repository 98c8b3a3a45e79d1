"""``--auth token`` on both servers: health stays open; every other route needs a bearer
token of a service-or-better user; 401 without / bad / expired / revoked (each server's
error shape), 403 naming the role needed; checks are cached, revocation applies after
the cache time; feedback is audited under the token's user."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rag_support import copy_home, in_process, open_ws, template
from serving_support import World

from prodline.errors import InvalidInput
from prodline.serving import ServeOptions, create_app

PREDICT = "/v1/models/clf/predict"
BODY = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, -1.0]]}}


def add_users(ws: Any) -> dict[str, str]:
    """admin ada, service app, auditor aud, ml-engineer bob, each with a token."""
    ws.identity.add_user("ada", "admin")
    ws.identity.add_user("app", "service")
    ws.identity.add_user("aud", "auditor")
    ws.identity.add_user("bob", "ml-engineer")
    return {name: ws.identity.create_token(name)[1] for name in ("ada", "app", "aud", "bob")}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


@pytest.fixture
def tokens(world: World) -> dict[str, str]:
    return add_users(world.ws)


@pytest.fixture
def client(world: World, tokens: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(world.ws, "clf", "production", options=ServeOptions(auth="token"))
    with TestClient(app) as c:
        yield c


def test_health_is_open_and_everything_else_needs_a_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    for method, path in [
        ("POST", PREDICT),
        ("GET", "/metrics"),
        ("GET", "/v1/models/clf"),
        ("POST", "/v1/feedback"),
        ("POST", "/invocations"),
        ("GET", "/docs"),
    ]:
        response = client.request(method, path, json=BODY)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        error = response.json()["error"]
        assert error["code"] == "unauthorized" and error["details"] == {"reason": "missing"}
        assert "Authorization: Bearer <token>" in error["message"]


def test_roles_on_the_model_server(client: TestClient, tokens: dict[str, str]) -> None:
    for user in ("app", "bob", "ada"):
        response = client.post(PREDICT, json=BODY, headers=bearer(tokens[user]))
        assert response.status_code == 200, (user, response.text)
    response = client.post(PREDICT, json=BODY, headers=bearer(tokens["aud"]))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"].startswith("predict needs role ml-engineer or service (or admin)")
    assert "'aud' is auditor" in error["message"]
    assert error["details"]["needed"] == ["admin", "ml-engineer", "service"]
    for header in ({"Authorization": "Bearer plt_unknown"}, {"Authorization": "Basic abc"}):
        response = client.post(PREDICT, json=BODY, headers=header)
        assert response.status_code == 401
        assert response.json()["error"]["details"]["reason"] in {"unknown", "malformed"}


def test_feedback_is_audited_under_the_tokens_user(
    world: World, client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post(PREDICT, json=BODY, headers=bearer(tokens["app"]))
    rid = response.headers["x-request-id"]
    response = client.post(
        "/v1/feedback", json={"request_id": rid, "label": 1}, headers=bearer(tokens["app"])
    )
    assert response.status_code == 200, response.text
    event = max(world.ws.audit.events(), key=lambda e: e.seq)
    assert (event.action, event.actor) == ("feedback.received", "app")


def test_expired_token_refused_from_the_cache_and_revoked_after_the_cache_time(
    world: World, tokens: dict[str, str]
) -> None:
    ws = world.ws
    _, short = ws.identity.create_token("app", expires=timedelta(seconds=1))
    revoked, gone = ws.identity.create_token("app")
    app = create_app(ws, "clf", "production", options=ServeOptions(auth="token", auth_cache_s=0.3))
    with TestClient(app) as c:
        assert c.post(PREDICT, json=BODY, headers=bearer(short)).status_code == 200
        assert c.post(PREDICT, json=BODY, headers=bearer(gone)).status_code == 200
        ws.identity.revoke_token(revoked.id)
        time.sleep(1.05)
        response = c.post(PREDICT, json=BODY, headers=bearer(short))
        assert response.status_code == 401
        assert response.json()["error"]["details"]["reason"] == "expired"
        response = c.post(PREDICT, json=BODY, headers=bearer(gone))
        assert response.status_code == 401, "revocation applies once the cache time is over"
        assert "revoked" in response.json()["error"]["message"]


def test_auth_token_needs_users_and_a_known_mode(world: World) -> None:
    with pytest.raises(InvalidInput, match="--auth token needs users"):
        create_app(world.ws, "clf", "production", options=ServeOptions(auth="token"))
    with pytest.raises(InvalidInput, match="--auth 'tokens' is not one of none, token"):
        create_app(world.ws, "clf", "production", options=ServeOptions(auth="tokens"))


def test_rag_server_answers_401_and_403_in_openai_shape(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-auth") / "home")
    with open_ws(home) as ws:
        tokens = add_users(ws)
        with in_process(ws, auth="token") as client:
            assert client.get("/healthz").status_code == 200
            response = client.get("/v1/models")
            assert response.status_code == 401
            error = response.json()["error"]
            assert error["code"] == "unauthorized" and error["type"] == "invalid_request_error"
            response = client.get("/v1/models", headers=bearer(tokens["aud"]))
            assert response.status_code == 403
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error"
            assert error["message"].startswith("chat needs role ml-engineer or service")
            assert client.get("/v1/models", headers=bearer(tokens["app"])).status_code == 200
