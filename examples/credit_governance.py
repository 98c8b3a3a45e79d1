"""The governance story: a high-risk credit model meets the EU AI Act's duties.

A credit-scoring model is classified with the Annex III questionnaire (creditworthiness
of natural persons: high risk), so ``production`` is protected by the ``high`` policy:
an evaluation on a holdout, a fairness audit, a poisoning scan of the training data, a
justification for the PII columns it learns from, and a reviewer's sign-off.

The plain logistic regression fails the fairness audit (its approval rates differ too
much between men and women and across age bands). A mitigated model, trained with
fairlearn's ``ExponentiatedGradient`` under a demographic-parity constraint, passes.
fairlearn's own classes are not types a model file may build (prodline opens skops
files only when every type is trusted), so the reduction's weighted mixture of logistic
regressions is collapsed into one ``LogisticRegression`` (the weighted mean of their
coefficients) inside the same scikit-learn pipeline: a skops file of trusted types that
the gate then checks on the holdout like any other version, and that is served. The
registrant's own approval is refused (four-eyes); a reviewer approves; it is promoted.
Its prediction log hashes ``sex`` and drops ``age``; the Annex IV documentation is
generated from the recorded evidence, with what is missing listed as gaps.

``prodline demo`` runs it last; on its own: ``python examples/credit_governance.py``.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import prodline as pl

MODEL = "credit-scoring"
TRAIN, HOLDOUT = "german-credit-train", "german-credit-holdout"
TARGET = "risk"
REVIEWER = "rita (reviewer)"
ANSWERS = {
    "purpose": "score consumer loan applications (creditworthiness of natural persons)",
    "essential_services": True,
    "profiling": True,
}
console = Console()


def step(text: str) -> None:
    console.rule(f"[bold]{text}")


def data_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("prodline.demo") / "data" / "german_credit.csv"))


def baseline(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    """The plain candidate: one-hot categories, scaled numbers, logistic regression."""
    categorical = [c for c in x.columns if x[c].dtype == object]
    numeric = [c for c in x.columns if c not in categorical]
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("num", StandardScaler(), numeric),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))]).fit(x, y)


def mitigate(pipe: Pipeline, x: pd.DataFrame, y: pd.Series, groups: pd.Series) -> Pipeline:
    """ExponentiatedGradient (demographic parity across ``groups``) on the pipeline's
    features, collapsed into one LogisticRegression of trusted types."""
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    prep = pipe.named_steps["prep"]
    reduction = ExponentiatedGradient(
        LogisticRegression(max_iter=1000),
        DemographicParity(difference_bound=0.02),
        max_iter=50,
    )
    reduction.fit(prep.transform(x), y, sensitive_features=groups)
    weights = np.asarray(reduction.weights_, dtype=float)
    predictors = list(reduction.predictors_)
    merged = copy.deepcopy(predictors[0])
    merged.coef_ = sum(w * p.coef_ for w, p in zip(weights, predictors, strict=True))
    merged.intercept_ = sum(w * p.intercept_ for w, p in zip(weights, predictors, strict=True))
    return Pipeline([("prep", prep), ("clf", merged)])


def _register_splits(ws: pl.Workspace) -> tuple[str, str, pd.DataFrame]:
    frame = pd.read_csv(data_path())
    train, holdout = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame[TARGET])
    refs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, part, what in ((TRAIN, train, "training"), (HOLDOUT, holdout, "holdout")):
            path = Path(tmp) / f"{name}.csv"
            part.to_csv(path, index=False)
            ds = ws.datasets.register(
                path,
                name=name,
                owner="credit-risk-team",
                source="UCI Statlog German Credit (CC BY 4.0), 70/30 split, seed 0",
                description=f"the {what} rows of german-credit",
            )
            refs.append(ds.ref)
    return refs[0], refs[1], train


def _show_gate(ws: pl.Workspace, ref: str) -> bool:
    report = ws.gates.status(ref)
    table = Table(title=f"gate check {ref} (policy {report.policy})")
    for col in ("check", "result"):
        table.add_column(col)
    for check in report.required:
        met = report.met.get(check)
        table.add_row(check, "[green]met[/]" if met else "[red]not met[/]")
    console.print(table)
    fairness = [e for e in ws.gates.evidence(ref) if e.kind == "gate:fairness"]
    if fairness:
        _show_fairness(fairness[-1].summary)
    return all(report.met.get(c) for c in report.required if c != "signoff")


def _show_fairness(summary: dict[str, Any]) -> None:
    """One line per audited grouping (attribute or intersection): the headline numbers."""
    report = summary.get("report") or {}
    for grouping in report.get("groupings", []):
        console.print(
            f"  fairness {grouping['name']}: demographic-parity diff "
            f"{grouping['demographic_parity_difference']:.3f}, equalized-odds diff "
            f"{grouping['equalized_odds_difference']:.3f}, disparate impact "
            f"{grouping['disparate_impact_ratio']:.3f}",
            highlight=False,
        )
    thresholds = summary.get("thresholds") or {}
    if thresholds:
        console.print(
            "  thresholds: " + ", ".join(f"{k} {v}" for k, v in thresholds.items()),
            highlight=False,
        )


def _as_reviewer(ws: pl.Workspace) -> pl.Workspace:
    """The workspace as the reviewer: by name while it has no users, else by the token the
    control-plane story made for rita (a re-run of the demo, after users exist)."""
    tokens = ws.home / "demo-tokens.json"
    if ws.identity.has_users() and tokens.exists():
        token = json.loads(tokens.read_text())["rita"]
        return pl.Workspace.open(ws.home, db_url=ws.settings.db_url, token=token)
    return pl.Workspace.open(ws.home, db_url=ws.settings.db_url, actor=REVIEWER)


def run(ws: pl.Workspace) -> Path:
    """Run the story in ``ws``; returns the path of the generated Annex IV document."""
    from prodline.gates.fairness import protected_groups

    step("governance 1. classify under the EU AI Act (Annex III)")
    ws.models.create(
        MODEL,
        owner="credit-risk-team",
        description="approve or refer consumer loan applications",
        risk_level="minimal",
    )
    verdict = ws.compliance.classify(MODEL, ANSWERS)
    console.print(
        f"{MODEL}: risk class {verdict.risk_class} "
        f"({'; '.join(r['article'] for r in verdict.reasons)})",
        highlight=False,
    )

    step("governance 2. a plain model meets the high-risk gates")
    train_ref, holdout_ref, train = _register_splits(ws)
    x, y = train.drop(columns=[TARGET]), train[TARGET]
    plain = baseline(x, y)
    first = ws.models.register(
        plain, name=MODEL, trained_on=[train_ref], target=TARGET, description="logistic regression"
    )
    ws.gates.justify(
        first.ref, "sex and age are audited for fairness; age is a lawful credit factor here"
    )
    ws.gates.check(first.ref, holdout=holdout_ref)
    _show_gate(ws, first.ref)
    try:
        ws.promote(MODEL, first.version, "production")
    except pl.GateFailed as exc:
        unmet = [r.split(":")[0] for r in exc.details.get("reasons", [])]
        console.print(
            f"[red]refused[/] {first.ref} → production: unmet {', '.join(unmet)}", highlight=False
        )

    step("governance 3. mitigate with fairlearn (ExponentiatedGradient)")
    bands = protected_groups(x, attributes=["sex", "age"])
    groups = bands["sex"].astype(str) + "&" + bands["age"].astype(str)
    fair = mitigate(plain, x, y, groups)
    second = ws.models.register(
        fair,
        name=MODEL,
        trained_on=[train_ref],
        target=TARGET,
        description="logistic regression, ExponentiatedGradient(DemographicParity) collapsed",
        params={"mitigation": "fairlearn ExponentiatedGradient, DemographicParity(0.02)"},
    )
    ws.gates.justify(
        second.ref, "sex and age are audited for fairness; age is a lawful credit factor here"
    )
    ws.gates.check(second.ref, holdout=holdout_ref)
    passed = _show_gate(ws, second.ref)
    console.print(
        f"{second.ref}: {'every check but sign-off met' if passed else 'still failing'}",
        highlight=False,
    )

    step("governance 4. four-eyes sign-off, then promotion")
    try:
        ws.gates.approve(second.ref, "looks fine to me")
    except pl.ProdlineError as exc:
        console.print(f"[red]refused[/] self-approval: {exc.message}", highlight=False)
    with _as_reviewer(ws) as reviewer:
        reviewer.gates.approve(second.ref, "read the fairness audit and the poisoning scan")
    console.print(f"{REVIEWER} approved {second.ref}", highlight=False)
    ws.promote(MODEL, second.version, "production")
    console.print(f"{MODEL}@production → v{second.version}", highlight=False)

    step("governance 5. monitoring plan and data minimisation in the prediction log")
    ws.monitors.create(
        f"{MODEL}-drift", model=f"{MODEL}@production", reference=holdout_ref, window="500"
    )
    console.print(f"monitor {MODEL}-drift watches {MODEL}@production", highlight=False)
    ws.retention.set(MODEL, {"sex": "hash", "age": "drop"}, days=365)
    records = [{str(k): v for k, v in rec.items()} for rec in x.head(3).to_dict(orient="records")]
    _predict_in_process(ws, records)
    logged = ws.predictions.read(MODEL)
    console.print(
        f"logged {len(logged)} predictions: sex as {logged['sex'].iloc[0][:14]}…, "
        f"age {'kept' if 'age' in logged.columns else 'not logged'}",
        highlight=False,
    )

    step("governance 6. the technical documentation (Annex IV)")
    path = ws.compliance.docs(MODEL, second.version, "html")
    doc = ws.compliance.document(MODEL, second.version)
    cited = sum(len(s.statements) for s in doc.sections)
    console.print(
        f"Annex IV document: {path}\n{cited} statements, each citing its audit event; "
        f"{len(doc.gaps)} gaps:",
        highlight=False,
        soft_wrap=True,
    )
    for title, gap in doc.gaps:
        console.print(f"  gap — {title}: {gap}", highlight=False, soft_wrap=True)
    result = ws.audit.verify()
    console.print(f"audit verify: [{'green' if result.ok else 'red'}]{result}[/]")
    return path


def _predict_in_process(ws: pl.Workspace, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Ask the real serving app (in this process) for predictions; it logs them."""
    from fastapi.testclient import TestClient

    from prodline.serving import create_app

    with TestClient(create_app(ws, MODEL, "production")) as client:
        reply = client.post(f"/v1/models/{MODEL}/predict", json={"inputs": records})
    if reply.status_code != 200:
        raise pl.ProdlineError(f"The served {MODEL} answered {reply.status_code}: {reply.text}")
    return dict(reply.json())


if __name__ == "__main__":
    with pl.Workspace.open() as workspace:
        run(workspace)
