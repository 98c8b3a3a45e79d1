"""``prodline demo``: run the stories in ``examples/`` against the current workspace.

The stories are ordinary scripts a reader can open and run (``examples/credit_risk.py``,
``examples/support_desk.py``). They live outside the package so that they read as user
code, not as prodline internals; the wheel carries a copy as ``prodline/_examples``
(hatch ``force-include``), and in a source checkout (``pip install -e``) they are read
from ``examples/`` beside ``src/``. Either way this module loads them by path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from prodline.errors import InvalidInput, ProdlineError

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["data_path", "example_folder", "load_example", "run_demo", "write_files"]

DATA_FILE = "german_credit.csv"


def data_path() -> Path:
    """The German credit CSV shipped inside prodline (``prodline/demo/data``)."""
    return Path(str(resources.files("prodline.demo") / "data" / DATA_FILE))


def example_folder() -> Path:
    """Where the example stories are: inside the installed wheel, else the checkout.

    Raises
    ------
    ProdlineError
        If neither holds them (a broken install).
    """
    packaged = Path(str(resources.files("prodline"))) / "_examples"
    checkout = Path(__file__).resolve().parents[3] / "examples"
    for folder in (packaged, checkout):
        if (folder / "credit_risk.py").is_file():
            return folder
    raise ProdlineError(
        f"The example stories are missing (looked in {packaged} and {checkout}); "
        "reinstall prodline."
    )


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as module ``prodline_examples.<name>`` (once)."""
    module_name = f"prodline_examples.{name}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    folder = example_folder()
    if str(folder) not in sys.path:  # the stories import their siblings (cloud_stub, …)
        sys.path.append(str(folder))
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ProdlineError(f"Cannot load the example {path}; reinstall prodline.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def write_files(folder: Path) -> dict[str, dict[str, float]]:
    """Write the tour's ``german_credit.csv``, ``lr.skops`` and ``gb.skops`` to ``folder``."""
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--files '{folder}' is a file; name a folder.", field="--files")
    written: dict[str, dict[str, float]] = load_example("credit_risk").write_files(folder)
    return written


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_demo(*, serve: bool, port: int, rag: bool, servers: bool, server_port: int = 8400) -> None:
    """Run the credit-risk stories (serving, monitoring, governance), then the support-desk
    one, then the control-plane one, in the current workspace.

    ``serve`` leaves the model server and the control plane (API and dashboard) running
    at the end (Ctrl-C stops them); ``servers=False`` runs the stories without starting
    any server.
    """
    from prodline.cli.common import console, open_workspace

    if serve and not servers:
        raise InvalidInput("--serve needs the servers; drop --no-servers or add --no-serve.")
    if servers and not _port_free(port):
        if serve:
            raise InvalidInput(
                f"Port {port} is in use; run `prodline demo --port N` with a free port.",
                field="--port",
            )
        port = 0  # the story picks a free one
    if serve and not _port_free(server_port):
        raise InvalidInput(
            f"Port {server_port} is in use; run `prodline demo --server-port N` with a free port.",
            field="--server-port",
        )
    credit = load_example("credit_risk")
    control = load_example("control_plane")
    with open_workspace(create=True) as ws:
        if any(m.name == credit.MODEL for m in ws.models.models()):
            raise InvalidInput(
                f"The workspace {ws.home} has already run the demo (model {credit.MODEL} "
                "exists) and the stories start from an empty one; run it in a new workspace: "
                "PRODLINE_HOME=$(mktemp -d) prodline demo (make demo does that in .prodline-demo)."
            )
        server = credit.run(ws, port=port or None, servers=servers)
        try:
            load_example("credit_monitoring").run(
                ws, server=server, lineage_tree=credit.lineage_tree
            )
            load_example("credit_governance").run(ws)
            if rag:
                load_example("support_desk").run(ws, servers=servers)
                load_example("support_guards").run(ws, servers=servers)
                load_example("costs").run(ws, servers=servers)
            tokens = control.run(ws, model_server=server)
            if server is None:
                console.print("start the API and dashboard with: prodline server")
                return
            _control_plane(ws, control, tokens, server, serve=serve, port=server_port)
        finally:
            if server is not None:
                server.stop()


def _control_plane(
    ws: Workspace,
    control: ModuleType,
    tokens: dict[str, str],
    server: Any,
    *,
    serve: bool,
    port: int,
) -> None:
    """Start ``prodline server``'s app; keep it (and the model server) up when ``serve``."""
    import httpx
    from rich.panel import Panel

    from prodline.api.server import ControlPlane
    from prodline.cli.common import console

    model, url = control.MODEL, getattr(server, "url", "")
    with ControlPlane(ws, port=port if serve else 0, scheduler=serve) as plane:
        control.print_access(plane.url, tokens)
        reply = httpx.get(
            f"{plane.url}/api/v1/reviews",
            params={"status": "pending"},
            headers={"authorization": f"Bearer {tokens[control.REVIEWER]}"},
            timeout=30,
        )
        pending = reply.json().get("total", "?") if reply.status_code == 200 else reply.text
        console.print(f"GET /api/v1/reviews?status=pending as {control.REVIEWER}: {pending} items")
        if not serve:
            return
        console.print(
            Panel.fit(
                f"dashboard: {plane.url}  (log in with the admin token above)\n"
                f"{model}@production is served at {url}\n"
                f"try: curl -s {url}/v1/models/{model}/predict "
                "-H 'content-type: application/json' "
                f'-d \'{{"inputs": [{{"sex": "female", "job": 2, "housing": "own", '
                f'"saving_accounts": "little", "checking_account": "moderate", '
                f'"credit_amount": 5951, "duration": 48, "purpose": "radio/TV", '
                f'"age": 22}}]}}\'\nCtrl-C stops both servers.',
                style="green",
            )
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.proc.wait()
