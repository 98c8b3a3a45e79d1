"""Every main dashboard page renders in a real browser, without console errors or blocked
assets, and leaves a full-page PNG under the artifacts folder for people to look at."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import Seeded, login, shot
from playwright.sync_api import expect


def _pages(seeded: Seeded) -> list[tuple[str, str]]:
    return [
        ("overview", "/"),
        ("models", "/models"),
        ("model-detail", "/models/clf"),
        ("datasets", "/datasets"),
        ("dataset-detail", "/datasets/toy"),
        ("lineage", "/lineage?node=model:clf@2"),
        ("kbs", "/kbs"),
        ("monitors", "/monitors"),
        ("reviews", "/reviews"),
        ("review-detail", f"/reviews/{seeded.review_ids[-1]}"),
        ("audit", "/audit"),
        ("costs", "/costs"),
    ]


@pytest.fixture
def admin_page(page: Any, seeded: Seeded) -> Any:
    login(page, seeded.admin_token)
    return page


def test_main_pages_render_and_are_saved_as_png(admin_page: Any, seeded: Seeded) -> None:
    page = admin_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    saved = []
    for name, path in _pages(seeded):
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.get_by_test_id("nav")).to_be_visible()
        png = shot(page, name)
        assert png.stat().st_size > 5_000, png  # a real page, not a blank one
        saved.append(png)
    assert not problems, problems
    assert len(saved) == len(_pages(seeded))


def test_charts_are_inline_svg(admin_page: Any, seeded: Seeded) -> None:
    page = admin_page
    page.goto("/datasets/toy")
    expect(page.locator("svg").first).to_be_visible()
    page.goto("/lineage?node=model:clf@2")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph).to_be_visible()
    expect(graph.get_by_test_id("lineage-node").first).to_be_attached()  # nodes are links
