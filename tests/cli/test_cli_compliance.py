"""``prodline compliance`` and ``prodline retention`` through the real entry point, and
``prodline audit verify --bundle`` offline: ok exits 0, tampered exits 1, mistakes 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression

from prodline.workspace import Workspace


def _model(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50] * 10, "amount": [1.0, 2.0, 3.0, 4.0] * 10})
    with Workspace.open(Path(os.environ["PRODLINE_HOME"])) as ws:
        model = LogisticRegression().fit(frame, [0, 1, 0, 1] * 10)
        ws.models.register(model, name="loans", git_commit="")


def test_compliance_and_retention_commands(cli: Callable[..., Any], tmp_path: Path) -> None:
    assert cli("init").code == 0
    _model(tmp_path)
    done = cli(
        "compliance",
        "classify",
        "loans",
        "--purpose",
        "score loans",
        "--yes",
        "essential_services",
        "--json",
    )
    assert done.code == 0 and json.loads(done.out)["risk_class"] == "high"
    assert "essential_services" in cli("compliance", "questions").out
    out = tmp_path / "doc.md"
    done = cli("compliance", "docs", "loans@1", "--out", str(out))
    assert done.code == 0 and "## 1. General description and intended purpose" in out.read_text()
    bad = cli("compliance", "docs", "loans@1", "--format", "docx")
    assert bad.code == 2 and "choose one of md, html, pdf" in bad.err

    done = cli("retention", "set", "loans", "--column", "age=drop", "--days", "30", "--json")
    assert done.code == 0 and json.loads(done.out)["columns"] == {"age": "drop"}
    bad = cli("retention", "set", "loans", "--column", "agee=drop")
    assert bad.code == 2 and "has no input column 'agee'" in bad.err
    bad = cli("retention", "set", "loans", "--column", "age")
    assert bad.code == 2 and "key=value" in bad.err
    done = cli("retention", "purge", "--json")
    assert done.code == 0 and json.loads(done.out)[0]["model"] == "loans"
    assert cli("audit", "verify").code == 0

    bundle = tmp_path / "bundle"
    assert cli("compliance", "export", "--since", "1d", "--out", str(bundle)).code == 0
    done = cli("audit", "verify", "--bundle", str(bundle))
    assert done.code == 0 and "bundle ok" in done.out
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["until"] = "2099-01-01T00:00:00+00:00"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    done = cli("audit", "verify", "--bundle", str(bundle), "--json")
    assert done.code == 1 and "signature is invalid" in done.out
    bad = cli("compliance", "export", "--since", "yesterday", "--out", str(tmp_path / "b2"))
    assert bad.code == 2 and "--since 'yesterday'" in bad.err
