"""Alias switch latency under load: from ``promote``/``rollback`` to the first answer of
the new version, while three clients keep predicting.

Baseline, in the same run: the alias poll interval (``ServeOptions.poll_interval_s``),
the wait a switch cannot beat on average by design. The test suite only checks that a
switch happens without a failed request (tests/serving/test_serving_live.py); how fast
is measured here. Run: ``.venv/bin/python bench/switch.py [--moves 10]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serving"))
from live_support import HOST, free_port, run_live

from prodline.serving import ServeOptions, create_app
from prodline.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10)
    args = parser.parse_args()
    for var in ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS"):
        os.environ.pop(var, None)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["label"] = (frame.x1 > 0).astype(int)
    options = ServeOptions()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "home", actor="bench")
        ws.datasets.register(frame, name="toy", owner="bench", source="synthetic")
        for target in (frame.label, 1 - frame.label):
            model = LogisticRegression().fit(frame[["x1", "x2"]], target)
            ws.models.register(model, name="clf", trained_on=["toy@1"], target="label")
        ws.promote("clf", 1, "production", create=True)
        port = free_port()
        app = create_app(ws, "clf", "production", options=options, address=(HOST, port))
        seen: list[tuple[float, int]] = []
        stop = threading.Event()
        with run_live(app, port) as live:

            def hammer() -> None:
                with httpx.Client(base_url=live.url, timeout=10) as client:
                    while not stop.is_set():
                        body = {"inputs": [{"x1": 0.5, "x2": 0.1}]}
                        version = client.post("/v1/models/clf/predict", json=body).json()
                        seen.append((time.monotonic(), int(version["version"])))

            threads = [threading.Thread(target=hammer) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            admin = Workspace.open(Path(tmp) / "home", actor="bench")
            waits = []
            for n in range(args.moves):
                moved = time.monotonic()
                if n % 2 == 0:
                    admin.promote("clf", 2, "production")
                else:
                    admin.rollback("clf", "production")
                want = 2 if n % 2 == 0 else 1
                while not [t for t, v in list(seen) if t > moved and v == want]:
                    time.sleep(0.005)
                waits.append(min(t for t, v in list(seen) if t > moved and v == want) - moved)
                time.sleep(0.2)
            stop.set()
            for t in threads:
                t.join(10)
            admin.close()
        ws.close()
    mean, worst = statistics.mean(waits), max(waits)
    print(f"{'':<28}{'mean s':>10}{'max s':>10}")
    print(f"{'poll interval (baseline)':<28}{options.poll_interval_s:>10.3f}{'':>10}")
    print(f"{'switch, 3 clients':<28}{mean:>10.3f}{worst:>10.3f}")
    print(f"ratio switch/poll interval (mean): {mean / options.poll_interval_s:.2f}")


if __name__ == "__main__":
    main()
