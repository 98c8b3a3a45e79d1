"""``prodline review``: policies, the queue, claims and decisions; mistakes are one line
and exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodline.workspace import Workspace

CLI = Callable[..., Any]


@pytest.fixture
def queue(cli: CLI) -> CLI:
    """A workspace with model ``m``, a knowledge-base-less policy, and two held items."""
    assert cli("init").code == 0
    with Workspace.open(Path(os.environ["PRODLINE_HOME"])) as ws:
        ws.models.create("m")
        ws.reviews.submit_many(
            [
                {
                    "kind": "model",
                    "subject": "m",
                    "mode": "hold",
                    "reason": "confidence 0.52 < 0.60",
                    "input": [{"a": 1}],
                    "output": [{"prediction": 1}],
                    "request_id": f"r{i}",
                    "score": 0.52,
                }
                for i in range(2)
            ]
        )
    return cli


def test_policy_set_show_clear(queue: CLI) -> None:
    cli = queue
    r = cli("review", "policy", "m", "--mode", "hold", "--threshold", "0.6", "--sla", "30m")
    assert r.code == 0 and "hold under 0.6" in r.out and "SLA 1800s" in r.out
    shown = json.loads(cli("review", "policy", "m", "--json").out)
    assert shown == {
        "kind": "model",
        "subject": "m",
        "mode": "hold",
        "threshold": 0.6,
        "sample_rate": 0.0,
        "sla_s": 1800.0,
        "webhook": None,
    }
    assert json.loads(cli("review", "policy", "m", "--clear", "--json").out)["cleared"] is True
    assert "has no review policy" in cli("review", "policy", "m").out


def test_queue_claim_release_decide(queue: CLI) -> None:
    cli = queue
    listed = json.loads(cli("review", "list", "--json").out)
    assert [i["id"] for i in listed] == [1, 2] and listed[0]["status"] == "open"
    assert "confidence 0.52" in cli("review", "list", "--model", "m").out
    assert cli("review", "claim", "1").out.startswith("claimed review 1")
    assert [i["id"] for i in json.loads(cli("review", "list", "--mine", "--json").out)] == [1]
    shown = cli("review", "show", "1")
    assert "claimed by: tester" in shown.out and '"prediction": 1' in shown.out
    assert json.loads(cli("review", "release", "1", "--json").out)["status"] == "open"
    r = cli("review", "decide", "1", "approve", "--comment", "fine")
    assert r.code == 0 and "review 1 approved by tester" in r.out
    r = cli("review", "decide", "2", "edit", "--output", '[{"prediction": 0}]', "--json")
    assert json.loads(r.out)["final_output"] == [{"prediction": 0}]
    decided = json.loads(cli("review", "list", "--status", "decided", "--json").out)
    assert [i["status"] for i in decided] == ["approved", "edited"]
    health = json.loads(cli("review", "health", "--json").out)
    assert health["open"] == 0 and health["per_reviewer"]["tester"]["decided"] == 2
    assert "open 0" in cli("review", "health").out


MISTAKES: list[tuple[tuple[str, ...], str]] = [
    (("review", "decide", "9", "approve"), "Review 9 does not exist"),
    (("review", "decide", "1", "maybe"), "use approve, edit or reject"),
    (("review", "decide", "1", "edit"), "needs the corrected output"),
    (("review", "decide", "1", "edit", "--output", "{nope"), "--output is not JSON"),
    (("review", "list", "--status", "done"), "status 'done' is not known"),
    (("review", "list", "--model", "m", "--kb", "k"), "not both"),
    (("review", "policy", "m", "--mode", "hold", "--threshold", "2"), "outside 0..1"),
    (("review", "policy", "k", "--kb", "--mode", "hold"), "after the fact"),
    (("review", "policy", "m", "--clear"), "no review policy"),
    (("review", "release", "1"), "not claimed"),
]


def test_mistakes_are_one_line_and_exit_2(queue: CLI) -> None:
    for args, text in MISTAKES:
        r = queue(*args)
        assert r.code == 2, (args, r.out, r.err)
        assert text in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)


def test_a_decided_item_cannot_be_decided_again(queue: CLI) -> None:
    assert queue("review", "decide", "1", "reject").code == 0
    r = queue("review", "decide", "1", "approve")
    assert r.code == 2 and "decisions are final" in r.err
