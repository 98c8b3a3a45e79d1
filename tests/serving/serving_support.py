"""Helpers for the serving tests: test data, a live uvicorn server, reading metrics."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from prodline.serving import ServeOptions, create_app
from prodline.serving.server import uvicorn_config
from prodline.workspace import Workspace

HOST = "127.0.0.1"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A real uvicorn server on 127.0.0.1 in a thread of this process."""

    url: str
    app: Any
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)


@contextlib.contextmanager
def live_server(
    ws: Workspace, name: str = "clf", alias: str = "production", options: ServeOptions | None = None
) -> Iterator[Live]:
    """Run the app under uvicorn (asyncio loop, as serve() but without signals) until exit."""
    port = free_port()
    app = create_app(ws, name, alias, options=options, address=(HOST, port))
    server = uvicorn.Server(uvicorn_config(app, HOST, port, loop="asyncio"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Live(f"http://{HOST}:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive(), "the test server did not stop"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0.0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        sample, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if sample == name and got == want:
            return float(value)
    return 0.0
