"""A decision reaches the policy's webhook (a real HTTP server on 127.0.0.1), with retries
and doubling backoff from ``[alerts]``; the worker's step does SLA alerts and deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from prodline.workspace import Workspace


class Hook:
    """Answers 500 to its first ``fail`` posts, then 200; keeps the bodies and headers."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                hook.times.append(time.monotonic())
                hook.bodies.append(body)
                hook.headers.append(dict(self.headers))
                code = 500 if len(hook.bodies) <= hook.fail else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"boom" if code == 500 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/reviews/s3cr3t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook(fail=2)
    yield made
    made.close()


def _drain(ws: Workspace, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.reviews.deliver_webhooks()
        if not ws.reviews.list(status="decided") or all(
            i.webhook_status != "pending" for i in ws.reviews.list(status="decided")
        ):
            return
        time.sleep(0.05)


def test_a_decision_is_posted_with_retries(
    tmp_path: Path, hook: Hook, make_ws: Callable[..., Workspace]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "prodline.toml").write_text(
        "[alerts]\nmax_attempts = 4\nbackoff_seconds = 0.1\ntimeout_seconds = 2\n"
    )
    ws = make_ws()
    ws.models.create("m")
    ws.reviews.set_policy("model", "m", mode="hold", webhook=hook.url)
    item = ws.reviews.submit(
        "model", "m", mode="hold", reason="r", input=[{}], output=[{"prediction": 1}],
        request_id="q-1",
    )  # fmt: skip
    assert ws.reviews.deliver_webhooks() == 0  # nothing decided yet
    decided = ws.reviews.decide(item.id, "edit", output=[{"prediction": 0}])
    assert decided.webhook_status == "pending"
    _drain(ws)
    assert ws.reviews.get(item.id).webhook_status == "delivered"
    assert len(hook.bodies) == 3  # two 500s, then 200
    assert hook.bodies[-1] == {
        **decided.public(),
        "kind": "model",
        "subject": "m",
        "request_id": "q-1",
    }
    assert hook.bodies[-1]["status"] == "edited"
    assert hook.headers[-1]["x-prodline-review-id"] == str(item.id)
    gaps = [b - a for a, b in zip(hook.times, hook.times[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps  # 0.1 s, then doubled
    delivered = ws.audit.events(action="review.webhook_delivered")
    assert len(delivered) == 1 and delivered[0].payload["attempts"] == 3
    assert "s3cr3t" not in json.dumps([e.to_dict() for e in ws.audit.events(limit=100)])


def test_an_unreachable_webhook_is_given_up_after_max_attempts(
    tmp_path: Path, make_ws: Callable[..., Workspace]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "prodline.toml").write_text(
        "[alerts]\nmax_attempts = 2\nbackoff_seconds = 0.05\ntimeout_seconds = 1\n"
    )
    down = Hook()
    url = down.url
    down.close()  # nobody listens there now
    ws = make_ws()
    ws.models.create("m")
    ws.reviews.set_policy("model", "m", mode="after", sample_rate=1.0, webhook=url)
    item = ws.reviews.submit("model", "m", mode="after", reason="sample", input=1, output=2)
    ws.reviews.decide(item.id, "approve")
    _drain(ws)
    assert ws.reviews.get(item.id).webhook_status == "undelivered"
    gave_up = ws.audit.events(action="review.webhook_undelivered")
    assert gave_up[0].payload["attempts"] == 2 and "ConnectError" in gave_up[0].payload["error"]


def test_the_worker_raises_sla_alerts(sqlite_ws: Workspace) -> None:
    from prodline.serving.worker import build_worker

    sqlite_ws.models.create("m")
    sqlite_ws.reviews.set_policy("model", "m", mode="hold", sla=0.05)
    item = sqlite_ws.reviews.submit("model", "m", mode="hold", reason="r", input=[], output=[])
    time.sleep(0.1)
    done = build_worker(sqlite_ws).tick()
    assert "reviews" in done.steps
    alerts = sqlite_ws.alerts.list(kind="review_sla")
    assert [a.payload["review_id"] for a in alerts] == [item.id]
