"""Compliance: the Annex III classification, Annex IV documents built only from recorded
evidence (every section present, statements cite real audit events, missing evidence
shown as a gap), and signed bundles checked offline."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from prodline.compliance import SECTIONS, classify, verify_bundle
from prodline.compliance.render import render
from prodline.errors import InvalidInput
from prodline.ledger.audit import load_or_create_key
from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.workspace import Workspace

CREDIT = {
    "purpose": "score consumer loan applications",
    "essential_services": True,
    "profiling": True,
}


@pytest.fixture
def credit_ws(sqlite_ws: Workspace, tmp_path: Path) -> Workspace:
    """A model trained on data with PII columns (sex, age), classified, partly gated."""
    ws = sqlite_ws
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], n),
            "age": rng.integers(19, 75, n),
            "amount": rng.normal(3000, 800, n).round(),
        }
    )
    frame["risk"] = (frame["amount"] < 3000).astype(int)
    frame.to_csv(tmp_path / "credit.csv", index=False)
    ws.datasets.register(
        tmp_path / "credit.csv", name="credit", owner="risk-team", source="synthetic applicants"
    )
    model = LogisticRegression().fit(frame[["age", "amount"]], frame["risk"])
    ws.models.register(
        model,
        name="credit-risk",
        trained_on=["credit@1"],
        target="risk",
        metrics={"auc": 0.81},
        risk_level="high",
        git_commit="abc123",
    )
    ws.compliance.classify("credit-risk", CREDIT)
    with ws.tx() as conn:
        ws.evidence.record(
            conn,
            "model:credit-risk@1",
            "gate:evaluation",
            {"holdout": "credit@1", "auc": 0.8},
            passed=True,
        )
        ws.evidence.record(
            conn,
            "model:credit-risk@1",
            "gate:fairness",
            {"demographic_parity_difference": 0.04, "disparate_impact": 0.91},
            passed=True,
        )
        ws.evidence.record(
            conn,
            "model:credit-risk@1",
            "gate:approval",
            {"note": "reviewed the fairness audit"},
            passed=True,
            actor="rita",
        )
    return ws


@pytest.mark.parametrize(
    ("answers", "risk_class", "level"),
    [
        (CREDIT, "high", "high"),
        ({"purpose": "rank support tickets"}, "minimal", "minimal"),
        ({"purpose": "answer customers", "interacts_with_people": True}, "limited", "limited"),
        ({"purpose": "social credit", "social_scoring": True}, "prohibited", "high"),
        # the Art. 6(3) derogation: a narrow task without profiling is not high-risk ...
        ({"purpose": "check forms", "employment": True, "narrow_task": True}, "minimal", "minimal"),
        # ... but never when it profiles people
        (
            {"purpose": "screen CVs", "employment": True, "narrow_task": True, "profiling": True},
            "high",
            "high",
        ),
    ],
)
def test_the_questionnaire_classifies(
    answers: dict[str, object], risk_class: str, level: str
) -> None:
    verdict = classify(answers)
    assert (verdict.risk_class, verdict.risk_level) == (risk_class, level)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"essential_services": True}, "needs the intended purpose"),
        ({"purpose": "x", "esential_services": True}, "Unknown questionnaire key"),
        ({"purpose": "x", "profiling": "yes"}, "must be true or false"),
    ],
)
def test_bad_answers_are_refused(answers: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        classify(answers)


def test_classification_is_evidence_and_sets_the_risk_level(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.models.create("chat", risk_level="minimal")
    ws.compliance.classify("chat", {"purpose": "answer customers", "interacts_with_people": True})
    assert ws.models.model("chat").risk_level == "limited"
    [ev] = ws.evidence.list("model:chat", "compliance:classification")
    assert ev.summary["answers"]["interacts_with_people"] is True and ev.passed is True
    assert ws.audit.events(action="model.updated")[0].payload["to"] == {"risk_level": "limited"}


def test_the_document_has_every_annex_iv_section_and_cites_real_events(
    credit_ws: Workspace,
) -> None:
    doc = credit_ws.compliance.document("credit-risk", 1)
    assert [s.key for s in doc.sections] == [k for k, _, _ in SECTIONS]
    events = {e.seq: e for e in credit_ws.audit.events()}
    for section in doc.sections:
        for st in section.statements:
            assert st.event in events and st.event in doc.events, (section.key, st.text)
            assert doc.events[st.event]["hash"] == events[st.event].hash
    text = {s.key: " ".join(t.text for t in s.statements) for s in doc.sections}
    assert "score consumer loan applications" in text["purpose"]
    assert "sex (pii" in text["data"] and "age (pii" in text["data"]
    assert "demographic_parity_difference=0.04" in text["fairness"]
    assert "Human sign-off by rita" in text["oversight"]
    assert "abc123" in text["training"]
    md = render(doc, "md").decode()
    html = render(doc, "html").decode()
    for number, (_, title, provision) in enumerate(SECTIONS, 1):
        assert f"## {number}. {title}" in md and provision in md
        assert title.replace(":", ":") in html
    assert "## Model card" in md and "Evidence index" in html
    for seq in re.findall(r"\[#(\d+)\]\(#event-\d+\)", md):
        assert f'id="event-{seq}"' in md  # every cited event is in the index
    pdf = render(doc, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000


def test_missing_evidence_shows_as_a_gap_never_as_a_statement(credit_ws: Workspace) -> None:
    doc = credit_ws.compliance.document("credit-risk", 1)
    sections = {s.key: s for s in doc.sections}
    assert not sections["poisoning"].statements
    assert any("No data-poisoning scan" in g for g in sections["poisoning"].gaps)
    assert any("No monitor watches" in g for g in sections["monitoring"].gaps)
    assert any("No retention policy" in g for g in sections["logging"].gaps)
    assert any("justification" in g for g in sections["data"].gaps)
    assert any("declaration of conformity" in g for g in sections["standards"].gaps)
    # recording the missing piece turns the gap into a statement
    with credit_ws.tx() as conn:
        credit_ws.evidence.record(
            conn,
            "model:credit-risk@1",
            "gate:poisoning",
            {"share": 0.01, "suspects": 2},
            passed=True,
        )
    credit_ws.retention.set("credit-risk", {"age": "drop"}, days=90)
    doc = credit_ws.compliance.document("credit-risk", 1)
    sections = {s.key: s for s in doc.sections}
    assert (
        not sections["poisoning"].gaps and "share=0.01" in sections["poisoning"].statements[0].text
    )
    assert not any("No retention policy" in g for g in sections["logging"].gaps)
    md = render(doc, "md").decode()
    assert "- **Gap:** No data-poisoning scan" not in md


def test_docs_writes_the_file_and_refuses_an_unknown_format(
    credit_ws: Workspace, tmp_path: Path
) -> None:
    path = credit_ws.compliance.docs("credit-risk", "1", "html", tmp_path / "doc.html")
    assert path.read_text().startswith("<!doctype html>")
    default = credit_ws.compliance.docs("credit-risk", None, "md")
    assert default == credit_ws.home / "compliance" / "credit-risk-v1-annex-iv.md"
    with pytest.raises(InvalidInput, match="choose one of md, html, pdf"):
        credit_ws.compliance.docs("credit-risk", 1, "docx")


def _log_predictions(ws: Workspace, n: int) -> None:
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=3)
    writer.write(
        [
            Prediction(
                f"r{i}",
                "credit-risk",
                1,
                time.time(),
                [{"age": 30 + i, "amount": 1.0}],
                [i % 2],
                None,
                None,
                1.0,
            )
            for i in range(n)
        ]
    )
    writer.close()


def test_the_bundle_verifies_offline_and_fails_when_tampered(
    credit_ws: Workspace, tmp_path: Path
) -> None:
    ws = credit_ws
    _log_predictions(ws, 5)
    out = tmp_path / "bundle"
    manifest = ws.compliance.export(out, since=datetime.now(UTC) - timedelta(hours=1))
    assert manifest["events"]["count"] == ws.audit.count() - 1  # the export's own event after
    assert manifest["predictions"]["rows"] == 5
    assert ws.audit.events(limit=1)[0].action == "compliance.exported"
    key = load_or_create_key(ws.home / "keys" / "audit.key")
    ws.close()
    check = verify_bundle(out, key)
    assert check.ok and check.events == manifest["events"]["count"], check
    assert not verify_bundle(out, b"another workspace key").ok

    def tampered(edit: str) -> str:
        copy = tmp_path / f"t-{edit}"
        import shutil

        shutil.copytree(out, copy)
        if edit == "event":
            lines = (copy / "events.jsonl").read_text().splitlines()
            event = json.loads(lines[1])
            event["actor"] = "mallory"
            lines[1] = json.dumps(event)
            (copy / "events.jsonl").write_text("\n".join(lines) + "\n")
        elif edit == "rehashed":  # also fix the file hash in the manifest: the signature breaks
            lines = (copy / "events.jsonl").read_text().splitlines()
            del lines[2]
            (copy / "events.jsonl").write_text("\n".join(lines) + "\n")
            m = json.loads((copy / "manifest.json").read_text())
            import hashlib

            m["files"]["events.jsonl"]["sha256"] = hashlib.sha256(
                (copy / "events.jsonl").read_bytes()
            ).hexdigest()
            (copy / "manifest.json").write_text(json.dumps(m))
        elif edit == "predictions":
            (copy / "predictions.parquet").write_bytes(
                (copy / "predictions.parquet").read_bytes() + b"x"
            )
        return str(verify_bundle(copy, key))

    assert "events.jsonl does not match its hash" in tampered("event")
    assert "signature is invalid" in tampered("rehashed")
    assert "predictions.parquet does not match" in tampered("predictions")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        Workspace.open(ws.home).compliance.export(out, since=datetime.now(UTC))
