"""The same API on PostgreSQL: pages, the audit keyset, a gated change and a refused one."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Plane, populate

from prodline.api import ControlPlane


@pytest.mark.postgres
def test_the_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    ws, tokens = populate(tmp_path / "home", db_url=pg_url)
    try:
        with ControlPlane(ws, scheduler=False, ui=False) as cp:
            plane = Plane(ws, cp.url, tokens)
            with plane.client("ml-engineer") as client:
                page = client.get("/api/v1/models/clf/versions", params={"size": 1}).json()
                assert page["total"] == 2 and page["items"][0]["version"] == 2
                walked: list[int] = []
                before = None
                while True:
                    params = {"size": 5} | ({"before": before} if before else {})
                    got = client.get("/api/v1/audit/events", params=params).json()
                    walked += [e["seq"] for e in got["items"]]
                    if (before := got["next"]) is None:
                        break
                assert walked == sorted(walked, reverse=True) and len(walked) == len(set(walked))
                assert client.get(
                    "/api/v1/audit/events", params={"subject": "model:clf", "size": 200}
                ).json()["items"]
                refused = client.post("/api/v1/models/solo/aliases/production/rollback")
                assert refused.status_code == 409
                moved = client.post("/api/v1/models/clf/aliases/production/rollback")
                assert moved.status_code == 200 and moved.json()["version"] == 1
                graph = client.get("/api/v1/lineage", params={"node": "dataset:points@1"})
                assert {"model:clf@1", "model:clf@2"} <= {n["id"] for n in graph.json()["nodes"]}
            with plane.client("service") as client:
                assert client.get("/api/v1/models").status_code == 403
    finally:
        ws.close()
