"""Dataset versions on SQLite and PostgreSQL: register, dedupe, load, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prodline.cli.demo import data_path
from prodline.cli.main import run
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


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([[("a", 1)], [("b", 2)]], type=pa.map_(pa.string(), pa.int64())), "map"),
        (pa.array([[1, 2], [3]]), "list"),
        (pa.array([{"x": 1}, {"x": 2}]), "struct"),
    ],
)
def test_nested_parquet_columns_are_one_clear_error(
    sqlite_ws: Workspace, tmp_path: Path, column: pa.Array, kind: str
) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"id": [1, 2], "attrs": column}), path)
    with pytest.raises(InvalidInput, match=rf"nested columns.*'attrs' \({kind}") as info:
        sqlite_ws.datasets.register(path, name="nested", owner="x")
    assert info.value.details.get("field") == "path"
    assert sqlite_ws.datasets.list() == []


def test_cli_data_add_of_a_map_column_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.parquet"
    attrs = pa.array([[("a", 1)], [("b", 2)]], type=pa.map_(pa.string(), pa.int64()))
    pq.write_table(pa.table({"id": [1, 2], "attrs": attrs}), path)
    monkeypatch.setenv("PRODLINE_HOME", str(tmp_path / "home"))
    Workspace.open(tmp_path / "home").close()
    argv = ["prodline", "data", "add", str(path), "--name", "m", "--owner", "x"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        run()
    out = capsys.readouterr()
    lines = (out.out + out.err).strip().splitlines()
    assert exited.value.code == 2
    assert len(lines) == 1 and "'attrs' (map<" in lines[0] and "internal error" not in lines[0]
