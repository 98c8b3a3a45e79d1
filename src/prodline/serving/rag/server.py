"""Run the RAG server under uvicorn: one worker, uvloop, httptools, no access log.

The same uvicorn settings, port binding and graceful stop as the prediction server:
SIGINT/SIGTERM stop accepting, let requests (and streams) in flight finish, then the
lifespan flushes the RAG log and audits ``server.stopped``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prodline.serving.rag.app import create_rag_app
from prodline.serving.rag.options import RagOptions
from prodline.serving.server import bind, run_until_stopped

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["limit_torch_threads", "serve_rag", "usage_hint"]


def limit_torch_threads(threads: int | None = None) -> int:
    """Cap the embedding model's intra-op threads (default: half the CPUs, 1 to 4).

    The server embeds for several requests at once, one worker thread each; letting each
    call also fan out over every core oversubscribes the CPUs, and OpenMP's spinning then
    makes a 5 ms query embedding take hundreds of ms on a busy machine. Returns the cap.
    """
    n = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
    try:
        import torch
    except ImportError:  # no RAG extras: nothing to cap (the embedder will say what to install)
        return n
    torch.set_num_threads(n)
    return n


def usage_hint(kb: str, host: str, port: int) -> str:
    """Where to send requests, and an ``openai`` client snippet that does it."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/v1"
    return (
        f"Serving knowledge base '{kb}': POST {base}/chat/completions with model='{kb}' "
        f"(also {base}/retrieve; metrics: /metrics; Ctrl-C stops)\n"
        "  from openai import OpenAI\n"
        f'  client = OpenAI(base_url="{base}", api_key="unused")\n'
        f'  reply = client.chat.completions.create(model="{kb}", '
        'messages=[{"role": "user", "content": "How do refunds work?"}])\n'
        "  print(reply.choices[0].message.content, reply.model_extra['citations'])"
    )


def serve_rag(
    ws: Workspace,
    kb: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    options: RagOptions | None = None,
) -> None:
    """Serve knowledge base ``kb`` on ``host:port`` until SIGINT/SIGTERM.

    ``options``: provider, clearance, groundedness threshold and k (``RagOptions``).

    Raises
    ------
    NotFound
        The knowledge base does not exist.
    InvalidInput
        An unknown provider, or clearance, threshold or k out of range.
    Conflict
        The port is taken.
    GateFailed
        The knowledge base holds PII/PHI chunks and no justification is recorded.
    """
    ws.gates.require_kb(kb)  # PII/PHI chunks of a protected KB need a recorded justification
    sock = bind(host, port)
    try:
        port = int(sock.getsockname()[1])
        app = create_rag_app(ws, kb, options=options, address=(host, port))
    except BaseException:
        sock.close()
        raise
    limit_torch_threads()
    run_until_stopped(
        app, sock, host, port, banner=usage_hint(kb, host, port), what=f"The RAG server for '{kb}'"
    )
