"""Pagination bounds, keyset paging of the audit log, errors: 404 JSON, 409 nothing changed."""

from __future__ import annotations

import pytest
from api_support import Plane


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 201}, "size"),
        ({"page": 0}, "page"),
        ({"page": -3}, "page"),
        ({"size": "ten"}, "size"),
        ({"page": "x"}, "page"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/models/clf/versions", "/api/v1/audit/events"])
def test_page_and_size_out_of_range_name_the_field(
    plane: Plane, path: str, params: dict[str, object], field: str
) -> None:
    with plane.client("auditor") as client:
        r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == field
    assert field in error["message"]


def test_pages_of_versions(plane: Plane) -> None:
    with plane.client("auditor") as client:
        first = client.get("/api/v1/models/clf/versions", params={"size": 1}).json()
        second = client.get("/api/v1/models/clf/versions", params={"size": 1, "page": 2}).json()
        past = client.get("/api/v1/models/clf/versions", params={"size": 1, "page": 9}).json()
        biggest = client.get("/api/v1/models/clf/versions", params={"size": 200})
    assert first["total"] == 2 and first["size"] == 1 and first["page"] == 1
    assert [v["version"] for v in first["items"]] == [2]
    assert [v["version"] for v in second["items"]] == [1]
    assert "production" in first["items"][0]["aliases"]
    assert first["items"][0]["trained_on"] == ["points@1"]
    assert past["items"] == [] and past["total"] == 2
    assert biggest.status_code == 200


def test_audit_walks_by_keyset_and_filters(plane: Plane) -> None:
    total = plane.ws.audit.count()
    with plane.client("auditor") as client:
        seen: list[int] = []
        before = None
        while True:
            params = {"size": 7} | ({"before": before} if before else {})
            page = client.get("/api/v1/audit/events", params=params).json()
            seen += [e["seq"] for e in page["items"]]
            before = page["next"]
            if before is None:
                break
        assert seen == list(range(total, 0, -1))[: len(seen)] and len(seen) >= total
        promoted = client.get("/api/v1/audit/events", params={"action": "alias.promote"}).json()
        assert promoted["items"] and {e["action"] for e in promoted["items"]} == {"alias.promote"}
        by_subject = client.get("/api/v1/audit/events", params={"subject": "model:solo"}).json()
        assert by_subject["items"]
        assert all(e["subject"].startswith("model:solo") for e in by_subject["items"])
        nobody = client.get("/api/v1/audit/events", params={"actor": "nobody"}).json()
        assert nobody == {"items": [], "page": 1, "size": 50, "next": None}
        bad = client.get("/api/v1/audit/events", params={"before": 0})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "before"
        assert client.get("/api/v1/audit/verify").json()["ok"] is True


def test_rollback_without_a_previous_version_is_409_and_changes_nothing(plane: Plane) -> None:
    before = plane.ws.models.alias_state("solo", "production")
    events = plane.ws.audit.count()
    with plane.client("ml-engineer") as client:
        r = client.post("/api/v1/models/solo/aliases/production/rollback")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert "Nothing was changed" in r.json()["error"]["message"]
    assert plane.ws.models.alias_state("solo", "production") == before
    assert plane.ws.audit.count() == events


def test_rollback_moves_the_alias_back(plane: Plane) -> None:
    with plane.client("ml-engineer") as client:
        r = client.post("/api/v1/models/clf/aliases/production/rollback")
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 and r.json()["from_version"] == 2
        history = client.get("/api/v1/models/clf/aliases/production/history").json()
        assert history["items"][0]["action"] == "rollback"
        assert history["items"][0]["actor"] == "mia"
        assert (
            client.post(
                "/api/v1/models/clf/aliases/production/promote", json={"version": 2}
            ).json()["version"]
            == 2
        )


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/models/nope", None),
        ("/api/v1/models/clf/versions/99", None),
        ("/api/v1/datasets/nope/versions", None),
        ("/api/v1/models/clf/aliases/nope/history", "alias"),
        ("/api/v1/lineage?node=model:nope@1", "node"),
        ("/api/v1/reviews/424242", None),
        ("/api/v1/nothing-here", None),
        ("/nothing-here-either", None),
    ],
)
def test_unknown_things_are_json_404(plane: Plane, path: str, field: str | None) -> None:
    with plane.client("admin") as client:
        r = client.get(path)
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error["code"] == "not_found" and error["message"]
    if field:
        assert error["details"]["field"] == field


def test_a_bad_body_is_422_naming_the_field(plane: Plane) -> None:
    with plane.client("admin") as client:
        r = client.post("/api/v1/models/clf/aliases/production/promote", json={"version": 0})
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "version"
        r = client.post("/api/v1/models/clf/aliases/production/promote", content=b"{not json")
        assert r.status_code == 422
        r = client.delete("/api/v1/models")
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_lineage_around_a_model_version(plane: Plane) -> None:
    with plane.client("reviewer") as client:
        graph = client.get("/api/v1/lineage", params={"node": "model:clf@2"}).json()
        assert client.get("/api/v1/lineage", params={"node": "x", "depth": 0}).status_code == 422
    ids = {n["id"] for n in graph["nodes"]}
    assert {"dataset:points@1", "model:clf@2"} <= ids
    assert any(e["src"] == "dataset:points@1" and e["dst"] == "model:clf@2" for e in graph["edges"])


def test_openapi_and_offline_docs(plane: Plane) -> None:
    with plane.client("auditor") as client:
        spec = client.get("/api/v1/openapi.json").json()
        docs = client.get("/api/v1/docs")
        asset = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert spec["info"]["title"] == "prodline control plane"
    assert "/api/v1/audit/events" in spec["paths"]
    assert docs.status_code == 200 and "/api/v1/docs-assets/" in docs.text
    assert "cdn" not in docs.text.lower() and asset.status_code == 200
