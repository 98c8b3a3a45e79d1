"""``prodline server``: the bind rule, SIGTERM, and one scheduler per workspace."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from prodline import Workspace
from prodline.api import ControlPlane
from prodline.errors import InvalidInput
from prodline.serving.worker import LEASE
from prodline.store.leases import Leases

if TYPE_CHECKING:
    from conftest import Result


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_no_auth_needs_a_loopback_host(cli: Callable[..., Result], host: str) -> None:
    assert cli("init").code == 0
    r = cli("server", "--no-auth", "--host", host)
    assert r.code == 2
    assert r.err.count("\n") == 1 and "--no-auth" in r.err and "loopback" in r.err


def test_auth_on_a_workspace_without_users_is_refused(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "home") as ws:
        with pytest.raises(InvalidInput, match="needs users") as caught:
            ControlPlane(ws)
        assert caught.value.details["field"] == "--no-auth"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("prodline server did not start")


def test_sigterm_stops_cleanly_and_releases_the_lease(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Workspace.open(home).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env |= {"PRODLINE_HOME": str(home), "PRODLINE_ACTOR": "tester"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prodline.cli.main",
            "server",
            "--no-auth",
            "--json",
            "--port",
            str(free_port()),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        facts = json.loads(proc.stdout.readline())
        assert facts["auth"] is False and facts["scheduler"] is True
        assert facts["dashboard"] == facts["url"] + "/"  # prodline.ui is mounted at /
        _wait_up(facts["url"], proc)
        page = httpx.get(facts["url"] + "/", timeout=10, follow_redirects=True)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        with Workspace.open(home) as ws:
            leases = Leases(ws.db)
            deadline = time.monotonic() + 10
            while leases.holder(LEASE) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert f":{proc.pid}:" in (leases.holder(LEASE) or "")
            r = httpx.get(facts["api"] + "/models", timeout=5)
            assert r.status_code == 200 and r.json()["total"] == 0
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            assert leases.holder(LEASE) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_servers_run_one_scheduler(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "home") as ws:
        fast = {"tick_s": 0.05, "ttl_s": 5.0}
        first = ControlPlane(ws, auth=False, ui=False, worker_options=fast | {"holder": "one"})
        second = ControlPlane(ws, auth=False, ui=False, worker_options=fast | {"holder": "two"})
        leases = Leases(ws.db)
        with first:
            deadline = time.monotonic() + 10
            while leases.holder(LEASE) is None and time.monotonic() < deadline:
                time.sleep(0.02)
            with second:
                time.sleep(0.5)  # several ticks of both
                assert first.scheduler is not None and second.scheduler is not None
                assert first.scheduler.holds_lease and not second.scheduler.holds_lease
                assert leases.holder(LEASE) == "one"
                first.stop()  # releases the lease: the second takes over
                deadline = time.monotonic() + 10
                while not second.scheduler.holds_lease and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert leases.holder(LEASE) == "two"
                assert httpx.get(second.url + "/healthz").status_code == 200
        assert leases.holder(LEASE) is None


def test_the_servers_limits_guard_the_api(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "prodline.toml").write_text("[server]\nmax_body_bytes = 2048\n")
    with Workspace.open(home) as ws, ControlPlane(ws, auth=False, ui=False, scheduler=False) as cp:
        body = {"version": 1, "create": False, "pad": "x" * 10_000}
        r = httpx.post(cp.url + "/api/v1/models/m/aliases/production/promote", json=body)
        assert r.status_code == 413 and r.json()["error"]["code"]
        ok = httpx.get(cp.url + "/api/v1/models")
        assert ok.status_code == 200 and ok.headers["x-content-type-options"] == "nosniff"
        docs = httpx.get(cp.url + "/api/v1/docs")
        assert docs.status_code == 200 and "content-security-policy" not in docs.headers
