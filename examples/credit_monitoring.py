"""The credit-risk story, continued: drift → alert → retraining → promotion → auto-rollback.

Runs after ``examples/credit_risk.py`` in the same workspace (``credit-risk@production``
holds the logistic regression, v1). The world moves: loan amounts inflate by 150% and
a new purpose, "solar panels", appears, with its own pattern of repayment. The served
model sees the shifted traffic and the labels that come back say it is now often
wrong. A monitor raises a drift alert; the worker hands it to the retraining pipeline
below (registered by its file path); the pipeline trains on the newest dataset version,
its candidate beats the champion on the same holdout rows and is promoted through the
ordinary promotion path. Then a hurried hotfix, trained on an export whose labels were
inverted, is promoted by hand, and auto-rollback takes it back once the labels show it
worse. Every step lands in ``prodline audit log`` and ``prodline lineage``.

``prodline demo`` runs it; on its own: ``python examples/credit_monitoring.py`` after
``python examples/credit_risk.py`` in the same ``PRODLINE_HOME``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import prodline as pl
from prodline.pipelines import PipelineSettings, RollbackGuard

MODEL = "credit-risk"
DATASET = "german-credit"
TARGET = "risk"
MONITOR = "credit-drift"
PIPELINE = "credit-retrain"
NEW_PURPOSE = "solar panels"
console = Console()


@pl.pipeline(name=PIPELINE, target=TARGET)
def retrain(data: pl.TrainingData) -> tuple[Pipeline, dict[str, float]]:
    """The retraining pipeline: gradient boosting on the dataset version it is given."""
    x, y = data.frame.drop(columns=[TARGET]), data.frame[TARGET]
    text = [c for c in x.columns if x[c].dtype == object]
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    model = make_pipeline(
        make_column_transformer((encode, text), remainder="passthrough"),
        HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=0),
    ).fit(x, y)
    return model, {"train_rows": float(len(x))}


def live_traffic(base: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Applicants after the shift, with the outcome that later comes back as a label.

    Amounts are 2.5 times what they were; 40% of loans are for solar panels, which are repaid
    when the term is at most two years. Elsewhere outcomes follow the old data.
    """
    rng = np.random.default_rng(seed)
    rows = base.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    rows["credit_amount"] = (rows["credit_amount"] * 2.5).round().astype("int64")
    new = rng.random(n) < 0.4
    rows.loc[new, "purpose"] = NEW_PURPOSE
    rows.loc[new, TARGET] = (rows.loc[new, "duration"] <= 24).astype("int64")
    return rows


class Traffic:
    """Sends rows to the served alias (the model server, or the app in-process) and
    returns the labels to attach: one record per predicted row, by request id."""

    def __init__(self, ws: pl.Workspace, server: Any | None) -> None:
        self.ws = ws
        self.server = server

    def send(self, frame: pd.DataFrame, *, expect_version: int) -> tuple[float, list[dict]]:
        """Predict ``frame`` in batches of 100; (accuracy of the answers, labels)."""
        labels: list[dict[str, Any]] = []
        right = 0
        features = frame.drop(columns=[TARGET])
        for start in range(0, len(frame), 100):
            batch = features.iloc[start : start + 100]
            records = [
                {str(k): (None if pd.isna(v) else v) for k, v in rec.items()}
                for rec in batch.to_dict(orient="records")
            ]
            reply = self._post(records, expect_version)
            truth = frame[TARGET].iloc[start : start + 100].tolist()
            right += sum(int(p == t) for p, t in zip(reply["predictions"], truth, strict=True))
            labels += [
                {"request_id": reply["request_id"], "row": i, "label": int(t)}
                for i, t in enumerate(truth)
            ]
        if self.server is not None and labels:  # the server logs off the hot path
            _wait_logged(self.ws, str(labels[-1]["request_id"]))
        return right / len(frame), labels

    def _post(self, records: list[dict[str, Any]], version: int) -> dict[str, Any]:
        if self.server is not None:
            self.server.wait_version(records[0], version)
            reply: dict[str, Any] = self.server.predict(records)
        else:
            reply = _in_process(self.ws, records)
        if reply.get("version") != version:
            raise pl.ProdlineError(f"Expected v{version} to answer, got {reply.get('version')}.")
        return reply


