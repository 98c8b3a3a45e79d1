"""Alerts: recorded and audited; delivered to real local webhooks with retries and backoff."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from prodline.errors import InvalidInput
from prodline.monitor.alerts import AlertOptions, Alerts, redact_url
from prodline.workspace import Workspace


class Hook:
    """A webhook on 127.0.0.1 that answers 500 to its first ``fail`` posts, then 200."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []
        self.times: list[float] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                hook.times.append(time.monotonic())
                hook.bodies.append(body)
                code = 500 if len(hook.bodies) <= hook.fail else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"boom" if code == 500 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/s3cr3t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    made: list[Hook] = []
    yield made
    for hook in made:
        hook.close()


def _down_url() -> str:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/down"


def _configure(home: Path, urls: list[str], attempts: int = 3, backoff: float = 0.2) -> None:
    home.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(json.dumps(u) for u in urls)
    (home / "prodline.toml").write_text(
        f"[alerts]\nwebhooks = [{listed}]\nmax_attempts = {attempts}\n"
        f"backoff_seconds = {backoff}\ntimeout_seconds = 2\n"
    )


def test_webhooks_get_the_alert_with_retries_and_backoff(
    tmp_path: Path, hooks: list[Hook], make_ws: Any
) -> None:
    healthy, flaky = Hook(), Hook(fail=2)
    hooks += [healthy, flaky]
    down = _down_url()
    _configure(tmp_path / "home", [healthy.url, flaky.url, down], attempts=3, backoff=0.2)
    ws: Workspace = make_ws()
    alert = ws.alerts.add(
        "data_drift", "3 of 5 columns drifted", subject="model:m@1", payload={"share": 0.6}
    )
    assert [d.status for d in ws.alerts.deliveries(alert.id)] == ["pending"] * 3
    left = ws.alerts.flush(timeout_s=10)
    assert left == 0
    by_url = {d.url: d for d in ws.alerts.deliveries(alert.id)}
    assert by_url[healthy.url].status == "delivered" and by_url[healthy.url].attempts == 1
    assert by_url[flaky.url].status == "delivered" and by_url[flaky.url].attempts == 3
    assert by_url[down].status == "undelivered" and by_url[down].attempts == 3
    assert "ConnectError" in str(by_url[down].last_error)
    assert healthy.bodies == [alert.to_dict()] and len(flaky.bodies) == 3
    assert flaky.bodies[-1]["payload"] == {"share": 0.6}
    gaps = [b - a for a, b in zip(flaky.times, flaky.times[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps  # 0.2 s, then doubled
    undelivered = ws.audit.events(action="alert.undelivered")
    assert len(undelivered) == 1 and undelivered[0].payload["attempts"] == 3
    assert "s3cr3t" not in json.dumps([e.to_dict() for e in ws.audit.events(limit=100)])
    assert ws.audit.events(action="alert.raised")[0].payload["webhooks"][0].endswith("/…")


def test_a_delivery_is_attempted_once_per_claim(tmp_path: Path, hooks: list[Hook], make_ws: Any):
    hook = Hook()
    hooks.append(hook)
    _configure(tmp_path / "home", [hook.url])
    ws: Workspace = make_ws()
    other: Workspace = make_ws()
    alert = ws.alerts.add("rollback", "rolled back", subject="model:m@production")
    threads = [threading.Thread(target=w.alerts.deliver_due) for w in (ws, other, ws, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(hook.bodies) == 1 and ws.alerts.deliveries(alert.id)[0].status == "delivered"


def test_no_webhooks_means_no_deliveries(sqlite_ws: Workspace) -> None:
    alert = sqlite_ws.alerts.add("x", "y", subject="model:m@1", severity="info")
    assert sqlite_ws.alerts.deliveries() == [] and sqlite_ws.alerts.flush(timeout_s=1) == 0
    assert sqlite_ws.alerts.get(alert.id) == alert
    with pytest.raises(InvalidInput, match="severity 'loud' is not known"):
        sqlite_ws.alerts.add("x", "y", subject="s", severity="loud")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"webhooks": "http://x"}, "webhooks must be a list"),
        ({"webhooks": ["ftp://x/y"]}, "'ftp://x/y' is not an http(s) URL"),
        ({"webhooks": ["not a url"]}, "is not an http(s) URL"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"backoff_seconds": -1}, "backoff_seconds must be a positive number"),
        ({"webhook": []}, "unknown key(s) webhook"),
    ],
)
def test_bad_alert_settings_are_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        AlertOptions.from_table(table)
    assert message in str(info.value)


def test_bad_settings_in_prodline_toml_stop_the_alerts(tmp_path: Path, make_ws: Any) -> None:
    _configure(tmp_path / "home", ["gopher://old"])
    ws: Workspace = make_ws()
    with pytest.raises(InvalidInput, match=r"prodline\.toml"):
        Alerts(ws)


def test_redact_url_hides_the_path() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/xyz") == "https://hooks.slack.com/…"
    assert redact_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
