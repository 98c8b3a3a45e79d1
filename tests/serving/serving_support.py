"""Helpers for the serving tests: test data, a live uvicorn server, reading metrics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from live_support import HOST, Live, free_port, metric, run_live
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from prodline.serving import ServeOptions, create_app
from prodline.workspace import Workspace

__all__ = ["HOST", "Live", "World", "free_port", "live_server", "metric"]


@dataclass
class World:
    """A workspace copy with ``clf`` (v1 on production, v2 inverted) and ``mixed`` (v1)."""

    home: Path
    ws: Workspace
    frame: pd.DataFrame
    v1: LogisticRegression
    v2: LogisticRegression
    mixed_frame: pd.DataFrame
    mixed: Pipeline

    def open(self) -> Workspace:
        """Another handle on the same home, as a separate CLI process would have."""
        return Workspace.open(self.home, actor="tester")


@dataclass
class Template:
    home: Path
    frame: pd.DataFrame
    v1: LogisticRegression
    v2: LogisticRegression
    mixed_frame: pd.DataFrame
    mixed: Pipeline


def numeric_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n).round(4), rng.normal(size=n).round(4)
    label = (x1 - 0.5 * x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "label": label})


def mixed_frame(n: int = 120, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], size=n)
    x1 = rng.normal(size=n).round(4)
    count = rng.integers(0, 10, size=n)
    label = ((color == "red") ^ (x1 > 0)).astype(int)
    return pd.DataFrame({"color": color, "x1": x1, "count": count, "label": label})


@contextlib.contextmanager
def live_server(
    ws: Workspace, name: str = "clf", alias: str = "production", options: ServeOptions | None = None
) -> Iterator[Live]:
    """Serve ``name@alias`` under uvicorn in a thread until the block ends."""
    port = free_port()
    app = create_app(ws, name, alias, options=options, address=(HOST, port))
    with run_live(app, port, start_timeout_s=20) as live:
        yield live
