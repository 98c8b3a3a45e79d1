"""The credit-risk story: data → two models → served → promoted → rolled back → audited.

Runs on the real Statlog German credit data shipped in prodline (``prodline/demo/data``,
see ``SOURCE.md`` there). Every step goes through the public SDK, so the story doubles
as an example of it. Run it on its own::

    PRODLINE_HOME=/tmp/credit python examples/credit_risk.py

or as the first half of ``prodline demo``. ``python examples/credit_risk.py --files DIR``
only writes the README tour's files (``german_credit.csv``, ``lr.skops``, ``gb.skops``,
``handbook/``) to DIR.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import skops.io
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import prodline as pl

DATA_FILE = "german_credit.csv"
MODEL = "credit-risk"
DATASET = "german-credit"
TARGET = "risk"
MODEL_FILES = ("lr.skops", "gb.skops")  # the two candidates, in the order they register
console = Console()


def data_path() -> Path:
    """The German credit CSV shipped inside prodline."""
    return Path(str(resources.files("prodline.demo") / "data" / DATA_FILE))


def build_models(
    frame: pd.DataFrame, seed: int = 0
) -> list[tuple[str, Pipeline, dict[str, float]]]:
    """Train the story's two candidates; returns (label, fitted pipeline, test metrics)."""
    features = frame.drop(columns=[TARGET])
    categorical = [c for c in features.columns if features[c].dtype == object]
    numeric = [c for c in features.columns if c not in categorical]
    x_train, x_test, y_train, y_test = train_test_split(
        features, frame[TARGET], test_size=0.3, random_state=seed, stratify=frame[TARGET]
    )
    encode = ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)
    candidates = [
        (
            "logistic regression",
            Pipeline(
                [
                    ("prep", ColumnTransformer([encode, ("num", StandardScaler(), numeric)])),
                    ("clf", LogisticRegression(max_iter=1000)),
                ]
            ),
        ),
        (
            "gradient boosting",
            Pipeline(
                [
                    (
                        "prep",
                        ColumnTransformer([encode], remainder="passthrough", sparse_threshold=0),
                    ),
                    (
                        "clf",
                        HistGradientBoostingClassifier(
                            max_iter=150, learning_rate=0.05, random_state=seed
                        ),
                    ),
                ]
            ),
        ),
    ]
    out = []
    for label, pipe in candidates:
        pipe.fit(x_train, y_train)
        proba = pipe.predict_proba(x_test)[:, 1]
        metrics = {
            "auc": float(roc_auc_score(y_test, proba)),
            "accuracy": float(accuracy_score(y_test, pipe.predict(x_test))),
        }
        out.append((label, pipe, metrics))
    return out


