"""``prodline feedback add``: one label, a CSV or JSON-lines file; mistakes exit 2."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodline.ledger import Prediction, PredictionWriter
from prodline.workspace import Workspace


@pytest.fixture
def logged(cli: Callable[..., Any]) -> Path:
    assert cli("init").code == 0
    home = Path(os.environ["PRODLINE_HOME"])
    with Workspace.open(home) as ws:
        writer = PredictionWriter(ws.db, ws.artifacts)
        writer.write(
            [
                Prediction(
                    f"r{i}",
                    "clf",
                    1,
                    time.time(),
                    [{"x": 1.0}, {"x": 2.0}],
                    [1, 0],
                    None,
                    None,
                    1.0,
                )
                for i in range(3)
            ]
        )
        writer.close()
    return home


def labels(home: Path) -> dict[tuple[str, int], object]:
    with Workspace.open(home) as ws:
        frame = ws.feedback.read("clf")
    return {
        (r, int(i)): v
        for r, i, v in zip(frame["request_id"], frame["row"], frame["label"], strict=True)
    }


def test_add_one_label(cli: Callable[..., Any], logged: Path) -> None:
    result = cli("feedback", "add", "r0", "1", "--json")
    assert result.code == 0, result
    assert json.loads(result.out) == {
        "accepted": 1,
        "unknown": 0,
        "duplicates": 0,
        "unknown_ids": [],
    }
    text = cli("feedback", "add", "r1", "approved", "--row", "1")
    assert text.code == 0 and "accepted 1" in text.out
    unknown = cli("feedback", "add", "typo-id", "1")
    assert unknown.code == 0 and "no logged prediction for typo-id" in unknown.out
    assert labels(logged) == {("r0", 0): 1, ("r1", 1): "approved"}


def test_add_from_csv_and_jsonl(cli: Callable[..., Any], logged: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("request_id,label,row\nr0,1,0\nr0,0,1\nr2,1,\nghost,1,0\n")
    result = cli("feedback", "add", "--file", str(csv_file), "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["unknown_ids"] == ["ghost"]
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text(
        '{"request_id": "r0", "label": 0}\n\n{"request_id": "r1", "label": 1, "row": 1}\n'
    )
    again = cli("feedback", "add", "-f", str(jsonl), "--json")
    assert json.loads(again.out)["duplicates"] == 1
    assert labels(logged) == {("r0", 0): 0, ("r0", 1): 0, ("r2", 0): 1, ("r1", 1): 1}


@pytest.mark.parametrize(
    ("args", "content", "words"),
    [
        (["r0"], None, "Give REQUEST_ID and LABEL"),
        ([], None, "Give REQUEST_ID and LABEL"),
        (["r0", "1", "--file", "{file}"], "request_id,label\nr0,1\n", "not both"),
        (["--file", "{file}"], "id,label\nr0,1\n", "lacks the column(s) ['request_id']"),
        (["--file", "{file}"], "request_id,label\nr0,\n", "feedback[0].label is missing"),
        (["--file", "{file}"], "request_id,label,row\nr0,1,x\n", "feedback[0].row"),
        (["--file", "missing.csv"], None, "No such labels file"),
    ],
)
def test_mistakes_print_one_line_and_exit_2(
    cli: Callable[..., Any],
    logged: Path,
    tmp_path: Path,
    args: list[str],
    content: str | None,
    words: str,
) -> None:
    file = tmp_path / "labels.csv"
    if content is not None:
        file.write_text(content)
    result = cli("feedback", "add", *[a.replace("{file}", str(file)) for a in args])
    assert result.code == 2, result
    assert words in result.err and len(result.err.strip().splitlines()) == 1
    assert labels(logged) == {}


def test_bad_file_types(cli: Callable[..., Any], logged: Path, tmp_path: Path) -> None:
    bad = tmp_path / "labels.jsonl"
    bad.write_text("{not json}\n")
    result = cli("feedback", "add", "--file", str(bad))
    assert result.code == 2 and "line 1 is not JSON" in result.err
    other = tmp_path / "labels.xlsx"
    other.write_text("x")
    result = cli("feedback", "add", "--file", str(other))
    assert result.code == 2 and "use a .csv" in result.err
