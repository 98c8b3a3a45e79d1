"""One live-server helper for both servers' tests: uvicorn in a thread, metrics parsing."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from prodline.serving.server import uvicorn_config

HOST = "127.0.0.1"


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
        return httpx.Client(base_url=self.url, **({"timeout": 30} | kwargs))


@contextlib.contextmanager
def run_live(app: Any, port: int, *, start_timeout_s: float = 60) -> Iterator[Live]:
    """Run ``app`` under uvicorn (asyncio loop, as ``serve()`` but without signals)."""
    server = uvicorn.Server(uvicorn_config(app, HOST, port, loop="asyncio"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
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
