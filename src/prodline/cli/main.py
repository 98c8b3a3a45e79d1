"""The ``prodline`` command: a thin Typer face over the workspace.

User mistakes (any ``ProdlineError``, bad flags) print one line and exit 2; a
tampered audit log exits 1. Set ``PRODLINE_DEBUG=1`` to see tracebacks of bugs.
Every command but ``init`` and ``demo`` refuses a missing workspace.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from prodline.cli import (
    budget,
    data,
    drift,
    feedback,
    gate,
    guard,
    kb,
    kpi,
    ledger,
    model,
    monitor,
    review,
)
from prodline.cli import cost as cost_command
from prodline.cli import server as server_command
from prodline.cli.common import console, err_console, open_workspace, print_json, split_ref
from prodline.cli.compliance import app as compliance_app
from prodline.cli.compliance import retention_app
from prodline.cli.identity import token_app, user_app
from prodline.cli.pipeline import app as pipeline_app
from prodline.errors import InvalidInput, ProdlineError

if TYPE_CHECKING:
    from prodline.workspace import Workspace

app = typer.Typer(
    name="prodline",
    help="Take AI from proof of concept to governed production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
app.add_typer(ledger.audit_app, name="audit")
app.add_typer(kb.app, name="kb")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(feedback.app, name="feedback")
app.add_typer(gate.app, name="gate")
app.command("promote")(model.promote)
app.command("rollback")(model.rollback)
app.command("lineage")(ledger.lineage)
app.add_typer(monitor.app, name="monitor")
app.add_typer(monitor.alerts_app, name="alerts")
app.command("worker")(monitor.worker)
app.command("drift")(drift.drift)
app.add_typer(compliance_app, name="compliance")
app.add_typer(retention_app, name="retention")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(guard.app, name="guard")
app.add_typer(review.app, name="review")
app.add_typer(cost_command.app, name="cost")
app.add_typer(budget.app, name="budget")
app.add_typer(kpi.app, name="kpi")
app.command("server")(server_command.server)


def _print_version(value: bool) -> None:
    if value:
        from prodline import __version__

        console.print(f"prodline {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Take AI from proof of concept to governed production.

    The workspace is PRODLINE_HOME (default ./.prodline); create it with prodline init.
    """


