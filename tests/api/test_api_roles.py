"""The role matrix over the routes, against a real server: who reads, who changes what."""

from __future__ import annotations

import pytest
from api_support import Plane

READERS = ("admin", "ml-engineer", "reviewer", "auditor")
EVERYONE = (*READERS, "service", None)

READS = [
    "/api/v1/datasets",
    "/api/v1/datasets/points",
    "/api/v1/datasets/points/versions",
    "/api/v1/datasets/points/versions/1",
    "/api/v1/models",
    "/api/v1/models/clf",
    "/api/v1/models/clf/versions",
    "/api/v1/models/clf/versions/2",
    "/api/v1/models/clf/aliases",
    "/api/v1/models/clf/aliases/production/history",
    "/api/v1/models/clf/versions/2/gate",
    "/api/v1/evidence",
    "/api/v1/kbs",
    "/api/v1/monitors",
    "/api/v1/alerts",
    "/api/v1/pipelines",
    "/api/v1/reviews",
    "/api/v1/reviews/health",
    "/api/v1/reviews/policies",
    "/api/v1/audit/events",
    "/api/v1/audit/verify",
    "/api/v1/lineage?node=model:clf@2",
    "/api/v1/openapi.json",
]


@pytest.mark.parametrize("role", EVERYONE)
def test_reads(plane: Plane, role: str | None) -> None:
    with plane.client(role) as client:
        for path in READS:
            r = client.get(path)
            if role is None:
                assert r.status_code == 401, (path, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert r.json()["error"]["details"]["reason"] == "missing"
            elif role == "service" and not path.endswith("openapi.json"):
                # the API's description is for any token; the workspace's data is not
                assert r.status_code == 403, (path, r.text)
                error = r.json()["error"]
                assert error["code"] == "forbidden"
                assert "auditor" in error["message"] and "'svc' is service" in error["message"]
            else:
                assert r.status_code == 200, (role, path, r.text)


def test_healthz_needs_no_token(plane: Plane) -> None:
    with plane.client(None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer pl_not-a-real-token-000000000000", "unknown"),
        ("Basic abc", "malformed"),
        ("Bearer", "malformed"),
    ],
)
def test_bad_tokens_are_401_naming_the_reason(plane: Plane, header: str, reason: str) -> None:
    with plane.client(None) as client:
        r = client.get("/api/v1/models", headers={"authorization": header})
    assert r.status_code == 401
    assert r.json()["error"]["details"]["reason"] in (reason, "malformed", "unknown")


@pytest.mark.parametrize("role", EVERYONE)
def test_promote_needs_ml_engineer_or_admin(plane: Plane, role: str | None) -> None:
    before = plane.ws.models.aliases("clf")
    with plane.client(role) as client:
        r = client.post(
            "/api/v1/models/clf/aliases/staging/promote", json={"version": 1, "create": True}
        )
    if role in ("admin", "ml-engineer"):
        assert r.status_code == 200, r.text
        assert r.json() == {"model": "clf", "alias": "staging", "version": 1, "action": "promote"}
        user = plane.ws.identity.authenticate(plane.tokens[role]).user
        event = plane.ws.audit.events(limit=1, subject="model:clf@staging")
        assert event and event[0].actor == user
        return
    assert plane.ws.models.aliases("clf") == before
    if role is None:
        assert r.status_code == 401
    else:
        assert r.status_code == 403, r.text
        assert "ml-engineer (or admin)" in r.json()["error"]["message"]


@pytest.mark.parametrize("role", ("reviewer", "auditor", "service", None))
def test_rollback_refused_changes_nothing(plane: Plane, role: str | None) -> None:
    before = plane.ws.models.alias_state("clf", "production")
    with plane.client(role) as client:
        r = client.post("/api/v1/models/clf/aliases/production/rollback")
    assert r.status_code == (401 if role is None else 403)
    assert plane.ws.models.alias_state("clf", "production") == before


def test_review_flow_by_role(plane: Plane) -> None:
    reviews = plane.ws.reviews
    item = reviews.submit(
        "model",
        "clf",
        mode="after",
        reason="confidence 0.52 < 0.60",
        input=[{"a": 0.1, "b": 0.2}],
        output=[{"prediction": 1}],
        version=2,
        score=0.52,
    )
    path = f"/api/v1/reviews/{item.id}"
    with plane.client("auditor") as client:
        assert client.get(path).json()["status"] == "open"
        r = client.post(f"{path}/claim")
        assert r.status_code == 403 and "reviewer" in r.json()["error"]["message"]
    with plane.client("ml-engineer") as client:
        assert client.post(f"{path}/decide", json={"decision": "approve"}).status_code == 403
    with plane.client("reviewer") as client:
        claimed = client.post(f"{path}/claim")
        assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "rex"
        bad = client.post(f"{path}/decide", json={"decision": "maybe"})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "decision"
        done = client.post(f"{path}/decide", json={"decision": "reject", "comment": "wrong"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "rejected" and done.json()["decided_by"] == "rex"
        again = client.post(f"{path}/decide", json={"decision": "approve"})
        assert again.status_code == 409
        assert client.get(path).json()["status"] == "rejected"
        missing = client.get("/api/v1/reviews/999999")
        assert missing.status_code == 404
        listed = client.get("/api/v1/reviews", params={"status": "decided"}).json()
        assert listed["total"] >= 1 and any(i["id"] == item.id for i in listed["items"])
    with plane.client("admin") as client:
        policy = {"mode": "after", "sample_rate": 0.1}
        r = client.put("/api/v1/reviews/policies/model/clf", json=policy)
        assert r.status_code == 200, r.text
        assert client.get("/api/v1/reviews/policies").json()["total"] == 1
        assert client.delete("/api/v1/reviews/policies/model/clf").status_code == 200
    with plane.client("reviewer") as client:
        r = client.put("/api/v1/reviews/policies/model/clf", json={"mode": "after"})
        assert r.status_code == 403
