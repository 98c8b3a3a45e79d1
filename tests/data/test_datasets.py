"""Dataset versions on SQLite and PostgreSQL: register, dedupe, load, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from prodline.cli.demo import data_path
from prodline.errors import InvalidInput, NotFound
from prodline.workspace import Workspace


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["ann@example.com", "bob@example.org", "cy@example.net", "di@example.com"],
            "income": [1200.5, 3400.0, 2800.25, 5100.0],
            "segment": ["a", "b", "a", "c"],
            "label": [0, 1, 0, 1],
        }
    )


def test_register_csv_records_everything(ws: Workspace) -> None:
    ds = ws.datasets.register(
        data_path(), name="german-credit", owner="risk-team", source="uci", description="applicants"
    )
    assert (ds.name, ds.version, ds.rows) == ("german-credit", 1, 1000)
    assert len(ds.content_sha256) == 64 and ds.format == "csv"
    assert ds.columns[:3] == ["risk", "sex", "job"]
    assert {c["name"]: c["type"] for c in ds.schema}["age"] == "integer"
    assert ds.sensitivity["sex"]["level"] == "pii" and ds.sensitivity["age"]["level"] == "pii"
    assert ds.sensitivity["purpose"]["level"] == "none"
    assert ds.profile["rows"] == 1000 and "histogram" in ds.profile["columns"]["age"]
    assert ds.owner == "risk-team" and ds.created_by == "tester"
    event = ws.audit.events(limit=1)[0]
    assert event.action == "dataset.registered" and event.subject == "dataset:german-credit@1"


def test_load_gives_back_the_same_data(ws: Workspace, tmp_path: Path) -> None:
    frame = _frame()
    ds = ws.datasets.register(frame, name="customers", owner="crm")
    pd.testing.assert_frame_equal(ws.datasets.load("customers", ds.version), frame)
    parquet = tmp_path / "c.parquet"
    frame.to_parquet(parquet)
    ds2 = ws.datasets.register(parquet, name="customers-pq", owner="crm")
    pd.testing.assert_frame_equal(ws.datasets.load(ds2.ref), frame)
    assert ws.datasets.get("customers").sensitivity["email"]["kinds"] == ["email"]


def test_versions_number_up_and_identical_content_is_not_duplicated(ws: Workspace) -> None:
    frame = _frame()
    assert ws.datasets.register(frame, name="c", owner="crm").version == 1
    assert ws.datasets.register(frame, name="c", owner="crm").version == 1
    changed = frame.assign(income=frame.income * 2)
    assert ws.datasets.register(changed, name="c", owner="crm").version == 2
    assert [d.version for d in ws.datasets.versions("c")] == [1, 2]
    assert ws.datasets.get("c").version == 2
    assert [d.ref for d in ws.datasets.list()] == ["c@2"]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (b"", ".csv", "not a well-formed CSV"),
        (b'a,b\n1,"2\n', ".csv", "not a well-formed CSV"),
        (b"a,b\n1,2,3,4\n5,6\n", ".csv", "not a well-formed CSV"),
        (b"\xff\xfe\x00garbage", ".parquet", "not a readable Parquet"),
        (b"a,b\n1,2\n", ".xlsx", "unsupported format"),
    ],
)
def test_malformed_files_are_clear_errors_and_write_nothing(
    sqlite_ws: Workspace, tmp_path: Path, content: bytes, suffix: str, message: str
) -> None:
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        sqlite_ws.datasets.register(bad, name="bad", owner="x")
    assert sqlite_ws.datasets.list() == []
    assert sqlite_ws.audit.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name!", "owner": "x"}, "not valid"),
        ({"name": "ok", "owner": ""}, "needs an owner"),
    ],
)
def test_bad_arguments(sqlite_ws: Workspace, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sqlite_ws.datasets.register(_frame(), **kwargs)


def test_unknown_names_and_versions_say_what_exists(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no datasets are registered yet"):
        ws.datasets.get("nope")
    ws.datasets.register(_frame(), name="c", owner="crm")
    with pytest.raises(NotFound, match="datasets are: c"):
        ws.datasets.get("nope")
    with pytest.raises(NotFound, match="has no version 7; versions are 1"):
        ws.datasets.get("c", 7)
    with pytest.raises(InvalidInput, match="not a number"):
        ws.datasets.get("c@x")
