"""Browser-test helpers: where Chromium and the screenshots live, logging in, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline.workspace import Workspace

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("PRODLINE_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts"
)


@dataclass
class Seeded:
    """The seeded workspace, its live server and what the tests need to know of it."""

    home: Path
    url: str
    admin_token: str
    reviewer_token: str
    review_ids: list[int] = field(default_factory=list)

    def ws(self) -> Workspace:
        """A fresh handle on the workspace (as the local admin) to check what changed."""
        return Workspace.open(self.home, actor="checker")


def login(page: Any, token: str) -> None:
    """Log in through the login form and wait for the overview."""
    page.goto("/login")
    page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: not url.rstrip("/").endswith("/login"))


def shot(page: Any, name: str) -> Path:
    """Save a full-page PNG of ``page`` under the artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
