"""Fuzzing both servers over their own OpenAPI documents: zero 5xx.

Schemathesis (pinned in pyproject's dev extras) turns each operation of a server's
``/openapi.json`` into a Hypothesis strategy, both fitting the schema (positive) and not
(negative: wrong types, missing fields, out-of-range values); every case goes over a real
socket to the app under uvicorn, hardening layer and all. Runs are bounded and
reproducible (derandomized, no shrinking): ``FUZZ_EXAMPLES`` cases per operation and
mode (default 40), so the module takes well under a minute. Set ``PRODLINE_FUZZ_EXAMPLES``
to fuzz longer. The rate limit is off here (429 is not a 5xx, but it would starve the
other operations of real answers); everything else is the servers' defaults.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rag_support import KB, copy_home, live_rag, open_ws, template
from schemathesis.generation.modes import GenerationMode
from serving_support import Live, World, live_server

from prodline.serving.limits import ServerLimits

FUZZ_EXAMPLES = int(os.environ.get("PRODLINE_FUZZ_EXAMPLES", "40"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fuzz(openapi: dict[str, Any], url: str, fixed: dict[str, str]) -> dict[str, int]:
    """Run every operation in both modes against ``url``; fail on any 5xx. Operations
    with path parameters run again with ``fixed`` values (the model or KB served).
    Returns the number of cases sent per operation."""
    schema = schemathesis.openapi.from_dict(openapi)
    sent: dict[str, int] = {}
    statuses: dict[str, int] = {}
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        params = {p.name for p in operation.path_parameters}
        pinned = [{}, {k: v for k, v in fixed.items() if k in params}] if params else [{}]
        for mode in MODES:
            for values in pinned:  # random path values, then the ones served (real answers)
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=values)
                _cases(strategy, label, url, session, (sent, statuses), failures)
    print("fuzz:", ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items())))
    assert not failures, f"{len(failures)} 5xx answers:\n" + "\n".join(failures[:10])
    return sent


def _cases(
    strategy: Any,
    label: str,
    url: str,
    session: requests.Session,
    counts: tuple[dict[str, int], dict[str, int]],
    failures: list[str],
) -> None:
    sent, statuses = counts

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=url, session=session, timeout=30)
        sent[label] = sent.get(label, 0) + 1
        key = f"{label} {response.status_code}"
        statuses[key] = statuses.get(key, 0) + 1
        if response.status_code >= 500:
            failures.append(
                f"{label} -> {response.status_code}: {response.text[:300]}\n"
                f"    {case.as_curl_command()}"
            )

    with contextlib.suppress(Unsatisfiable):  # negative mode with nothing to get wrong
        run()


@pytest.fixture
def model_live(make_world: Any) -> Iterator[Live]:
    world: World = make_world()
    with live_server(world.ws) as live:  # the model server's defaults: no rate limit
        yield live


def test_model_server_fuzzed_over_its_openapi_answers_no_5xx(model_live: Live) -> None:
    t0 = time.monotonic()
    sent = _fuzz(model_live.app.api.openapi(), model_live.url, {"name": "clf"})
    assert "POST /v1/models/{name}/predict" in sent and "POST /v1/feedback" in sent
    assert sum(sent.values()) >= 100
    assert time.monotonic() - t0 < 90


@pytest.fixture(scope="module")
def rag_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-fuzz") / "home")
    limits = ServerLimits.from_table({"rate_limit_per_min": 0}, server="rag")
    with open_ws(home) as ws, live_rag(ws, KB, k=3, limits=limits) as live:
        yield live


def test_rag_server_fuzzed_over_its_openapi_answers_no_5xx(rag_live: Live) -> None:
    t0 = time.monotonic()
    sent = _fuzz(rag_live.app.openapi(), rag_live.url, {"model": KB})
    assert "POST /v1/chat/completions" in sent and "POST /v1/retrieve" in sent
    assert sum(sent.values()) >= 100
    assert time.monotonic() - t0 < 120