def _wait_logged(ws: pl.Workspace, request_id: str, timeout: float = 15) -> None:
    """Wait until the server's prediction log holds ``request_id`` (written in order)."""
    deadline = time.monotonic() + timeout
    while ws.predictions.read(MODEL, request_id=request_id).empty:
        if time.monotonic() > deadline:
            raise pl.ProdlineError(f"Request {request_id} did not reach the prediction log.")
        time.sleep(0.1)


def _in_process(ws: pl.Workspace, records: list[dict[str, Any]]) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from prodline.serving import create_app

    with TestClient(create_app(ws, MODEL, "production")) as client:
        reply = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": records})
    if reply.status_code != 200:
        raise pl.ProdlineError(f"predict answered {reply.status_code}: {reply.text}")
    return dict(reply.json())


def step(text: str) -> None:
    console.rule(f"[bold]{text}")


def run(ws: pl.Workspace, *, server: Any | None = None, lineage_tree: Any | None = None) -> None:
    """Run the story in ``ws`` after credit_risk.run.

    ``server`` is that story's model server (``None``: predictions go through the app
    in-process); ``lineage_tree`` its lineage renderer, to show the new model's lineage.
    """
    from prodline.serving.worker import build_worker

    traffic = Traffic(ws, server)
    base = ws.datasets.load(DATASET, 1)
    champion = ws.models.get(MODEL, "production").version

    step("6. the world shifts: live traffic and its labels")
    worker = build_worker(ws, holder="demo-worker", echo=lambda line: console.print(line))
    worker.tick()  # the scheduler is up before anything happens
    monitor = ws.monitors.create(
        MONITOR,
        model=f"{MODEL}@production",
        reference=f"{DATASET}@1",
        window=600,
        checks=["data_drift", "performance"],
        config={
            "drift": {"drift_share": 0.2},  # alert when a fifth of the inputs drift
            "performance": {"metric": "accuracy", "min": 0.8},
        },
    )
    live = live_traffic(base, 600, seed=1)
    accuracy, labels = traffic.send(live, expect_version=champion)
    fed = ws.feedback.add_many(labels)
    console.print(
        f"600 applicants served by v{champion}: amounts ×2.5, {NEW_PURPOSE!r} in "
        f"{(live['purpose'] == NEW_PURPOSE).mean():.0%} of them; {fed.accepted} labels came "
        f"back: v{champion} was right on {accuracy:.1%}"
    )

    step("7. the monitor raises a drift alert")
    result = ws.monitors.run(monitor.name)
    console.print(f"monitor {monitor.name}: run {result.id} {result.status}")
    for alert in ws.alerts.list():
        console.print(f"[red]alert[/] {alert.kind}: {alert.message}", highlight=False)

    step("8. the alert retrains on the newest data; the candidate meets the champion")
    newest = ws.datasets.register(
        pd.concat([base, live], ignore_index=True),
        name=DATASET,
        owner="credit-risk-team",
        source="applications with labels returned through feedback",
        description="the original 1,000 rows plus 600 labelled live applications",
    )
    console.print(f"registered {newest.ref}: {newest.rows} rows")
    ws.pipelines.register(
        PIPELINE,
        entrypoint=f"{Path(__file__).resolve()}:retrain",
        dataset=DATASET,
        model=MODEL,
        settings=PipelineSettings(
            promote="auto",
            margin=0.01,
            triggers=(f"alert:{MONITOR}",),
            rollback=RollbackGuard("accuracy", 0.1, 150),
        ),
    )
    worker.tick()  # hands the alert to the pipeline
    [run_] = ws.pipelines.runs(PIPELINE)
    console.print(
        f"pipeline run {run_.ref} ({run_.trigger} {run_.trigger_key}) on {run_.dataset}: "
        f"{run_.status}",
        highlight=False,
    )
    console.print(run_.decision or run_.error or "", highlight=False, markup=False)
    if run_.status != "succeeded" or run_.candidate_version is None:
        raise pl.ProdlineError(f"The retraining run did not promote: {run_.error}")
    promoted = run_.candidate_version
    console.print(f"{MODEL}@production → v{promoted}")
    accuracy, labels = traffic.send(live_traffic(base, 300, seed=2), expect_version=promoted)
    ws.feedback.add_many(labels)
    console.print(f"the next 300 applicants: v{promoted} right on {accuracy:.1%}")

    step("9. a bad hotfix is promoted, and auto-rollback takes it back")
    export = pd.concat([base, live], ignore_index=True)
    export[TARGET] = 1 - export[TARGET]  # the export's label column was inverted
    x = export.drop(columns=[TARGET])
    text = [c for c in x.columns if x[c].dtype == object]
    hotfix = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), text), remainder=StandardScaler()
        ),
        LogisticRegression(max_iter=1000),
    ).fit(x, export[TARGET])
    bad = ws.models.register(
        hotfix,
        name=MODEL,
        trained_on=[newest.ref],
        target=TARGET,
        description="hotfix (trained on an export with inverted labels)",
    )
    ws.promote(MODEL, bad.version, "production")
    console.print(f"{MODEL}@production → v{bad.version} (the hotfix)")
    accuracy, labels = traffic.send(live_traffic(base, 200, seed=3), expect_version=bad.version)
    ws.feedback.add_many(labels)
    console.print(f"200 applicants: v{bad.version} right on {accuracy:.1%}")
    [check] = ws.auto_rollback.check_all()  # the worker runs this every 30 s
    if not check.rolled_back:
        raise pl.ProdlineError(f"Auto-rollback did not act: {check.reason}")
    console.print(
        f"[yellow]auto-rollback[/] {MODEL}@production → v{check.previous}: {check.reason}",
        highlight=False,
    )
    if server is not None:
        server.wait_version(_first_record(live), check.previous or 0)

    step("10. every step in the audit log and the lineage")
    _audit_table(ws)
    result = ws.audit.verify()
    console.print(f"audit verify: [{'green' if result.ok else 'red'}]{result}[/]")
    if lineage_tree is not None:
        console.print(lineage_tree(ws, f"model:{MODEL}@{promoted}"))


