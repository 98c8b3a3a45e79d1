"""The store's transactions: readers never wait; one UTC timestamp type; clear URL errors."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from prodline.errors import InvalidInput
from prodline.store.db import Database, UTCDateTime

# Holds a transaction open until told to let go: ``holder.py URL read|write``.
HOLDER = """
import sys
import sqlalchemy as sa
from prodline.store.db import Database
db = Database(sys.argv[1])
block = db.read() if sys.argv[2] == "read" else db.tx()
with block as conn:
    if sys.argv[2] == "write":
        conn.execute(sa.text("INSERT INTO t (x) VALUES (2)"))
    else:
        conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
    print("holding", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""

# Reads in its own process and says what it saw and how long it took.
READER = """
import sys, time
import sqlalchemy as sa
from prodline.store.db import Database
db = Database(sys.argv[1])
t0 = time.monotonic()
with db.read() as conn:
    count = conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
print(count, round(time.monotonic() - t0, 3), flush=True)
"""

GENEROUS_S = 20.0  # a blocked reader would wait busy_timeout (30 s): far past this


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}


@contextmanager
def _holding(tmp_path: Path, url: str, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a ``mode`` transaction open for the block's duration."""
    proc = subprocess.Popen(
        [sys.executable, _script(tmp_path, "holder.py", HOLDER), url, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(GENEROUS_S), "the holder never opened its transaction"
        assert proc.stdout.readline().strip() == "holding"
        yield proc
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
    finally:
        proc.kill()
        proc.wait(10)


def _read_elsewhere(tmp_path: Path, url: str) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, _script(tmp_path, "reader.py", READER), url],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=GENEROUS_S,
        check=True,
    )
    count, seconds = done.stdout.split()
    return int(count), float(seconds)


@pytest.mark.parametrize("mode", ["write", "read"])
def test_a_reader_never_waits_for_another_process(db_url: str, tmp_path: Path, mode: str) -> None:
    db = Database(db_url)
    with db.tx() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t (x) VALUES (1)"))
    with _holding(tmp_path, db_url, mode) as holder:
        count, seconds = _read_elsewhere(tmp_path, db_url)
        assert holder.poll() is None, "the holder let go before the reader was done"
    assert count == 1  # the holder's uncommitted insert is not seen
    assert seconds < GENEROUS_S
    assert _read_elsewhere(tmp_path, db_url)[0] == (2 if mode == "write" else 1)
    db.dispose()


def test_sqlite_reads_begin_deferred_and_writes_immediate(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    seen: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with db.read() as conn:
        conn.execute(sa.text("SELECT 1"))
    with db.tx() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN", "BEGIN IMMEDIATE"]
    db.dispose()


def test_utc_datetime_stores_any_zone_and_reads_back_utc(db_url: str) -> None:
    db = Database(db_url)
    table = sa.Table("stamps", sa.MetaData(), sa.Column("at", UTCDateTime()))
    with db.tx() as conn:
        table.create(conn)
        tokyo = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
        conn.execute(table.insert(), [{"at": tokyo}])
    with db.read() as conn:
        (back,) = conn.execute(sa.select(table.c.at)).scalars()
        assert (
            conn.execute(
                sa.select(sa.func.count()).where(
                    table.c.at >= datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
                )
            ).scalar()
            == 1
        )
    assert back == tokyo and back.tzinfo == UTC
    assert back == datetime(2026, 3, 1, 0, 30, 0, 123456, tzinfo=UTC)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), db.tx() as conn:
        conn.execute(table.insert(), [{"at": datetime(2026, 3, 1)}])
    db.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://u:secret@h:abc/db", "has a port that is not a number"),
        ("not a url", "is not valid"),
    ],
)
def test_bad_database_urls_are_clear_and_hide_the_password(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        Database(url)
    assert "secret" not in str(info.value)


def test_cli_with_a_malformed_db_url_port_says_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**_env(), "PRODLINE_HOME": str(tmp_path / "home")}
    subprocess.run(
        [sys.executable, "-m", "prodline.cli.main", "init"], env=env, capture_output=True
    )
    env["PRODLINE_DB_URL"] = "postgresql+psycopg://u@h:abc/db"
    done = subprocess.run(
        [sys.executable, "-m", "prodline.cli.main", "data", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "port that is not a number" in lines[0], lines
    assert "internal error" not in lines[0]
