"""The smallest honest FastAPI model server: the baseline ``bench/serving.py`` holds prodline to.

It parses the JSON body, builds a NumPy array from the records and calls ``predict``;
no validation, no logging, no metrics. prodline serving adds all of those and is still
expected to match this (target >= 1x its throughput).

Run by ``bench/serving.py`` as::

    BENCH_MODEL=bench/.out/run/model.skops uvicorn serving_minimal_app:app \
        --app-dir bench --host 127.0.0.1 --port 8000 --workers 1
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import orjson
import skops.io as sio
from fastapi import FastAPI, Request, Response

FEATURES = ("x1", "x2")

_path = os.environ["BENCH_MODEL"]
MODEL = sio.load(_path, trusted=sio.get_untrusted_types(file=_path))
# The model was fitted on a DataFrame; predicting on a bare array warns on every call.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

app = FastAPI()


@app.get("/readyz")
async def readyz() -> Response:
    return Response(b"ok", media_type="text/plain")


@app.post("/v1/models/bench/predict")
async def predict(request: Request) -> Response:
    rows = orjson.loads(await request.body())["inputs"]
    x = np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)
    outputs = MODEL.predict(x).tolist()
    return Response(orjson.dumps({"outputs": outputs}), media_type="application/json")
