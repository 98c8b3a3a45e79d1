"""The credit-risk story: data → two models → served → promoted → rolled back → audited.

Runs on the real Statlog German credit data shipped in this package (see
``data/SOURCE.md``). Every step goes through the public SDK, so the story doubles as
an example of it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from prodline.errors import ProdlineError
from prodline.workspace import Workspace

__all__ = ["DATA_FILE", "build_models", "run_story"]

DATA_FILE = "german_credit.csv"
MODEL = "credit-risk"
DATASET = "german-credit"
TARGET = "risk"
console = Console()


def data_path() -> Path:
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _step(text: str) -> None:
    console.rule(f"[bold]{text}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProdlineError(
                f"The server exited with code {proc.returncode} before it "
                "was ready; run `prodline serve` by hand to see why."
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ProdlineError(f"The server at {url} was not ready within {timeout:.0f} s.")


def _wait_version(url: str, record: dict[str, Any], version: int, timeout: float = 5) -> float:
    """Seconds until the server answers with ``version``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        body = httpx.post(f"{url}/v1/models/{MODEL}/predict", json={"inputs": [record]}).json()
        if body.get("version") == version:
            return time.monotonic() - start
        time.sleep(0.05)
    raise ProdlineError(f"The server did not switch to version {version} within {timeout} s.")


def run_story(*, serve: bool = True, port: int = 8000, rag: bool = True) -> None:
    """Run the whole story in the current workspace (``PRODLINE_HOME`` or ./.prodline)."""
    if not serve and not _port_free(port):
        port = _free_port()
    if not _port_free(port):
        raise ProdlineError(
            f"Port {port} is in use; run `prodline demo --port N` with a free port."
        )
    ws = Workspace.open()
    console.print(Panel.fit(f"prodline demo: credit risk\nworkspace {ws.home}", style="bold"))

    _step("1. register the data")
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

    _step("2. train and register two models")
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
            risk_level="high",
            target=TARGET,
            description=label,
        )
        versions.append(mv.version)
        console.print(
            f"registered {mv.ref}: {label}  auc={metrics['auc']:.3f}  "
            f"accuracy={metrics['accuracy']:.3f}"
        )
    v1, v2 = versions[-2], versions[-1]

    _step("3. promote and serve")
    ws.models.promote(MODEL, v1, "production")
    console.print(f"{MODEL}@production → v{v1}")
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PRODLINE_HOME=str(ws.home))
    if ws.settings.db_url:
        env["PRODLINE_DB_URL"] = ws.settings.db_url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prodline.cli.main",
            "serve",
            f"{MODEL}@production",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        with console.status(f"starting the server on {url}…"):
            _wait_ready(url, proc)
        records: list[dict[str, Any]] = [
            {str(k): v for k, v in rec.items()}
            for rec in frame.drop(columns=[TARGET]).head(5).to_dict(orient="records")
        ]
        reply = httpx.post(f"{url}/v1/models/{MODEL}/predict", json={"inputs": records}).json()
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

        _step("4. promote v2, then roll back")
        ws.models.promote(MODEL, v2, "production")
        took = _wait_version(url, records[0], v2)
        console.print(f"{MODEL}@production → v{v2}; the server switched in {took:.2f} s")
        ws.models.rollback(MODEL, "production")
        took = _wait_version(url, records[0], v1)
        console.print(
            f"[yellow]rolled back[/] {MODEL}@production → v{v1}; switched in {took:.2f} s"
        )

        _step("5. verify the audit log and show the lineage")
        result = ws.audit.verify()
        console.print(f"audit verify: [{'green' if result.ok else 'red'}]{result}[/]")
        from prodline.cli.ledger import node_facts, render_tree

        tree = ws.lineage.upstream(f"alias:{MODEL}@production")
        console.print(render_tree(tree, node_facts(ws, tree)))
        if rag:
            from prodline.cli.demo_rag import run_support_story

            run_support_story(ws)
        if not serve:
            return
        console.print(
            Panel.fit(
                f"{MODEL}@production is served at {url}\n"
                f"try: curl -s {url}/v1/models/{MODEL}/predict -H 'content-type: application/json' "
                f'-d \'{{"inputs": [{{"sex": "female", "job": 2, "housing": "own", '
                f'"saving_accounts": "little", "checking_account": "moderate", '
                f'"credit_amount": 5951, "duration": 48, "purpose": "radio/TV", '
                f'"age": 22}}]}}\'\nCtrl-C stops the server.',
                style="green",
            )
        )
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        ws.close()
