"""The review queue on both metadata backends: policies, intake, claims, decisions, labels,
health and SLA alerts; roles; two claims of one item (exactly one wins)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prodline.errors import Conflict, Forbidden, InvalidInput, NotFound
from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.review import ReviewItem
from prodline.workspace import Workspace


def _item(ws: Workspace, request_id: str | None = "r1", **extra: Any) -> ReviewItem:
    fields: dict[str, Any] = {
        "mode": "hold",
        "reason": "confidence 0.52 < 0.60",
        "input": [{"a": 1.0}, {"a": -1.0}],
        "output": [{"prediction": 1, "proba": {"0": 0.48, "1": 0.52}}, {"prediction": 0}],
        "version": 1,
        "request_id": request_id,
        "score": 0.52,
    }
    fields.update(extra)
    return ws.reviews.submit("model", "m", **fields)


def _log(ws: Workspace, request_id: str, rows: int = 2) -> None:
    writer = PredictionWriter(ws.db, ws.artifacts)
    inputs = [{"a": float(i)} for i in range(rows)]
    writer.write([Prediction(request_id, "m", 1, time.time(), inputs, [1] * rows, None, None, 1)])
    writer.close()


def test_the_whole_flow_on_each_backend(ws: Workspace) -> None:
    ws.models.create("m")
    assert ws.reviews.policy("model", "m") is None and ws.reviews.policy_version() == 0
    policy = ws.reviews.set_policy("model", "m", mode="hold", threshold=0.6, sla="30m")
    assert (policy.threshold, policy.sla_s) == (0.6, 1800.0)
    assert ws.reviews.policy("model", "m") == policy and ws.reviews.policies() == [policy]
    assert ws.reviews.policy_version() == 1
    _log(ws, "r1")
    held = _item(ws)
    assert held.status == "open" and held.public() == {
        "review_id": held.id,
        "status": "pending_review",
        "output": None,
        "decided_at": None,
    }
    assert held.due_at - held.created_at == timedelta(minutes=30)
    ids = ws.reviews.submit_many(
        [{"kind": "model", "subject": "m", "mode": "after", "reason": "sample"}] * 3
    )
    assert ids == [held.id + 1, held.id + 2, held.id + 3]
    assert ws.reviews.count(status="pending") == 4 and ws.reviews.count(status="decided") == 0
    assert [i.id for i in ws.reviews.list(limit=2, offset=1)] == ids[:2]
    assert ws.reviews.list(newest_first=True, limit=1)[0].id == ids[-1]

    claimed = ws.reviews.claim(held.id)
    assert (claimed.status, claimed.claimed_by) == ("claimed", "tester")
    assert ws.reviews.claim(held.id).claimed_at == claimed.claimed_at  # again: a no-op
    assert [i.id for i in ws.reviews.list(claimed_by="tester")] == [held.id]
    edited = ws.reviews.decide(held.id, "edit", output=[{"prediction": 0}, {"prediction": 1}])
    assert edited.status == "edited" and edited.public()["output"] == [
        {"prediction": 0},
        {"prediction": 1},
    ]
    # the edit became ground truth, one label per row, joined to the logged prediction
    labelled = ws.feedback.read("m")
    assert sorted(zip(labelled["row"], labelled["label"], strict=True)) == [(0, 0), (1, 1)]
    approved = ws.reviews.decide(ids[0], "approve", comment="fine")
    assert approved.final_output == approved.output and approved.claimed_by == "tester"
    assert ws.reviews.decide(ids[1], "reject").public()["output"] is None
    assert ws.reviews.count(status="decided") == 3 and ws.reviews.count(status="open") == 1
    assert [x["decision"] for x in ws.reviews.labels("model", "m")] == [
        "edited",
        "approved",
        "rejected",
    ]
    health = ws.reviews.health()
    assert (health.open, health.claimed, health.breaches) == (1, 0, 0)
    assert health.per_reviewer == {"tester": {"claimed": 0, "decided": 3}}

    decided = ws.audit.events(action="review.decided")
    assert {e.payload["decision"] for e in decided} == {"edit", "approve", "reject"}
    event = next(e for e in decided if e.payload["item"] == held.id)
    assert event.payload | {"comment": ""} == {
        "decision": "edit",
        "reviewer": "tester",
        "item": held.id,
        "subject": "m",
        "version": 1,
        "request_id": "r1",
        "comment": "",
    }
    assert len(ws.audit.events(action="review.submitted")) == 2  # one per submit_many batch
    ws.reviews.clear_policy("model", "m")
    assert ws.reviews.policy("model", "m") is None and ws.reviews.policy_version() == 2
    assert ws.audit.verify().ok


def test_two_claims_of_one_item_exactly_one_wins(
    make_ws: Callable[..., Workspace], db_url: str
) -> None:
    first = make_ws(db_url=db_url, actor="ann")
    second = make_ws(db_url=db_url, actor="bob")
    ids = first.reviews.submit_many(
        [{"kind": "model", "subject": "m", "mode": "after", "reason": "sample"}] * 4
    )
    for item_id in ids:
        gate = threading.Barrier(2)
        outcome: dict[str, str] = {}

        def claim(
            ws: Workspace, item_id: int = item_id, gate: Any = gate, outcome: Any = outcome
        ) -> None:
            gate.wait()
            try:
                ws.reviews.claim(item_id)
                outcome[ws.actor] = "won"
            except Conflict as exc:
                outcome[ws.actor] = exc.message

        threads = [threading.Thread(target=claim, args=(w,)) for w in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winner = first.reviews.get(item_id).claimed_by
        assert winner in ("ann", "bob") and outcome[winner] == "won", outcome
        loser = "bob" if winner == "ann" else "ann"
        assert f"claimed by {winner}" in outcome[loser]
    assert len(first.audit.events(action="review.claimed")) == len(ids)


BAD_CALLS: list[tuple[Any, type[Exception], str]] = [
    (lambda r, i: r.decide(i, "maybe"), InvalidInput, "use approve, edit or reject"),
    (lambda r, i: r.decide(i, "edit"), InvalidInput, "needs the corrected output"),
    (lambda r, i: r.decide(999, "approve"), NotFound, "Review 999 does not exist"),
    (lambda r, i: r.claim(999), NotFound, "prodline review list"),
    (lambda r, i: r.get(999), NotFound, "Review 999"),
    (lambda r, i: r.list(status="done"), InvalidInput, "pending, decided"),
    (lambda r, i: r.list(kind="llm"), InvalidInput, "model, kb"),
    (lambda r, i: r.list(limit=0), InvalidInput, "limit"),
    (lambda r, i: r.release(i), Conflict, "not claimed"),
]


def test_bad_calls_say_what_to_do_and_change_nothing(sqlite_ws: Workspace) -> None:
    item = _item(sqlite_ws)
    for call, error, text in BAD_CALLS:
        with pytest.raises(error, match=text):
            call(sqlite_ws.reviews, item.id)
    assert sqlite_ws.reviews.get(item.id).status == "open"
    assert sqlite_ws.audit.events(action="review.decided") == []


BAD_POLICIES: list[tuple[dict[str, Any], str, str]] = [
    ({"mode": "wait"}, "mode", "hold .* or after"),
    ({"mode": "hold", "threshold": 1.5}, "threshold", "outside 0..1"),
    ({"mode": "hold", "threshold": "high"}, "threshold", "number between 0 and 1"),
    ({"mode": "after", "sample_rate": -0.1}, "sample_rate", "outside 0..1"),
    ({"mode": "hold", "sla": "soon"}, "sla", "not a duration"),
    ({"mode": "hold", "sla": 0}, "sla", "positive"),
    ({"mode": "hold", "webhook": "ftp://x/y"}, "webhook", "not an http"),
]


def test_bad_policies_name_the_field(sqlite_ws: Workspace) -> None:
    sqlite_ws.models.create("m")
    for kwargs, field, text in BAD_POLICIES:
        with pytest.raises(InvalidInput, match=text) as info:
            sqlite_ws.reviews.set_policy("model", "m", **kwargs)
        assert info.value.details["field"] == field
    assert sqlite_ws.reviews.policy_version() == 0


def test_policies_need_their_subject_and_kbs_are_after_only(sqlite_ws: Workspace) -> None:
    with pytest.raises(NotFound):
        sqlite_ws.reviews.set_policy("model", "nope", mode="hold")
    with pytest.raises(InvalidInput, match="after the fact") as info:
        sqlite_ws.reviews.set_policy("kb", "docs", mode="hold")
    assert info.value.details["field"] == "mode"
    with pytest.raises(InvalidInput, match="kind"):
        sqlite_ws.reviews.set_policy("llm", "x", mode="after")
    with pytest.raises(NotFound, match="no review policy"):
        sqlite_ws.reviews.clear_policy("model", "m")


def test_intake_names_the_bad_record_and_stores_nothing(sqlite_ws: Workspace) -> None:
    good = {"kind": "kb", "subject": "docs", "mode": "after", "reason": "groundedness 0.3"}
    for bad, field in [
        ({**good, "kind": "x"}, "records[1].kind"),
        ({**good, "reason": ""}, "records[1].reason"),
        ({**good, "score": "high"}, "records[1].score"),
        ({**good, "colour": 1}, "records[1].colour"),
    ]:
        with pytest.raises(InvalidInput) as info:
            sqlite_ws.reviews.submit_many([good, bad])
        assert info.value.details["field"] == field
    assert sqlite_ws.reviews.count() == 0
    assert sqlite_ws.reviews.submit_many([]) == []


def test_decisions_are_final_and_claims_personal(make_ws: Callable[..., Workspace]) -> None:
    ann, bob = make_ws(actor="ann"), make_ws(actor="bob")
    first, second = _item(ann, "r1"), _item(ann, "r2")
    ann.reviews.claim(first.id)
    with pytest.raises(Conflict, match="claimed by ann") as info:
        bob.reviews.decide(first.id, "approve")
    assert info.value.details["claimed_by"] == "ann"
    with pytest.raises(Conflict, match="claimed by ann"):
        bob.reviews.claim(first.id)
    bob.reviews.decide(second.id, "reject", comment="wrong")  # open: claimed implicitly
    for who in (ann, bob):
        with pytest.raises(Conflict, match="already rejected by bob; decisions are final"):
            who.reviews.decide(second.id, "approve")
    with pytest.raises(Conflict, match="decisions are final"):
        ann.reviews.claim(second.id)
    ann.reviews.release(first.id)  # no users: everyone is admin, may release
    assert bob.reviews.claim(first.id).claimed_by == "bob"
    assert ann.reviews.get(second.id).comment == "wrong"


def test_roles_reviewer_decides_service_and_auditor_may_not(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.identity.add_user("ada", "admin")
    tokens = {}
    for name, role in [
        ("rita", "reviewer"),
        ("ray", "reviewer"),
        ("sam", "service"),
        ("aud", "auditor"),
        ("eng", "ml-engineer"),
    ]:
        ws.identity.add_user(name, role)
        tokens[name] = ws.identity.create_token(name)[1]
    _, admin_token = ws.identity.create_token("ada")
    as_ = {name: ws.acting_as(token) for name, token in tokens.items()}
    as_["ada"] = ws.acting_as(admin_token)
    as_["eng"].models.create("m")
    as_["eng"].reviews.set_policy("model", "m", mode="after", sample_rate=0.1)
    with pytest.raises(Forbidden, match=r"review\.configure needs role ml-engineer"):
        as_["rita"].reviews.set_policy("model", "m", mode="hold")
    item = _item(as_["sam"])  # intake from a server: no role needed
    for name in ("sam", "aud", "eng"):
        with pytest.raises(Forbidden, match=r"review\.decide needs role reviewer"):
            as_[name].reviews.decide(item.id, "approve")
        with pytest.raises(Forbidden, match=r"review\.claim needs role reviewer"):
            as_[name].reviews.claim(item.id)
    as_["rita"].reviews.claim(item.id)
    with pytest.raises(Forbidden, match="claimed by rita; only they or an admin"):
        as_["ray"].reviews.release(item.id)
    as_["ada"].reviews.release(item.id)  # an admin may
    decided = as_["ray"].reviews.decide(item.id, "approve")
    assert decided.decided_by == "ray"
    assert ws.audit.events(action="review.decided")[0].actor == "ray"


def test_sla_breaches_alert_once(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.models.create("m")
    ws.reviews.set_policy("model", "m", mode="hold", sla="10m")
    late, fresh = _item(ws, "r1"), _item(ws, "r2")
    decided = _item(ws, "r3")
    ws.reviews.decide(decided.id, "reject")
    now = datetime.now(UTC)
    assert ws.reviews.check_sla(now=now) == 0
    later = now + timedelta(minutes=11)
    assert ws.reviews.health(now=later).breaches == 2
    assert ws.reviews.check_sla(now=later) == 2
    assert ws.reviews.check_sla(now=later + timedelta(hours=1)) == 0  # once per item
    alerts = ws.alerts.list(kind="review_sla")
    assert sorted(a.payload["review_id"] for a in alerts) == [late.id, fresh.id]
    assert alerts[0].subject == "model:m" and "prodline review decide" in alerts[0].message
    assert ws.reviews.health(now=later).oldest_open_age_s == pytest.approx(
        (later - late.created_at).total_seconds()
    )


def test_a_failing_feedback_write_does_not_undo_the_decision(
    sqlite_ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    item = _item(sqlite_ws, "r" * 100)  # longer than a feedback request id may be
    assert sqlite_ws.reviews.decide(item.id, "approve").status == "approved"
    assert "storing its labels as feedback failed" in caplog.text
    assert sqlite_ws.reviews.get(item.id).status == "approved"
    assert sqlite_ws.audit.events(action="feedback.received") == []


def test_kb_decisions_are_labels_in_the_queue_not_feedback(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    item = ws.reviews.submit(
        "kb", "docs", mode="after", reason="groundedness 0.31 < 0.50", score=0.31,
        input={"question": "refunds?", "contexts": ["14 days"]},
        output={"answer": "30 days"}, request_id="call-1",
    )  # fmt: skip
    ws.reviews.decide(item.id, "edit", output={"answer": "14 days"})
    assert ws.reviews.labels("kb", "docs") == [
        {
            "review_id": item.id,
            "request_id": "call-1",
            "version": None,
            "input": {"question": "refunds?", "contexts": ["14 days"]},
            "output": {"answer": "30 days"},
            "label": {"answer": "14 days"},
            "decision": "edited",
            "decided_by": "tester",
            "decided_at": ws.reviews.get(item.id).to_dict()["decided_at"],
        }
    ]
    assert ws.reviews.labels("model", "docs") == []
    assert ws.audit.events(action="feedback.received") == []
    assert ws.reviews.count(kind="kb", subject="docs", status="edited") == 1