def _first_record(frame: pd.DataFrame) -> dict[str, Any]:
    rec = frame.drop(columns=[TARGET]).iloc[0].to_dict()
    return {str(k): (None if pd.isna(v) else v) for k, v in rec.items()}


_SHOWN = (
    "monitor.create",
    "monitor.run",
    "alert.raised",
    "dataset.registered",
    "pipeline.registered",
    "pipeline.run_started",
    "model.registered",
    "pipeline.candidate_registered",
    "alias.promote",
    "pipeline.run_finished",
    "alias.rollback",
)


def _audit_table(ws: pl.Workspace) -> None:
    table = Table(title="prodline audit log (this story)")
    for col in ("seq", "action", "subject", "actor"):
        table.add_column(col)
    events = [e for e in reversed(ws.audit.events(limit=200)) if e.action in _SHOWN]
    first = next((i for i, e in enumerate(events) if e.action == "monitor.create"), 0)
    for event in events[first:]:
        table.add_row(str(event.seq), event.action, event.subject, event.actor)
    console.print(table)


def main() -> None:
    """``python examples/credit_monitoring.py`` (after examples/credit_risk.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "credit_risk", Path(__file__).with_name("credit_risk.py")
    )
    assert spec is not None and spec.loader is not None
    credit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(credit)
    with pl.Workspace.open() as ws:
        run(ws, lineage_tree=credit.lineage_tree)


if __name__ == "__main__":
    main()
