"""The cheap head check that every workspace open runs agrees with Alembic's own."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from prodline.store.migrate import alembic_config, head_revision


def test_file_name_head_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_opening_a_current_workspace_does_not_import_alembic(tmp_path: object) -> None:
    code = (
        "import sys, prodline; prodline.Workspace.open(sys.argv[1]).close(); "
        "prodline.Workspace.open(sys.argv[1]).close(); "
        "import sys; print('alembic' in sys.modules)"
    )
    first = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert first.stdout.strip() == "True"  # the first open migrates
    again = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert again.stdout.strip() == "False"
