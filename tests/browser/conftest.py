"""Browser fixtures: Debian's Chromium driven by Playwright against a live control plane.

One seeded workspace and one control-plane server (``prodline.api.server.ControlPlane``,
UI mounted, auth on) per session; one browser per test module; a fresh browser context
(no cookies) per test. The workspace holds users ``admin`` and ``reviewer`` with tokens,
a dataset, model ``clf`` with two versions whose ``production`` alias moved twice, an
empty knowledge base, a monitor and open review items.

Chromium is ``/usr/bin/chromium`` (Playwright never downloads a browser here). Without
it the tests skip with the reason, unless ``PRODLINE_REQUIRE_BROWSER`` is set (CI), when
they fail. Screenshots go to ``PRODLINE_TEST_ARTIFACTS`` (default ``tests/artifacts/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, Seeded

from prodline.workspace import Workspace


def _seed(home: Path) -> tuple[str, str, list[int]]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x1": rng.normal(size=120), "x2": rng.normal(size=120)})
    frame["label"] = (frame.x1 - frame.x2 > 0).astype(int)
    ws = Workspace.open(home, actor="seeder")
    try:
        ws.datasets.register(frame, name="toy", owner="tests", source="synthetic")
        features = frame[["x1", "x2"]]
        for labels in (frame["label"], 1 - frame["label"]):
            model = LogisticRegression().fit(features, labels)
            ws.models.register(
                model, name="clf", trained_on=["toy@1"], target="label", metrics={"auc": 0.9}
            )
        ws.promote("clf", 1, "production")
        ws.promote("clf", 2, "production")
        ws.kbs.create("handbook", owner="support", description="Support handbook")
        ws.monitors.create("clf-drift", model="clf@production", reference="toy@1")
        ids = [
            ws.reviews.submit(
                "model",
                "clf",
                version=2,
                mode="after",
                reason=f"confidence 0.5{i} < 0.60",
                request_id=f"req-{i}",
                input=[{"x1": 0.1 * i, "x2": -0.2}],
                output=[{"prediction": i % 2, "probabilities": [0.49, 0.51]}],
                score=0.5 + i / 100,
            ).id
            for i in range(4)
        ]
        ws.identity.add_user("admin", "admin")
        ws.identity.add_user("reviewer", "reviewer")
        _, admin = ws.identity.create_token("admin")
        _, reviewer = ws.identity.create_token("reviewer")
    finally:
        ws.close()
    return admin, reviewer, ids


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded workspace behind a live control plane (UI at ``/``, auth on)."""
    home = tmp_path_factory.mktemp("browser") / "home"
    with pytest.MonkeyPatch.context() as mp:
        for var in ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS"):
            mp.delenv(var, raising=False)
        mp.delenv("PRODLINE_TOKEN", raising=False)
        admin, reviewer, ids = _seed(home)
        from prodline.api.server import ControlPlane

        ws = Workspace.open(home, actor="server")
        server = ControlPlane(ws, host="127.0.0.1", port=0, auth=True, scheduler=False)
        server.start()
        try:
            yield Seeded(home, str(server.url).rstrip("/"), admin, reviewer, ids)
        finally:
            server.stop()
            ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module."""
    if not CHROMIUM.exists():
        reason = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("PRODLINE_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}; PRODLINE_REQUIRE_BROWSER is set, so this fails")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, seeded: Seeded) -> Iterator[Any]:
    """A page in a fresh context (no cookies), 5 s timeouts, base URL the server."""
    context = browser.new_context(base_url=seeded.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    tab = context.new_page()
    yield tab
    context.close()
