"""Helpers for the RAG server tests: one support-desk KB per session, servers, clients.

The knowledge base is built once per test process (ingesting embeds, and the embedding
model loads once) into a template home; each test module copies that home, so modules
can write logs, audit events and ``prodline.toml`` without seeing each other.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_support import HOST, Live, free_port, metric, run_live
from openai import OpenAI

from prodline.serving.rag import RagOptions, create_rag_app
from prodline.workspace import Workspace

__all__ = ["HOST", "KB", "Live", "free_port", "live_rag", "metric", "openai_of"]
KB = "support-desk"
ENV_VARS = ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS")

DOCS = {
    "refunds.md": """# Refund policy

Refunds are issued within 14 days of receiving the returned item. The money goes back to
the original payment method.

## How to request a refund

Contact support with your order number to start a refund. Items must be unused and in
their original packaging.
""",
    "shipping.md": """# Shipping policy

Standard shipping takes 3 to 5 business days within the country. Express shipping
delivers the next business day for orders placed before noon.

## International shipping

International orders ship within 10 business days and customs fees are paid by the
customer.
""",
    "warranty.md": """# Warranty

Every appliance carries a two year warranty against manufacturing defects. The warranty
does not cover damage from misuse or accidents.
""",
    "customer-note.md": """# Escalation note for the blender order

The customer Jane Doe reported a damaged blender order. Call her at +1 415 555 0134 or
write to jane.doe@example.com before Friday to arrange the replacement blender.
""",
}

REFUND_Q = "How long do refunds take to be issued?"
PII_Q = "Who reported the damaged blender order and how do we reach her?"


@dataclass(frozen=True)
class Template:
    home: Path
    docs: Path


_TEMPLATE: Template | None = None


def build_template(root: Path) -> Template:
    """The session's KB home, built on first call (later calls return the same one)."""
    global _TEMPLATE
    if _TEMPLATE is not None:
        return _TEMPLATE
    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, text in DOCS.items():  # one line per paragraph, as most editors save them
        (docs / name).write_text(re.sub(r"(?<!\n)\n(?![\n#])", " ", text), encoding="utf-8")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        with Workspace.open(home, actor="tester") as ws:
            ws.kbs.create(KB, owner="support")
            ws.kbs.ingest(KB, [docs])
    _TEMPLATE = Template(home, docs)
    return _TEMPLATE


def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The session's template home (built by the first module that asks)."""
    return build_template(tmp_path_factory.getbasetemp() / "rag-template")


def copy_home(template: Template, dest: Path) -> Path:
    shutil.copytree(template.home, dest)
    return dest


@contextlib.contextmanager
def open_ws(home: Path) -> Iterator[Workspace]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        ws = Workspace.open(home, actor="tester")
        try:
            yield ws
        finally:
            ws.close()


def closed_url() -> str:
    """A URL where nothing listens: connections are refused at once."""
    return f"http://{HOST}:{free_port()}/v1"


def write_llm_config(home: Path, dead_url: str) -> None:
    """``prodline.toml``: an OpenAI-kind provider on a closed port first, then extractive."""
    (home / "prodline.toml").write_text(
        f"""[llm]
fallback = ["dead", "extractive"]

[llm.providers.dead]
kind = "openai"
model = "gpt-dead"
base_url = "{dead_url}"
timeout_s = 2
retries = 0
""",
        encoding="utf-8",
    )


def openai_of(live: Live) -> OpenAI:
    """The official client, talking to a live server."""
    return OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, timeout=30)


@contextlib.contextmanager
def live_rag(ws: Workspace, kb: str = KB, **options: Any) -> Iterator[Live]:
    """Serve ``kb`` under uvicorn in a thread; ``options`` are ``RagOptions`` fields."""
    port = free_port()
    app = create_rag_app(ws, kb, options=RagOptions(**options), address=(HOST, port))
    with run_live(app, port) as live:
        yield live


@contextlib.contextmanager
def in_process(ws: Workspace, kb: str = KB, **options: Any) -> Iterator[TestClient]:
    """The app in this process (lifespan included); leaving the block is a clean stop.

    ``options`` are ``RagOptions`` fields (``k=2``, ``provider="dead"``).
    """
    app = create_rag_app(ws, kb, options=RagOptions(**options))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def openai_over(client: Any) -> OpenAI:
    """The official client, sending through ``client`` (a TestClient: the app in-process)."""
    return OpenAI(
        base_url=f"{client.base_url}/v1", api_key="unused", max_retries=0, http_client=client
    )


def ask(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": KB, "messages": [{"role": "user", "content": question}], **extra}
