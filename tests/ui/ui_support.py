"""The workspace the dashboard tests share, and a browser-like client (cookies, CSRF)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from prodline import Workspace

ROLES = {
    "admin": "ada",
    "ml-engineer": "mia",
    "reviewer": "rex",
    "auditor": "aud",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    """The served workspace, its URL and one token per role."""

    ws: Workspace
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def browser(self) -> httpx.Client:
        """A client that keeps cookies and does not follow redirects (tests look at them)."""
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    @contextlib.contextmanager
    def login(self, role: str) -> Iterator[httpx.Client]:
        """A browser logged in as the user of ``role``."""
        with self.browser() as client:
            page = client.get("/login")
            assert page.status_code == 200, page.text
            done = client.post(
                "/login", data={"token": self.tokens[role], "csrf_token": csrf_of(page.text)}
            )
            assert done.status_code == 303, done.text
            yield client


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found, "no csrf_token on the page"
    return found.group(1)


def populate(home: Path) -> tuple[Workspace, dict[str, str]]:
    """A workspace with a dataset, models with alias history, users and review items."""
    ws = Workspace.open(home)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    frame = pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "city": ["x", "y", "z"] * 20, "y": (x[:, 0] > 0).astype(int)}
    )
    ws.datasets.register(
        frame, name="points", owner="data-team", description="<script>alert(1)</script>"
    )
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    for name in ("clf", "other"):
        for _ in range(2):
            ws.models.register(
                model, name=name, trained_on=["points@1"], git_commit="", metrics={"auc": 0.9}
            )
        ws.promote(name, 1, "production")
        ws.promote(name, 2, "production")
    ws.kbs.create("docs", owner="kb-team", description="help pages")
    ws.monitors.create("clf-drift", model="clf@production", reference="points@1", window="100")
    ws.monitors.run("clf-drift")  # no traffic yet: a run with an error verdict, still shown
    for i in range(3):
        ws.reviews.submit(
            "model",
            "clf",
            mode="after",
            reason=f"confidence 0.5{i} < 0.60",
            input=[{"a": 0.1, "b": i}],
            output=[{"prediction": 1, "note": "<b>bold</b>"}],
            version=2,
            request_id=f"req-{i}",
            score=0.5 + i / 100,
        )
    tokens: dict[str, str] = {}
    for role, user in ROLES.items():
        ws.identity.add_user(user, role)
        tokens[role] = ws.identity.create_token(user)[1]
    return ws, tokens
