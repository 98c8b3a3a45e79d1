"""HTTP details both servers share: 405 with ``Allow``, error types, the OpenAPI document
(``/metrics`` is Prometheus text, 404s documented), ``/docs`` served without a CDN, and
the RAG server's ``/readyz`` after a re-ingest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rag_support import KB, REFUND_Q, ask, copy_home, in_process, open_ws, template
from serving_support import World

from prodline.serving import create_app
from prodline.serving.metrics import CONTENT_TYPE_LATEST
from prodline.serving.rag import RagOptions, create_rag_app
from prodline.workspace import Workspace

PROMETHEUS = CONTENT_TYPE_LATEST  # text/plain; version=...; the exposition format, not JSON


@pytest.fixture(scope="module")
def rag_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-http") / "home")


@pytest.fixture(scope="module")
def rag(rag_home: Path) -> Iterator[TestClient]:
    with open_ws(rag_home) as ws, in_process(ws, k=2) as client:
        yield client


@pytest.fixture
def model(make_world: Callable[[], World]) -> Iterator[TestClient]:
    world = make_world()
    with TestClient(create_app(world.ws, "clf", "production")) as client:
        yield client


@pytest.fixture(params=["model", "rag"])
def server(request: pytest.FixtureRequest) -> TestClient:
    client: TestClient = request.getfixturevalue(request.param)
    return client


def test_405_names_the_allowed_methods_in_allow(server: TestClient) -> None:
    resp = server.delete("/healthz")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET"
    error = resp.json()["error"]
    assert error["code"] == "method_not_allowed" and error["details"]["allow"] == ["GET"]
    assert "DELETE is not allowed on /healthz; use GET" in error["message"]


def test_rag_4xx_errors_are_invalid_request_errors(rag: TestClient) -> None:
    for resp in (rag.put("/v1/chat/completions", json={}), rag.get("/nowhere")):
        error = resp.json()["error"]
        assert resp.status_code in (404, 405)
        assert error["type"] == "invalid_request_error", resp.status_code
    unknown = rag.get("/nowhere").json()["error"]
    assert unknown["code"] == "not_found" and "POST /v1/chat/completions" in unknown["message"]


def test_openapi_documents_metrics_as_prometheus_text_and_the_404s(server: TestClient) -> None:
    spec = server.get("/openapi.json").json()
    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == [PROMETHEUS] and PROMETHEUS.startswith("text/plain; version=")
    metrics = server.get("/metrics")
    assert metrics.headers["content-type"] == PROMETHEUS
    for path, ops in spec["paths"].items():
        if "{" in path:  # a name in the path: another model / KB is a 404
            for op in ops.values():
                assert "404" in op["responses"], path
    assert "ErrorResponse" in spec["components"]["schemas"]


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_every_asset_from_the_server_itself(server: TestClient, page: str) -> None:
    html = server.get(page)
    assert html.status_code == 200
    urls = _asset_urls(html.text)
    assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
    for url in urls:
        resp = server.get(url)
        assert resp.status_code == 200 and len(resp.content) > 100, url
    assert any(u.endswith(("swagger-ui-bundle.js", "redoc.standalone.js")) for u in urls)


def test_an_unknown_docs_asset_is_a_404(server: TestClient) -> None:
    assert server.get("/docs-assets/../../etc/passwd").status_code == 404
    assert server.get("/docs-assets/nope.js").status_code == 404


def test_readyz_reports_the_kb_version_after_a_reingest(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    tpl = template(tmp_path_factory)
    home = copy_home(tpl, tmp_path / "home")
    with open_ws(home) as ws, in_process(ws, k=2) as http:
        before = http.get("/readyz").json()
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "refunds.md").write_text(
            "# Refund policy\n\nRefunds are issued within 30 days of receiving the item.\n"
        )
        with Workspace.open(home, actor="ingester") as other:  # as `prodline kb ingest` would
            report = other.kbs.ingest(KB, [docs])
            chunks_now = other.kbs.get(KB).chunks
        after = http.get("/readyz").json()
        answer: dict[str, Any] = http.post("/v1/chat/completions", json=ask(REFUND_Q)).json()
        card = http.get(f"/v1/models/{KB}").json()
    assert after["status"] == "ready"
    assert after["version"] == report.version == before["version"] + 1
    assert after["chunks"] == chunks_now  # the store's count now, not the one at start
    assert card["id"] == KB
    assert "30 days" in answer["choices"][0]["message"]["content"]


def test_rag_options_are_checked_when_made() -> None:
    assert RagOptions() == RagOptions(None, "phi", 0.5, 5)
    with pytest.raises(Exception, match="between 1 and"):
        RagOptions(k=0)
    assert create_rag_app.__kwdefaults__ == {"options": None, "address": None, "gateway": None}