@app.command("init")
def init(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the workspace (PRODLINE_HOME or ./.prodline) if needed and say where it is.

    Running it again is harmless: an existing workspace is opened, not reset.

    Example: PRODLINE_HOME=~/prodline prodline init
    """
    from prodline.cli.common import workspace_exists
    from prodline.config import Settings

    existed = workspace_exists(Settings.load())
    with open_workspace(create=True) as ws:
        home, dialect = ws.home, ws.db.dialect
    if as_json:
        print_json({"home": str(home), "database": dialect, "created": not existed})
        return
    state = "already there" if existed else "created"
    console.print(f"workspace ready at {home} ({dialect}, {state})", highlight=False)


@app.command("serve")
def serve(
    ref: str = typer.Argument(..., help="NAME@ALIAS of a model, or the word rag."),
    kb_name: str = typer.Argument(None, metavar="[KB]", help="With rag: the knowledge base."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    provider: str = typer.Option(None, "--provider", help="rag: force one LLM provider."),
    clearance: str = typer.Option(
        "phi", "--clearance", help="rag: highest sensitivity retrieved (none, pii, phi)."
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="rag: flag answers whose groundedness is below this."
    ),
    durable_log: bool = typer.Option(
        False,
        "--durable-log",
        help="Answer a prediction only once its log record is committed (survives kill -9).",
    ),
    auth: str = typer.Option(
        "none",
        "--auth",
        help="none, or token: every route but health needs 'Authorization: Bearer <token>' "
        "of a service (or ml-engineer, admin) user; 401 without, 403 for another role.",
    ),
    max_body_bytes: int = typer.Option(
        None, "--max-body-bytes", help="Refuse larger request bodies (413); [server] table."
    ),
    rate_limit: int = typer.Option(
        None, "--rate-limit", help="Requests a minute per token or client (429); 0 = off."
    ),
    max_concurrent: int = typer.Option(
        None, "--max-concurrent", help="Requests in flight at once (503 past it); 0 = off."
    ),
    timeout: float = typer.Option(
        None, "--timeout", help="Seconds a request has to start its answer (504); 0 = off."
    ),
    require_gate: bool = typer.Option(
        False,
        "--require-gate",
        help="rag: refuse to start unless the KB passes its quality gate (prodline kb gate).",
    ),
) -> None:
    """Serve a model (alias moves apply within a second) or a knowledge base (RAG).

    Limits not given as flags come from the [server] table of prodline.toml.

    Example: prodline serve credit-risk@production --port 8000;
    prodline serve rag support-desk --port 8001 --auth token --rate-limit 120
    """
    from dataclasses import replace

    from prodline.serving.limits import ServerLimits

    flags = {
        "max_body_bytes": max_body_bytes,
        "rate_limit_per_min": rate_limit,
        "max_concurrent": max_concurrent,
        "timeout_s": timeout,
        "chat_timeout_s": timeout,
    }
    if ref == "rag":
        if not kb_name:
            raise InvalidInput("Name the knowledge base: prodline serve rag KB.", field="kb")
        from prodline.serving.rag import RagOptions, serve_rag

        rag_options = RagOptions(
            provider=provider, clearance=clearance, threshold=threshold, auth=auth
        )
        with open_workspace() as ws:
            limits = ServerLimits.load(ws.home, server="rag", **flags)
            rag_options = replace(rag_options, limits=limits)
            ws.kbs.get(kb_name)  # fail fast, naming the knowledge bases that exist
            if require_gate:
                _require_kb_gate(ws, kb_name)
            serve_rag(ws, kb_name, host=host, port=port, options=rag_options)
        return
    if kb_name:
        raise InvalidInput(
            f"Unexpected argument '{kb_name}'; to serve a knowledge base write "
            f"prodline serve rag {kb_name}."
        )
    from prodline.serving import ServeOptions
    from prodline.serving import serve as run_server

    name, alias = split_ref(ref, what="model", need_ref=True)
    assert alias is not None
    with open_workspace() as ws:
        ws.models.get(name, alias)  # fail fast, with the list of aliases, before binding
        limits = ServerLimits.load(ws.home, server="model", **flags)
        options = ServeOptions(durable_log=durable_log, auth=auth, limits=limits)
        run_server(ws, name, alias, host=host, port=port, options=options)


def _require_kb_gate(ws: Workspace, kb_name: str) -> None:
    """Raise ``GateFailed`` (one line, exit 2) unless ``kb_name`` passes its quality gate."""
    from prodline.errors import GateFailed

    gated = ws.kbs.gate(kb_name)
    if not gated.passed:
        raise GateFailed(
            f"Not serving {gated.subject}: its quality gate fails ({'; '.join(gated.reasons)}); "
            f"see prodline kb gate {kb_name}."
        )


@app.command("demo")
def demo(
    serve_after: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="Leave the model server and the control plane up at the end.",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Model server port."),
    server_port: int = typer.Option(
        8400, "--server-port", min=1, max=65535, help="Control plane (API, dashboard) port."
    ),
    rag: bool = typer.Option(True, "--rag/--no-rag", help="Also run the support-desk RAG story."),
    servers: bool = typer.Option(
        True,
        "--servers/--no-servers",
        help="Start the model and RAG servers during the stories (--no-servers: in-process "
        "only; implies --no-serve).",
    ),
    files: Path = typer.Option(
        None,
        "--files",
        file_okay=False,
        help="Only write the README tour's inputs to this folder (german_credit.csv, "
        "lr.skops, gb.skops, handbook/) and exit.",
    ),
) -> None:
    """Run the credit-risk and support-desk stories (examples/) in the current workspace.

    Creates the workspace if needed. With --files DIR it only writes the files the README
    tour types in, and touches no workspace.

    Example: PRODLINE_HOME=/tmp/demo prodline demo --no-serve; prodline demo --files .
    """
    from prodline.cli.demo import run_demo, write_files

    if files is not None:
        for name, scores in write_files(files).items():
            console.print(
                f"wrote {files / name}  (test auc={scores['auc']:.3f}, "
                f"accuracy={scores['accuracy']:.3f})",
                highlight=False,
            )
        console.print(
            f"wrote {files / 'german_credit.csv'} and {files / 'handbook'}/", highlight=False
        )
        return
    run_demo(
        serve=serve_after and servers,
        port=port,
        rag=rag,
        servers=servers,
        server_port=server_port,
    )


def run() -> None:
    """Entry point: turn user mistakes into one line and exit code 2."""
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of raising
        if isinstance(code, int) and code:
            sys.exit(code)
    except ProdlineError as exc:
        err_console.print(f"error: {exc.message}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except typer.TyperException as exc:  # usage errors from the CLI parser
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc}")
        sys.exit(int(getattr(exc, "exit_code", 2)) or 2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("PRODLINE_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}: {exc} "
            "(set PRODLINE_DEBUG=1 for the traceback and report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    run()
