"""End to end: the real ``prodline`` executable, a real server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PRODLINE = [sys.executable, "-m", "prodline.cli.main"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    return env | {"PRODLINE_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_runs_the_whole_story(tmp_path: Path) -> None:
    done = subprocess.run(
        [*PRODLINE, "demo", "--no-serve"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    for text in (
        "german-credit@1: 1000 rows",
        "registered credit-risk@1",
        "registered credit-risk@2",
        "credit-risk@production → v1",
        "POST /v1/models/credit-risk/predict → v1",
        "the server switched in",
        "rolled back credit-risk@production → v1",
        "audit verify: ok",
        "sensitive: sex:pii(sex), age:pii(age)",
        "ingested from source UCI",
        # drift → alert → retraining → promotion → auto-rollback (credit_monitoring.py)
        "600 labels came back: v1 was right on",
        "alert data_drift: credit-drift on credit-risk@production",
        "alert performance_drop: credit-drift on credit-risk@production",
        "registered german-credit@2: 1600 rows",
        "pipeline run credit-retrain@1 (alert monitor:credit-drift:1:credit-retrain) on "
        "german-credit@2: succeeded",
        "promoted v3 to production: candidate v3 auc=",
        "beats champion v1 auc=",
        "credit-risk@production → v4 (the hotfix)",
        "auto-rollback credit-risk@production → v3: v4 accuracy=",
        "pipeline.candidate_registered",
        "produced by pipeline run credit-retrain@1",
        # governance: gates, fairness mitigation, four-eyes, minimisation, Annex IV
        "credit-scoring: risk class high (Art. 6(2), Annex III point 5(b))",
        "refused credit-scoring@1 → production: unmet fairness",
        "credit-scoring@2: every check but sign-off met",
        "refused self-approval:",
        "cannot also approve",
        "rita (reviewer) approved credit-scoring@2",
        "credit-scoring@production → v2",
        "age not logged",
        "Annex IV document:",
        "credit-scoring-v2-annex-iv.html",
        # the support-desk RAG story
        "support-desk@1:",
        "sources with personal data",
        "escalations.md",
        "Q: How long do refunds take?",
        "within 14 days",
        "refunds.md",
        "groundedness",
        "context has pii: restricted to self-hosted providers",
        # the guard story (support_guards.py)
        "poisoning report of support-desk (policy quarantine): 1 of",
        "password-resets.md",
        "HTTP 400 guard_blocked (injection)",
        "kept out of the prompt: chunk",
        "the cloud provider saw: ",
        "<EMAIL_1>",
        "maria.keller@example.com",
        "for provider 'cloud-stub'",
    ):
        assert text in out, text
    verify = subprocess.run(
        [*PRODLINE, "audit", "verify"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0 and "ok," in verify.stdout
    log = subprocess.run(
        [*PRODLINE, "audit", "log", "--json", "--limit", "200"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for action in (
        "monitor.run",
        "alert.raised",
        "pipeline.run_started",
        "pipeline.run_finished",
        "alias.rollback",
    ):
        assert action in log, action
    lineage = subprocess.run(
        [*PRODLINE, "lineage", "credit-risk@3"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "run:credit-retrain@1" in lineage and "dataset german-credit v2" in lineage
    annex = tmp_path / "home" / "compliance" / "credit-scoring-v2-annex-iv.html"
    page = annex.read_text()
    for title in ("Intended purpose", "Fairness audit", "Human oversight", "Evidence index"):
        assert title in page, title
    assert "Human sign-off by rita (reviewer)" in page
    assert "monitor" in log and "retention.set" in log and "alias.promote_refused" in log
    for action in ("gate:fairness", "gate:approval", "compliance:classification"):
        assert action in log, action


@pytest.mark.slow
def test_serve_command_serves_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(100, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    sio.dump(LogisticRegression().fit(frame[["a", "b"]], frame["y"]), tmp_path / "m.skops")
    for args in (
        ["init"],
        ["data", "add", str(tmp_path / "d.csv"), "--name", "d", "--owner", "o"],
        ["model", "register", str(tmp_path / "m.skops"), "--name", "m", "--trained-on", "d@1"],
        ["promote", "m@1", "--to", "production"],
    ):
        subprocess.run([*PRODLINE, *args], env=env, check=True, capture_output=True, timeout=120)
    bad = subprocess.run(
        [*PRODLINE, "serve", "m@staging"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "no alias 'staging'" in bad.stderr

    port = _free_port()
    server = subprocess.Popen(
        [*PRODLINE, "serve", "m@production", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        reply = httpx.post(
            f"{url}/v1/models/m/predict",
            json={"inputs": [{"a": 1.0, "b": 0.0}, {"a": -1.0, "b": 0.0}]},
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["predictions"] == [1, 0] and body["version"] == 1 and body["model"] == "m"
        assert body["request_id"]
        bad_input = httpx.post(f"{url}/v1/models/m/predict", json={"inputs": [{"a": 1.0}]})
        assert bad_input.status_code == 422 and "b" in bad_input.json()["error"]["message"]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err[-2000:]
    assert f"127.0.0.1:{port}" in out + err
    log = subprocess.run(
        [*PRODLINE, "audit", "log", "--json", "--limit", "50"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "server.started" in log and "server.stopped" in log
