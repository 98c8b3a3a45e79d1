"""The model server for a scikit-learn model does not import torch (or walk scikit-learn).

With the ``rag`` extra installed, ``import skops.io`` used to import every scikit-learn
module, torch's array-API adapter included, which put ~300 MB of torch into every
model server. The app is built in a fresh interpreter so that nothing this test
process imported can hide a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import prodline as pl

PROBE = """
import json, sys
import prodline as pl
from prodline.serving.app import create_app

ws = pl.Workspace.open(sys.argv[1])
app = create_app(ws, "m", "production")
print(json.dumps({
    "version": app.runtime.served.version,
    "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
    "sentence_transformers": "sentence_transformers" in sys.modules,
    "faiss": "faiss" in sys.modules,
    "onnxruntime": "onnxruntime" in sys.modules,
}))
"""


def test_model_server_app_leaves_torch_alone(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(50, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    model = LogisticRegression().fit(frame, (x[:, 0] > 0).astype(int))
    with pl.Workspace.open(tmp_path / "home") as ws:
        ws.models.register(model, name="m", git_commit="")
        ws.promote("m", 1, "production")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"] == 1
    assert seen["torch"] == [], seen
    assert not seen["sentence_transformers"] and not seen["faiss"]
    assert not seen["onnxruntime"]  # a scikit-learn model needs no ONNX runtime either
