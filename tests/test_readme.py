"""The README's snippets run as written, so the tour cannot rot.

Each fenced ``python`` and ``bash`` block runs, in order, in one empty folder with its
own workspace, the way a reader would type them. A block that needs a running server
is preceded by ``<!-- no-test -->`` (with a reason when it is not obvious); the test
also checks that such markers stay rare.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    skipped: bool


def blocks(lang: str) -> list[Block]:
    """The README's fenced blocks in ``lang``, in order, marked when a no-test precedes."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(
            Block(
                lang=match.group(1),
                code=match.group(2),
                line=text.count("\n", 0, match.start()) + 1,
                skipped=before.startswith("<!-- no-test"),
            )
        )
    return [b for b in found if b.lang == lang]


def test_no_test_markers_stay_rare() -> None:
    every = blocks("python") + blocks("bash")
    skipped = [b for b in every if b.skipped]
    assert len(skipped) <= 5, [b.line for b in skipped]
    assert len(every) - len(skipped) >= 4


def test_python_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prodline.cli.demo import data_path

    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("PRODLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PRODLINE_HOME", str(tmp_path / "home"))
    shutil.copyfile(data_path(), tmp_path / "german_credit.csv")
    ran = 0
    for block in blocks("python"):
        if block.skipped:
            continue
        namespace: dict[str, object] = {"__name__": f"readme_line_{block.line}"}
        try:
            exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README.md line {block.line}: {exc!r}") from exc
        ran += 1
    assert ran >= 2
    assert (tmp_path / "model.skops").is_file()


@pytest.mark.slow
def test_bash_tour_runs_as_typed(tmp_path: Path) -> None:
    """Every tested bash block, in one shell, with ``prodline`` on PATH and HOME in tmp."""
    script = "set -euo pipefail\n" + "\n".join(
        b.code for b in blocks("bash") if not b.skipped and "make " not in b.code
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env |= {
        "HOME": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    work = tmp_path / "tour"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    out = done.stdout
    for text in (
        "workspace ready at",
        "registered credit-risk@2",
        "credit-risk@production",
        "rolled back",
        "ok,",
        "archived credit-risk@2",
        "support-desk@1",
        "refunds.md",
        "removed",
    ):
        assert text in out, text
    assert (tmp_path / "credit" / "prodline.db").is_file()  # ~/credit, as exported
