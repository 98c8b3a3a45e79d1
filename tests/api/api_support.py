"""A workspace the control-plane tests share: a dataset, two models, one user per role."""

from __future__ import annotations

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
    "service": "svc",
}


@dataclass
class Plane:
    """The served workspace, its URL and one token per role."""

    ws: Workspace
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def populate(home: Path, db_url: str | None = None) -> tuple[Workspace, dict[str, str]]:
    """Open a workspace at ``home`` with data, models and users; return it and the tokens."""
    ws = Workspace.open(home, db_url=db_url)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})
    ws.datasets.register(frame, name="points", owner="data-team")
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    for _ in range(2):
        ws.models.register(model, name="clf", trained_on=["points@1"], git_commit="")
    ws.promote("clf", 1, "production")
    ws.promote("clf", 2, "production")
    ws.models.register(model, name="solo", trained_on=["points@1"], git_commit="")
    ws.promote("solo", 1, "production")
    tokens: dict[str, str] = {}
    for role, user in ROLES.items():
        ws.identity.add_user(user, role)
        tokens[role] = ws.identity.create_token(user)[1]
    return ws, tokens
