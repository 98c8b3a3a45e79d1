"""Shared fixtures: workspaces on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``PRODLINE_TEST_DB_URL`` (CI points it at the machine's server);
without it, a throwaway cluster is started with initdb/pg_ctl when PostgreSQL is
installed, and otherwise the PostgreSQL variants skip with the reason. With
``PRODLINE_REQUIRE_POSTGRES=1`` (CI) they fail instead of skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from prodline.workspace import Workspace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    return candidates[-1] if candidates else None


def _throwaway_cluster(tmp: Path) -> tuple[str, Callable[[], None]]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb/pg_ctl) and PRODLINE_TEST_DB_URL is not set"
        )
    # Outside pytest's 0700 tmp tree, so the postgres user can reach it when we are root.
    data = Path(tempfile.mkdtemp(prefix="prodline-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    for cmd in (
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
        [
            *prefix,
            pg_ctl,
            "-D",
            str(data),
            "-w",
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "start",
        ],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(cmd[len(prefix)]).name} failed: "
                f"{(done.stderr or done.stdout).strip()[:300]}"
            )

    def stop() -> None:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL database we may CREATE DATABASE from."""
    url = os.environ.get("PRODLINE_TEST_DB_URL")
    stop: Callable[[], None] | None = None
    try:
        if not url:
            url, stop = _throwaway_cluster(tmp_path_factory.mktemp("pg"))
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any reason we cannot get a server
        if os.environ.get("PRODLINE_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    yield url
    if stop:
        stop()


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"prodline_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield str(sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each contract test runs once per metadata backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'prodline.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest schema, made once per test session."""
    home = tmp_path_factory.mktemp("migrated")
    Workspace.open(home, actor="tester").close()
    return home / "prodline.db"


@pytest.fixture(scope="session")
def _migrated_pg(pg_admin_url: str) -> str:
    """The name of a PostgreSQL database at the newest schema, a template for workspaces."""
    name = f"prodline_tmpl_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    Workspace.open(tempfile.mkdtemp(), db_url=url, actor="tester").close()
    admin.dispose()
    return name


def _start_migrated(request: pytest.FixtureRequest, home: Path, db_url: str | None) -> None:
    """Give a new test workspace a database already at the newest schema.

    Migrating from scratch costs ~0.3 s on SQLite and ~1 s on PostgreSQL per workspace;
    the migrations themselves are tested on empty databases (``db_url``/``pg_url``).
    """
    if db_url is None or db_url.startswith("sqlite:///"):
        target = home / "prodline.db" if db_url is None else Path(db_url[len("sqlite:///") :])
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), target)
        return
    url = sa.make_url(db_url)
    if not url.drivername.startswith("postgresql") or not str(url.database).startswith(
        "prodline_t_"
    ):
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        empty = not sa.inspect(conn).get_table_names()
    engine.dispose()
    if empty:  # a fresh pg_url database: recreate it from the migrated template
        template = request.getfixturevalue("_migrated_pg")
        admin = sa.create_engine(
            request.getfixturevalue("pg_admin_url"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
        admin.dispose()


@pytest.fixture
def make_ws(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Workspace]]:
    """Factory: ``make_ws(db_url=None, home=None, actor="tester")``."""
    opened: list[Workspace] = []

    def make(
        db_url: str | None = None, home: Path | None = None, actor: str = "tester"
    ) -> Workspace:
        _start_migrated(request, home or tmp_path / "home", db_url)
        ws = Workspace.open(home or tmp_path / "home", db_url=db_url, actor=actor)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def ws(make_ws: Callable[..., Workspace], db_url: str) -> Workspace:
    """A workspace on each backend (SQLite and PostgreSQL)."""
    return make_ws(db_url=db_url)


@pytest.fixture
def sqlite_ws(make_ws: Callable[..., Workspace]) -> Workspace:
    return make_ws()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PRODLINE_ACTOR", "tester")


@dataclass
class Result:
    """What a user sees from one ``prodline`` command."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """``cli("data", "list", "--json")`` → Result(code, out, err) in a fresh PRODLINE_HOME."""
    from prodline.cli.main import run

    monkeypatch.setenv("PRODLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["prodline", *args])
        code = 0
        try:
            run()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
