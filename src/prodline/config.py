"""Settings: one object, read from env vars and an optional ``prodline.toml``.

Precedence: explicit arguments > environment (``PRODLINE_*``) > ``prodline.toml`` in the
home folder > defaults. The default is fully embedded: SQLite and local files under
``./.prodline``.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline.errors import InvalidInput

__all__ = ["Settings", "toml_table"]

DEFAULT_HOME = ".prodline"


@dataclass(frozen=True)
class Settings:
    """Where prodline keeps its metadata and artifacts, and who is acting."""

    home: Path
    db_url: str
    artifacts_url: str
    actor: str
    vector_url: str = ""  # empty: an embedded index per knowledge base under home/kb/
    embedder: str = ""  # [rag] embedder / PRODLINE_EMBEDDER: torch (empty), onnx-fp32, onnx-int8
    alerts: dict[str, Any] = field(default_factory=dict)
    """The ``[alerts]`` table of prodline.toml (webhooks, retries), checked by monitor.alerts."""

    @classmethod
    def load(
        cls,
        home: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        actor: str | None = None,
    ) -> Settings:
        root = Path(home or os.environ.get("PRODLINE_HOME") or DEFAULT_HOME).expanduser()
        root = root.resolve()
        file_values = _read_toml(root / "prodline.toml")
        url = (
            db_url
            or os.environ.get("PRODLINE_DB_URL")
            or file_values.get("db_url")
            or f"sqlite:///{root / 'prodline.db'}"
        )
        artifacts = (
            os.environ.get("PRODLINE_ARTIFACTS")
            or file_values.get("artifacts")
            or str(root / "artifacts")
        )
        who = actor or os.environ.get("PRODLINE_ACTOR") or file_values.get("actor") or _user()
        vectors = os.environ.get("PRODLINE_VECTOR_URL") or file_values.get("vector_url") or ""
        return cls(
            home=root,
            db_url=str(url),
            artifacts_url=str(artifacts),
            actor=str(who),
            vector_url=str(vectors),
            embedder=str(
                os.environ.get("PRODLINE_EMBEDDER")
                or _read_table(root / "prodline.toml", "rag").get("embedder")
                or ""
            ),
            alerts=_read_table(root / "prodline.toml", "alerts"),
        )


def toml_table(home: Path, name: str) -> Any:
    """The ``[name]`` table of ``<home>/prodline.toml`` (or ``[prodline.name]``) as parsed;
    ``{}`` when the file or the table is absent. The caller checks its shape.

    Raises
    ------
    InvalidInput
        The file is not valid TOML (or not UTF-8); the message names it.
    """
    path = Path(home) / "prodline.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"'{path}' is not valid TOML: {exc}; fix or remove it.") from exc
    return data.get(name, data.get("prodline", {}).get(name, {}))


def _read_toml(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"'{path}' is not valid TOML: {exc}; fix or remove it.") from exc
    section = data.get("prodline", data)
    return {k: str(v) for k, v in section.items() if isinstance(v, str | int | float)}


def _read_table(path: Path, name: str) -> dict[str, Any]:
    """The ``[name]`` table of prodline.toml (or ``[prodline.name]``), empty when absent."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))  # _read_toml has checked it
    table = data.get(name, data.get("prodline", {}).get(name, {}))
    if not isinstance(table, dict):
        raise InvalidInput(f"'{path}': [{name}] must be a table, e.g. [{name}] on its own line.")
    return dict(table)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME variables
        return "unknown"
