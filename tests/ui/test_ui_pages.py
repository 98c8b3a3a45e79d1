"""Every page renders real data with its data-testids; paging and bad input are 4xx pages."""

from __future__ import annotations

import re

import httpx
import pytest
from ui_support import Site, csrf_of

PAGES = [
    ("/", ["overview", "overview-models", "overview-events", "queue-health", "nav-models"]),
    ("/models", ["model-row"]),
    ("/models/clf", ["model-title", "version-row", "alias-row", "alias-history-row"]),
    ("/models/clf?version=1", ["gate-status", "version-row"]),
    ("/datasets", ["dataset-row"]),
    ("/datasets/points", ["schema-row", "profile-histogram"]),
    ("/lineage", ["lineage-form"]),
    ("/lineage?node=model%3Aclf%402", ["lineage-graph", "lineage-node"]),
    ("/kbs", ["kb-row"]),
    ("/kbs/docs", ["nav-kbs"]),
    ("/monitors", ["monitor-row"]),
    ("/monitors/clf-drift", ["monitor-run-row", "drift-chart", "performance-chart"]),
    ("/reviews", ["review-filters", "review-row"]),
    ("/audit", ["audit-filters", "audit-row", "verify-status", "verify-last", "verify-button"]),
]


@pytest.mark.parametrize(("path", "testids"), PAGES)
def test_page_renders(admin: httpx.Client, path: str, testids: list[str]) -> None:
    r = admin.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    for testid in testids:
        assert f'data-testid="{testid}"' in r.text, (path, testid)


def test_text_is_escaped(admin: httpx.Client) -> None:
    page = admin.get("/datasets/points").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_lineage_links_nodes_to_their_graphs(admin: httpx.Client) -> None:
    page = admin.get("/lineage", params={"node": "model:clf@2"}).text
    assert 'href="/lineage?node=dataset%3Apoints%401"' in page
    assert admin.get("/lineage?node=dataset%3Apoints%401").status_code == 200
    assert admin.get("/lineage?node=nonsense").status_code == 422
    assert admin.get("/lineage?node=model%3Anope%401").status_code == 404


def test_static_css_is_served_locally(site: Site) -> None:
    with site.browser() as b:
        css = b.get("/static/style.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert b.get("/static/..%2Fweb.py").status_code == 404


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/models?size=0", 422, "size"),
        ("/models?page=x", 422, "page"),
        ("/models/clf?version=x", 422, "version"),
        ("/models/nope", 404, "nope"),
        ("/datasets/nope", 404, "nope"),
        ("/reviews?status=bogus", 422, "status"),
        ("/reviews/999999", 404, "999999"),
        ("/audit?before=x", 422, "before"),
    ],
)
def test_bad_input_is_a_page_naming_it(
    admin: httpx.Client, path: str, status: int, field: str
) -> None:
    r = admin.get(path)
    assert r.status_code == status
    assert 'data-testid="error-message"' in r.text and field in r.text
    assert "Traceback" not in r.text


def test_audit_pages_by_keyset(admin: httpx.Client) -> None:
    first = admin.get("/audit?size=5").text
    seqs = [int(s) for s in re.findall(r'data-testid="audit-row" data-seq="(\d+)"', first)]
    assert len(seqs) == 5 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/audit\?[^"]*before=\d+)"', first)
    assert older
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    more = [int(s) for s in re.findall(r'data-testid="audit-row" data-seq="(\d+)"', second)]
    assert more and max(more) < min(seqs)
    only = admin.get("/audit", params={"action": "alias.promote"}).text
    assert only.count('data-testid="audit-row"') == 4
    assert admin.get("/audit", params={"subject": "model:other"}).status_code == 200


def test_audit_verify_runs_on_demand(site: Site) -> None:
    with site.login("auditor") as b:
        page = b.get("/audit")
        assert 'data-ok="true"' in page.text
        r = b.post("/audit/verify", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        after = b.get("/audit").text
        assert "Audit log verified: ok" in after
        assert re.search(r'data-testid="verify-last">Full verification', after)


def test_model_versions_are_paged_newest_first(admin: httpx.Client) -> None:
    first = admin.get("/models/clf", params={"size": 1}).text
    assert re.findall(r'data-testid="version-row" data-version="(\d+)"', first) == ["2"]
    second = admin.get("/models/clf", params={"size": 1, "page": 2}).text
    assert re.findall(r'data-testid="version-row" data-version="(\d+)"', second) == ["1"]
    assert 'data-testid="pager-prev"' in second
    models = admin.get("/models", params={"size": 1}).text
    assert models.count('data-testid="model-row"') == 1 and "2 in all" in models
