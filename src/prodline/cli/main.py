"""The ``prodline`` command: a thin Typer face over the workspace.

User mistakes (any ``ProdlineError``, bad flags) print one line and exit 2; a
tampered audit log exits 1. Set ``PRODLINE_DEBUG=1`` to see tracebacks of bugs.
"""

from __future__ import annotations

import os
import sys

import typer

from prodline.cli import data, kb, ledger, model
from prodline.cli.common import console, err_console, open_workspace, split_ref
from prodline.errors import InvalidInput, ProdlineError

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
app.command("promote")(model.promote)
app.command("rollback")(model.rollback)
app.command("lineage")(ledger.lineage)


@app.command("init")
def init() -> None:
    """Create the workspace (PRODLINE_HOME or ./.prodline) and its database.

    Example: PRODLINE_HOME=~/prodline prodline init
    """
    with open_workspace() as ws:
        console.print(f"workspace ready at {ws.home} ({ws.db.dialect})")


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
) -> None:
    """Serve a model (alias moves apply within a second) or a knowledge base (RAG).

    Example: prodline serve credit-risk@production --port 8000;
    prodline serve rag support-desk --port 8001
    """
    if ref == "rag":
        if not kb_name:
            raise InvalidInput("Name the knowledge base: prodline serve rag KB.", field="kb")
        from prodline.serving.rag import serve_rag

        with open_workspace() as ws:
            ws.kbs.get(kb_name)  # fail fast, naming the knowledge bases that exist
            serve_rag(
                ws,
                kb_name,
                host=host,
                port=port,
                provider=provider,
                clearance=clearance,
                threshold=threshold,
            )
        return
    if kb_name:
        raise InvalidInput(
            f"Unexpected argument '{kb_name}'; to serve a knowledge base write "
            f"prodline serve rag {kb_name}."
        )
    from prodline.serving import serve as run_server

    name, alias = split_ref(ref, what="model", need_ref=True)
    assert alias is not None
    with open_workspace() as ws:
        ws.models.get(name, alias)  # fail fast, with the list of aliases, before binding
        run_server(ws, name, alias, host=host, port=port)


@app.command("demo")
def demo(
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", help="Leave the server running at the end."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    rag: bool = typer.Option(True, "--rag/--no-rag", help="Also run the support-desk RAG story."),
) -> None:
    """Run the credit-risk and support-desk stories end to end in the current workspace.

    Example: PRODLINE_HOME=/tmp/demo prodline demo --no-serve
    """
    from prodline.cli.demo import run_story

    run_story(serve=serve_after, port=port, rag=rag)


def run() -> None:
    """Entry point: turn user mistakes into one line and exit code 2."""
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of raising
        if isinstance(code, int) and code:
            sys.exit(code)
    except ProdlineError as exc:
        err_console.print(f"error: {exc.message}", highlight=False, soft_wrap=True)
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
