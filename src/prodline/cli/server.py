"""``prodline server``: the control plane (API, dashboard, scheduler) in one process."""

from __future__ import annotations

import typer

from prodline.cli.common import open_workspace

__all__ = ["server"]


def server(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to bind (other machines: 0.0.0.0, with tokens)."
    ),
    port: int = typer.Option(8400, "--port", min=1, max=65535, help="TCP port."),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="Ask no token: the workspace's own user acts for every request (loopback only).",
    ),
    no_scheduler: bool = typer.Option(
        False,
        "--no-scheduler",
        help="Do not run scheduled work here (monitors, webhooks, pipelines): a prodline "
        "worker does it.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print what is served (url, api, docs, dashboard) as JSON."
    ),
) -> None:
    """Serve the control plane: the API under /api/v1, its docs, the dashboard at /.

    Every route but /healthz needs 'Authorization: Bearer <token>' (401 without, 403 naming
    the role needed); --no-auth only with a loopback --host. The scheduler runs here unless
    a prodline worker (or another server) holds the workspace's lease: one per workspace.
    SIGTERM or Ctrl-C stops it cleanly.

    Example: prodline server --port 8400; prodline server --no-auth --no-scheduler
    """
    from prodline.api.server import check_bind, serve_control_plane

    check_bind(host, auth=not no_auth)  # before opening anything: one line, exit 2
    with open_workspace() as ws:
        serve_control_plane(
            ws,
            host=host,
            port=port,
            auth=not no_auth,
            scheduler=not no_scheduler,
            as_json=as_json,
        )
