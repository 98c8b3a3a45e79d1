"""Run the prediction server under uvicorn: one worker, uvloop, httptools, no access log.

SIGINT and SIGTERM stop it gracefully: uvicorn stops accepting, lets requests in flight
finish, then the lifespan drains the batcher and flushes the prediction log.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from prodline.errors import Conflict, ProdlineError
from prodline.serving.app import create_app
from prodline.serving.options import ServeOptions

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["bind", "run_until_stopped", "serve", "stop_quietly", "uvicorn_config"]

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
    shown = f"[{host}]" if ":" in host else host
    served = app.runtime.served
    banner = (
        f"Serving {name}@{alias} (version {served.version}): POST "
        f"http://{shown}:{port}/v1/models/{name}/predict  (metrics: /metrics; Ctrl-C stops)"
    )
    run_until_stopped(app, sock, host, port, banner=banner, what=f"The server for {name}@{alias}")


def run_until_stopped(
    app: Any, sock: socket.socket, host: str, port: int, *, banner: str, what: str
) -> None:
    """Print ``banner``, then serve ``app`` on ``sock`` under uvicorn until SIGINT/SIGTERM;
    ``sock`` is closed on return.

    Raises
    ------
    ProdlineError
        The server did not start (``what`` names it: "The server for m@a").
    """
    server = uvicorn.Server(uvicorn_config(app, host, port))
    print(banner, flush=True)
    # Everything loaded so far (model or knowledge base, libraries) lives as long as the
    # process: keep it out of the cyclic GC, whose full passes over it would stall requests
    # for 50+ ms.
    gc.collect()
    gc.freeze()
    try:
        with stop_quietly():
            server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits when the lifespan startup fails
        raise ProdlineError(
            f"{what} did not start (exit {exc.code}); see the messages above."
        ) from None
    finally:
        sock.close()
    if not server.started:
        raise ProdlineError(f"{what} did not start; see the messages above.")


class _Stopped(Exception):
    """Raised by our signal handler after uvicorn's graceful shutdown re-raises a signal."""


@contextlib.contextmanager
def stop_quietly() -> Iterator[None]:
    """Make SIGINT/SIGTERM end ``serve()`` normally once uvicorn has shut down gracefully.

    uvicorn handles the signal (stop accepting, finish requests, run the lifespan
    shutdown), then re-raises it to the handlers found before it started: ours, which
    turns it into a normal return instead of a traceback or a kill.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise _Stopped

    before = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


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
    # IPPROTO_TCP explicitly: asyncio turns TCP_NODELAY on only for sockets that say so,
    # and without it small responses wait ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
