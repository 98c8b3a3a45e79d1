"""``prodline server``: the control-plane API, the dashboard and the scheduler in one process.

The scheduler is the worker of ``prodline worker`` (``serving.worker.build_worker``) in a
thread of the server: it runs scheduled work only while it holds the workspace's
``scheduler`` lease, so with a ``prodline worker`` (or a second server) already holding
it, this one waits and takes over when that one stops — one scheduler per workspace,
never two. SIGTERM or SIGINT stops the server gracefully: uvicorn stops accepting and
finishes the requests in flight, then the lifespan stops the scheduler, which releases
the lease at once.

:class:`ControlPlane` runs the same app under uvicorn in a thread, for tests and
embedding::

    with ControlPlane(ws, auth=False) as cp:
        httpx.get(cp.url + "/healthz")
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from prodline.api.app import DOCS_PATH, build_api
from prodline.api.auth import is_loopback
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    from prodline.serving.worker import Worker
    from prodline.workspace import Workspace

__all__ = [
    "DEFAULT_PORT",
    "ControlPlane",
    "Scheduler",
    "build_app",
    "check_bind",
    "mount_ui",
    "serve_control_plane",
]

log = logging.getLogger("prodline.server")

DEFAULT_PORT = 8400
"""Where ``prodline server`` listens unless told otherwise."""


def check_bind(host: str, *, auth: bool) -> None:
    """Refuse ``--no-auth`` on a host other machines can reach.

    Raises
    ------
    InvalidInput
        ``auth`` is off and ``host`` is not a loopback address (field ``--no-auth``).
    """
    if not auth and not is_loopback(host):
        raise InvalidInput(
            f"--no-auth serves the workspace to anyone who can reach {host}; use it only "
            "with a loopback --host (127.0.0.1), or drop --no-auth and send tokens.",
            field="--no-auth",
        )


class Scheduler:
    """The worker of ``prodline worker``, run in a thread of the server.

    Parameters
    ----------
    ws
        The workspace whose monitors, webhooks and pipelines it runs.
    options
        Passed to ``build_worker`` (``tick_s``, ``ttl_s``, ``holder``, ``echo``).
    """

    def __init__(self, ws: Workspace, **options: Any) -> None:
        self.ws = ws
        self.options = options
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Build the worker and run it in a daemon thread (it waits for the lease)."""
        from prodline.serving.worker import build_worker

        self.worker = build_worker(self.ws, **self.options)
        self._thread = threading.Thread(
            target=self.worker.run, name="prodline-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the loop after its current step; the lease is released on the way out."""
        if self.worker is not None:
            self.worker.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("the scheduler did not stop within %.0f s", timeout_s)
        self._thread = None

    @property
    def holds_lease(self) -> bool:
        """Whether this server's worker holds the scheduler lease now (it runs the schedule)."""
        if self.worker is None:
            return False
        from prodline.serving.worker import LEASE
        from prodline.store.leases import Leases

        return Leases(self.ws.db).holder(LEASE) == self.worker.holder


def _lifespan(
    scheduler: Scheduler | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                import anyio

                await anyio.to_thread.run_sync(scheduler.stop)

    return lifespan


def mount_ui(app: FastAPI, ws: Workspace, *, auth: bool) -> bool:
    """Mount the dashboard (``prodline.ui``) at ``/`` when it is installed; say whether.

    The one place the control plane meets the dashboard: ``build_ui(ws, auth=...)``
    gives its router; ``static_app()`` is mounted at ``/static`` unless the router serves it.
    """
    if importlib.util.find_spec("prodline.ui") is None:
        return False
    import prodline.ui as ui

    build_ui = getattr(ui, "build_ui", None)
    if build_ui is None:
        return False
    router = build_ui(ws, auth=auth)
    app.include_router(router)
    serves_static = any(getattr(r, "path", "").startswith("/static") for r in router.routes)
    static_app = getattr(ui, "static_app", None)
    if static_app is not None and not serves_static:
        app.mount("/static", static_app(), name="static")
    return True


def build_app(
    ws: Workspace,
    *,
    auth: bool = True,
    ui: bool = True,
    scheduler: Scheduler | None = None,
) -> FastAPI:
    """The server's app: the API, the dashboard (``ui``), the scheduler in its lifespan."""
    app = build_api(ws, auth=auth, lifespan=_lifespan(scheduler))
    app.state.ui = mount_ui(app, ws, auth=auth) if ui else False
    app.state.scheduler = scheduler
    return app


class ControlPlane:
    """The control plane under uvicorn in a thread of this process (tests, embedding).

    Parameters
    ----------
    ws
        The workspace served.
    host, port
        Where to listen; port 0 picks a free one (read ``url`` after ``start``).
    auth
        ``False`` only on a loopback host (``InvalidInput`` otherwise).
    scheduler
        Run the scheduler thread (it waits while another process holds the lease).
    ui
        Mount the dashboard when ``prodline.ui`` is installed.
    worker_options
        ``tick_s``, ``ttl_s``, ``holder`` … for ``build_worker``.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: bool = True,
        scheduler: bool = True,
        ui: bool = True,
        worker_options: dict[str, Any] | None = None,
    ) -> None:
        check_bind(host, auth=auth)
        self.ws = ws
        self.host = host
        self.port = port
        self.scheduler = Scheduler(ws, **(worker_options or {})) if scheduler else None
        self.app = build_app(ws, auth=auth, ui=ui, scheduler=self.scheduler)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ControlPlane:
        """Bind, start serving in a thread, and return once requests are answered.

        Raises
        ------
        Conflict
            The port is taken.
        RuntimeError
            The server did not start within ``timeout_s``.
        """
        import uvicorn

        from prodline.serving.server import bind, uvicorn_config

        sock = bind(self.host, self.port)
        self.port = int(sock.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn_config(self.app, self.host, self.port, loop="asyncio")
        )
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="prodline-control-plane",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The control plane on {self.url} did not start.")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop serving (requests in flight finish) and the scheduler (lease released)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._thread = None
        if self.scheduler is not None:
            self.scheduler.stop()  # the lifespan did it; again if startup never finished

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_control_plane(
    ws: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    auth: bool = True,
    scheduler: bool = True,
    as_json: bool = False,
) -> None:
    """Serve the control plane on ``host:port`` until SIGTERM/SIGINT (``prodline server``).

    Once bound it prints one line saying what is served (``as_json``: a JSON object with
    ``url``, ``api``, ``docs``, ``dashboard``, ``auth``, ``scheduler``).

    Raises
    ------
    InvalidInput
        ``--no-auth`` with a non-loopback host, or auth on a workspace without users.
    Conflict
        The port is taken.
    """
    from prodline.serving.server import bind, run_until_stopped

    check_bind(host, auth=auth)
    sched = Scheduler(ws, echo=None if as_json else _echo) if scheduler else None
    app = build_app(ws, auth=auth, scheduler=sched)
    sock = bind(host, port)
    port = int(sock.getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    facts = {
        "url": url,
        "api": f"{url}/api/v1",
        "docs": f"{url}{DOCS_PATH}",
        "dashboard": f"{url}/" if app.state.ui else None,
        "auth": auth,
        "scheduler": scheduler,
    }
    if as_json:
        banner = json.dumps(facts)
    else:
        banner = (
            f"Control plane on {url}  (API {url}/api/v1, docs {url}{DOCS_PATH}"
            + (f", dashboard {url}/" if app.state.ui else "")
            + f"; auth {'token' if auth else 'off'}; scheduler {'on' if scheduler else 'off'};"
            " Ctrl-C stops)"
        )
    with contextlib.suppress(KeyboardInterrupt):
        run_until_stopped(app, sock, host, port, banner=banner, what="The control plane")


def _echo(line: str) -> None:
    print(line, flush=True)
