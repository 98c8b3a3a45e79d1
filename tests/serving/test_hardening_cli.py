"""The command line side of hardening: ``kb search`` on text that is not UTF-8, and the
limits of ``prodline serve`` (flags and ``[server]``) checked before anything binds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag_support import KB, template
from serving_support import Template


def test_kb_search_on_a_lone_surrogate_is_one_line_exit_2(
    cli: Callable[..., Any], tmp_path: Path, tmp_path_factory: Any
) -> None:
    shutil.copytree(template(tmp_path_factory).home, tmp_path / "home")
    bad = cli("kb", "search", KB, "refunds \udced\udca0\udc80")  # argv bytes ED A0 80
    assert bad.code == 2, bad.err
    assert "query is not valid text (character 8 is not UTF-8)" in bad.err
    assert len(bad.err.strip().splitlines()) == 1 and "Traceback" not in bad.err
    good = cli("kb", "search", KB, "refunds", "-k", "1", "--json")
    assert good.code == 0 and "refunds.md" in good.out


def test_serve_checks_its_limits_before_binding(
    cli: Callable[..., Any], tmp_path: Path, _template: Template
) -> None:
    shutil.copytree(_template.home, tmp_path / "home")
    negative = cli("serve", "clf@production", "--rate-limit", "-1")
    assert negative.code == 2
    assert "rate_limit_per_min must be at least 0 (0 turns it off), got -1" in negative.err
    small = cli("serve", "clf@production", "--max-body-bytes", "10")
    assert small.code == 2 and "max_body_bytes must be at least 1024" in small.err
    (tmp_path / "home" / "prodline.toml").write_text("[server]\nrate = 5\n", encoding="utf-8")
    unknown = cli("serve", "rag", KB, "--timeout", "5")
    assert unknown.code == 2
    assert "unknown key 'rate'; valid keys: max_body_bytes, max_json_depth" in unknown.err
