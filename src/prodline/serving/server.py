"""Run the prediction server under uvicorn: one worker, uvloop, httptools, no access log.

SIGINT and SIGTERM stop it gracefully: uvicorn stops accepting, lets requests in flight
finish, then the lifespan drains the batcher and flushes the prediction log.
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

import uvicorn

from prodline.errors import Conflict, ProdlineError
from prodline.serving.app import create_app
from prodline.serving.options import ServeOptions

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["bind", "serve", "uvicorn_config"]

GRACEFUL_SHUTDOWN_S = 30


def serve(
    ws: Workspace,
    name: str,
    alias: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    options: ServeOptions | None = None,
) -> None:
    """Serve ``name@alias`` on ``host:port`` until SIGINT/SIGTERM.

    Raises
    ------
    NotFound
        The model or alias does not exist.
    Conflict
        The port is taken.
    """
    sock = bind(host, port)
    try:
        port = int(sock.getsockname()[1])
        app = create_app(ws, name, alias, options=options, address=(host, port))
    except BaseException:
        sock.close()
        raise
    server = uvicorn.Server(uvicorn_config(app, host, port))
    shown = f"[{host}]" if ":" in host else host
    served = app.runtime.served
    print(
        f"Serving {name}@{alias} (version {served.version}): POST "
        f"http://{shown}:{port}/v1/models/{name}/predict  (metrics: /metrics; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise ProdlineError(f"The server for {name}@{alias} did not start; see the messages above.")


def uvicorn_config(app: Any, host: str, port: int, *, loop: str = "uvloop") -> uvicorn.Config:
    """The one uvicorn configuration prodline serves with (tests reuse it)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        workers=1,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def bind(host: str, port: int) -> socket.socket:
    """A bound listening-ready socket, or ``Conflict`` saying the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        with contextlib.suppress(OSError):
            sock.close()
        raise Conflict(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pass another "
            "--port (or --host).",
            host=host,
            port=port,
        ) from None
    sock.set_inheritable(True)
    return sock
