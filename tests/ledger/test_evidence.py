"""Evidence: immutable records committed with their audit event, read back by subject/kind."""

from __future__ import annotations

import numpy as np
import pytest

from prodline.errors import InvalidInput, NotFound
from prodline.workspace import Workspace


def test_record_and_list(ws: Workspace) -> None:
    sha = ws.artifacts.put_bytes(b"<html>report</html>")
    with ws.tx() as conn:
        first = ws.evidence.record(
            conn,
            "model:credit-risk@2",
            "performance",
            {"accuracy": np.float64(0.875), "auc": float("nan"), "counts": np.arange(3)},
            passed=True,
            artifact=sha,
        )
        ws.evidence.record(conn, "monitor:drift", "data_drift", {"share": 0.1}, passed=False)
        ws.evidence.record(conn, "model:credit-risk@2", "fairness", {}, actor="auditor")
    assert first.summary == {"accuracy": 0.875, "auc": None, "counts": [0, 1, 2]}
    assert ws.evidence.get(first.id) == first
    assert [e.kind for e in ws.evidence.list("model:credit-risk@2")] == ["performance", "fairness"]
    assert [e.subject for e in ws.evidence.list(kind="data_drift")] == ["monitor:drift"]
    assert [e.kind for e in ws.evidence.list("model:credit-risk*")] == ["performance", "fairness"]
    assert [e.kind for e in ws.evidence.list(last=1)] == ["fairness"]
    assert ws.evidence.list()[2].created_by == "auditor"
    assert first.to_dict()["artifact"] == sha and first.created_at.tzinfo is not None
    events = ws.audit.events(action="evidence.recorded")
    assert len(events) == 3 and events[-1].payload["evidence_id"] == first.id
    assert ws.audit.verify().ok


def test_evidence_rolls_back_with_its_transaction(sqlite_ws: Workspace) -> None:
    with pytest.raises(RuntimeError), sqlite_ws.tx() as conn:
        sqlite_ws.evidence.record(conn, "model:m@1", "evaluation", {"a": 1})
        raise RuntimeError("the change it justified failed")
    assert sqlite_ws.evidence.list() == []
    assert sqlite_ws.audit.events(action="evidence.recorded") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"kind": " "}, "kind"),
        ({"summary": [1, 2]}, "summary"),
        ({"summary": {"x": object()}}, "summary"),
        ({"passed": "yes"}, "passed"),
        ({"artifact": "abc"}, "artifact"),
    ],
)
def test_bad_evidence_names_the_field(sqlite_ws: Workspace, kwargs: dict, field: str) -> None:
    args = {"subject": "model:m@1", "kind": "evaluation", "summary": {"a": 1}} | kwargs
    with pytest.raises(InvalidInput) as info, sqlite_ws.tx() as conn:
        sqlite_ws.evidence.record(
            conn, args.pop("subject"), args.pop("kind"), args.pop("summary"), **args
        )
    assert info.value.details["field"] == field


def test_missing_evidence(sqlite_ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no evidence #7"):
        sqlite_ws.evidence.get(7)
    assert not hasattr(sqlite_ws.evidence, "update") and not hasattr(sqlite_ws.evidence, "delete")
