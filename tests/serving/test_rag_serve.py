"""``prodline serve rag KB``: the real executable (uvloop, signals), stopped with SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from rag_support import KB, REFUND_Q, copy_home, free_port, open_ws, template

from prodline.ledger.calls import CallReader

PRODLINE = [sys.executable, "-m", "prodline.cli.main"]


@pytest.mark.slow
def test_serve_rag_answers_the_openai_client_and_stops_cleanly(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    home = copy_home(template(tmp_path_factory), tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env |= {"PRODLINE_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    port = free_port()
    server = subprocess.Popen(
        [*PRODLINE, "serve", "rag", KB, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        resp = client.chat.completions.create(
            model=KB, messages=[{"role": "user", "content": REFUND_Q}]
        )
        assert "14 days" in (resp.choices[0].message.content or "")
        streamed = client.chat.completions.create(
            model=KB, messages=[{"role": "user", "content": REFUND_Q}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed)
        assert text == resp.choices[0].message.content
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err[-2000:]
    assert f"POST http://127.0.0.1:{port}/v1/chat/completions" in out
    assert "from openai import OpenAI" in out
    with open_ws(home) as ws:
        calls = CallReader(ws.db).read(KB)
        assert list(calls["stream"]) == [False, True]  # the call log is in the store
        actions = [e.action for e in ws.audit.events(limit=10)]
    assert actions[:4] == ["server.stopped", "rag.answered", "rag.answered", "server.started"]