def write_files(folder: Path) -> dict[str, dict[str, float]]:
    """Write the README tour's inputs to ``folder``.

    ``german_credit.csv``, both models saved with skops (``lr.skops``, ``gb.skops``)
    and ``handbook/``, the support-desk pages. Returns each model file's test
    metrics, for ``--metric`` when registering it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_path(), folder / DATA_FILE)
    handbook = folder / "handbook"
    handbook.mkdir(exist_ok=True)
    for page in sorted(Path(str(resources.files("prodline.demo") / "docs")).glob("*.md")):
        shutil.copyfile(page, handbook / page.name)
    metrics = {}
    for filename, (_, pipe, scores) in zip(
        MODEL_FILES, build_models(pd.read_csv(data_path())), strict=True
    ):
        skops.io.dump(pipe, folder / filename)  # skops: a model file that is not a pickle
        metrics[filename] = scores
    return metrics


class ModelServer:
    """``prodline serve NAME@ALIAS`` in a child process, stopped by :meth:`stop`."""

    def __init__(self, ws: pl.Workspace, ref: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PRODLINE_HOME=str(ws.home), PRODLINE_DB_URL=ws.settings.db_url)
        command = [sys.executable, "-m", "prodline.cli.main", "serve", ref, "--port", str(port)]
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll ``/readyz`` until the server answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise pl.ProdlineError(
                    f"The server exited with code {self.proc.returncode} before it was "
                    "ready; run `prodline serve` by hand to see why."
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise pl.ProdlineError(f"The server at {self.url} was not ready within {timeout:.0f} s.")

    def predict(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """POST records to the model's predict endpoint; the JSON reply."""
        reply = httpx.post(f"{self.url}/v1/models/{MODEL}/predict", json={"inputs": records})
        return dict(reply.json())

    def wait_version(self, record: dict[str, Any], version: int, timeout: float = 5) -> float:
        """Seconds until the server answers with ``version``."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.predict([record]).get("version") == version:
                return time.monotonic() - start
            time.sleep(0.05)
        raise pl.ProdlineError(f"The server did not switch to v{version} within {timeout} s.")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(text: str) -> None:
    console.rule(f"[bold]{text}")


def run(ws: pl.Workspace, *, port: int | None = None, servers: bool = True) -> ModelServer | None:
    """Run the story in ``ws``; returns the model server it started (the caller stops it).

    With ``servers=False`` the promotions and the rollback happen without a server.
    """
    console.print(Panel.fit(f"prodline demo: credit risk\nworkspace {ws.home}", style="bold"))

    step("1. register the data")
    ds = ws.datasets.register(
        data_path(),
        name=DATASET,
        owner="credit-risk-team",
        source="UCI Statlog German Credit (CC BY 4.0)",
        description="1,000 real applicants, good/bad credit risk",
    )
    table = Table(title=f"{ds.ref}: {ds.rows} rows, sha256 {ds.content_sha256[:12]}")
    for col in ("column", "type", "sensitivity", "kinds"):
        table.add_column(col)
    for column in ds.schema:
        info = ds.sensitivity.get(column["name"], {})
        level = info.get("level", "none")
        style = {"pii": "yellow", "phi": "red"}.get(level, "dim")
        table.add_row(
            column["name"], column["type"], f"[{style}]{level}[/]", ", ".join(info.get("kinds", []))
        )
    console.print(table)

    step("2. train and register two models")
    frame = ws.datasets.load(ds.name, ds.version)
    with console.status("training…"):
        trained = build_models(frame)
    versions = []
    for label, pipe, metrics in trained:
        mv = ws.models.register(
            pipe,
            name=MODEL,
            trained_on=[ds.ref],
            metrics=metrics,
            params={"estimator": label},
            risk_level="minimal",  # the gates story (credit_governance.py) raises it
            target=TARGET,
            description=label,
        )
        versions.append(mv.version)
        console.print(
            f"registered {mv.ref}: {label}  auc={metrics['auc']:.3f}  "
            f"accuracy={metrics['accuracy']:.3f}"
        )
    v1, v2 = versions[-2], versions[-1]

    step("3. promote and serve")
    ws.promote(MODEL, v1, "production")
    console.print(f"{MODEL}@production → v{v1}")
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in rec.items()}
        for rec in frame.drop(columns=[TARGET]).head(5).to_dict(orient="records")
    ]
    server = ModelServer(ws, f"{MODEL}@production", port or free_port()) if servers else None
    try:
        if server is not None:
            with console.status(f"starting the server on {server.url}…"):
                server.wait_ready()
            _show_predictions(records, server.predict(records))

        step("4. promote v2, then roll back")
        ws.promote(MODEL, v2, "production")
        took = (
            f"; the server switched in {server.wait_version(records[0], v2):.2f} s"
            if server
            else ""
        )
        console.print(f"{MODEL}@production → v{v2}{took}")
        ws.rollback(MODEL, "production")
        took = f"; switched in {server.wait_version(records[0], v1):.2f} s" if server else ""
        console.print(f"[yellow]rolled back[/] {MODEL}@production → v{v1}{took}")

        step("5. verify the audit log and show the lineage")
        result = ws.audit.verify()
        console.print(f"audit verify: [{'green' if result.ok else 'red'}]{result}[/]")
        console.print(lineage_tree(ws, f"alias:{MODEL}@production"))
    except BaseException:
        if server is not None:
            server.stop()
        raise
    return server


def _show_predictions(records: list[dict[str, Any]], reply: dict[str, Any]) -> None:
    table = Table(title=f"POST /v1/models/{MODEL}/predict → v{reply['version']}")
    for col in ("age", "sex", "credit_amount", "duration", "purpose", "prediction", "p(good)"):
        table.add_column(col)
    probs = reply.get("probabilities") or [[None, None]] * len(records)
    for rec, pred, prob in zip(records, reply["predictions"], probs, strict=True):
        p_good = f"{prob[-1]:.2f}" if prob and prob[-1] is not None else "-"
        table.add_row(
            str(rec["age"]),
            rec["sex"],
            str(rec["credit_amount"]),
            str(rec["duration"]),
            rec["purpose"],
            str(pred),
            p_good,
        )
    console.print(table)


def lineage_tree(ws: pl.Workspace, start: str) -> Tree:
    """The upstream lineage of ``start`` (a node id such as ``alias:m@production``)."""
    relations = {
        "points_to": "points to",
        "trained": "trained on",
        "ingested_from": "ingested from",
        "produced": "produced by",
        "input": "input",
        "code": "from",
    }

    def label(node: Any) -> str:
        if node.kind == "model":
            mv = ws.models.get(node.name, int(node.ref))
            metrics = ", ".join(f"{k}={v:.3g}" for k, v in mv.metrics.items())
            return f"[bold cyan]model[/] {node.name} v{node.ref}  risk={mv.risk_level}  {metrics}"
        if node.kind == "dataset":
            ds = ws.datasets.get(node.name, node.ref)
            tagged = [
                f"{c}:{s['level']}({','.join(s.get('kinds', []))})"
                for c, s in ds.sensitivity.items()
                if s.get("level") != "none"
            ]
            return (
                f"[bold green]dataset[/] {node.name} v{node.ref}  owner={ds.owner}  "
                f"rows={ds.rows}  sensitive: {', '.join(tagged) or 'none'}"
            )
        if node.kind == "alias":
            return f"[bold magenta]alias[/] {node.name}@{node.ref}"
        if node.kind == "run":
            return f"[bold yellow]pipeline run[/] {node.name}@{node.ref}"
        if node.kind == "code":
            return f"[bold]code[/] of {node.name} at {node.ref[:12]}"
        return f"[bold]{node.kind}[/] {node.name}"

    def add(parent: Tree, node: Any) -> None:
        for p in node.parents:
            add(parent.add(f"[dim]{relations.get(p.relation, p.relation)}[/] {label(p)}"), p)

    tree = ws.lineage.upstream(start)
    root = Tree(label(tree))
    add(root, tree)
    return root


def main(argv: list[str]) -> None:
    """``python examples/credit_risk.py [--files DIR]``."""
    if argv[:1] == ["--files"] and len(argv) == 2:
        for name, scores in write_files(Path(argv[1])).items():
            console.print(f"wrote {Path(argv[1]) / name}  auc={scores['auc']:.3f}")
        return
    with pl.Workspace.open() as ws:
        server = run(ws)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
