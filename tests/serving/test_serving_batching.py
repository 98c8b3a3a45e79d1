"""Micro-batching: concurrent requests share predict calls, and never each other's answers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from prodline.errors import ProdlineError
from prodline.serving.batching import MicroBatcher
from prodline.serving.payload import InputSpec, Parsed
from prodline.serving.served import ServedModel

SPEC = InputSpec.from_signature([{"name": "x1", "type": "float"}])


class FakePredictor:
    """Predicts ``x1 * scale``; raises on the value ``fail_on``."""

    def __init__(self, scale: float = 1.0, fail_on: float | None = None) -> None:
        self.scale, self.fail_on = scale, fail_on
        self.calls: list[int] = []

    def predict(self, columns: dict[str, np.ndarray]) -> Any:
        x = columns["x1"]
        self.calls.append(len(x))
        if self.fail_on is not None and (x == self.fail_on).any():
            raise ValueError("cannot handle this value")
        y = x * self.scale
        return SimpleNamespace(
            predictions=y, probabilities=np.stack([y, -y], axis=1), classes=[0, 1]
        )


def served(predictor: FakePredictor, version: int = 1) -> ServedModel:
    return ServedModel("m", "prod", version, 1, "fake", predictor, SPEC)  # type: ignore[arg-type]


def rows(*values: float) -> Parsed:
    return Parsed([list(values)], len(values))


@pytest.mark.parametrize("in_thread", [False, True], ids=["inline", "thread"])
def test_concurrent_requests_share_one_call_and_get_their_own_rows(in_thread: bool) -> None:
    model = served(FakePredictor(scale=10))
    batcher = MicroBatcher(512, in_thread=in_thread)

    async def go() -> list[Any]:
        return await asyncio.gather(*(batcher.submit(model, rows(i, i + 0.5)) for i in range(10)))

    outcomes = asyncio.run(go())
    batcher.close()
    for i, out in enumerate(outcomes):
        np.testing.assert_array_equal(out.predictions, [10 * i, 10 * i + 5])
        np.testing.assert_array_equal(out.probabilities[:, 1], [-10 * i, -10 * i - 5])
        assert out.served is model and out.classes == [0, 1]
    assert model.predictor.calls == [20]  # type: ignore[attr-defined]


def test_batches_hold_at_most_max_rows_whole_requests() -> None:
    model = served(FakePredictor())
    seen: list[tuple[int, int]] = []
    batcher = MicroBatcher(4, on_batch=lambda n, r: seen.append((n, r)))

    async def go() -> list[Any]:
        return await asyncio.gather(
            *(batcher.submit(model, rows(float(i))) for i in range(10)),
            batcher.submit(model, rows(1, 2, 3, 4, 5, 6)),
        )

    outcomes = asyncio.run(go())
    assert model.predictor.calls == [4, 4, 2, 6]  # type: ignore[attr-defined]
    assert seen == [(4, 4), (4, 4), (2, 2), (1, 6)]
    assert [float(o.predictions[0]) for o in outcomes[:10]] == [float(i) for i in range(10)]


def test_a_failing_request_does_not_fail_its_batch() -> None:
    model = served(FakePredictor(fail_on=3.0))
    batcher = MicroBatcher()

    async def go() -> list[Any]:
        return await asyncio.gather(
            *(batcher.submit(model, rows(float(i))) for i in range(5)), return_exceptions=True
        )

    outcomes = asyncio.run(go())
    assert isinstance(outcomes[3], ProdlineError)
    assert "m@1 failed on this input: ValueError: cannot handle this value" in str(outcomes[3])
    assert [float(outcomes[i].predictions[0]) for i in (0, 1, 2, 4)] == [0.0, 1.0, 2.0, 4.0]


def test_requests_run_on_the_model_they_were_validated_against() -> None:
    old, new = served(FakePredictor(scale=1), 1), served(FakePredictor(scale=-1), 2)
    batcher = MicroBatcher()

    async def go() -> list[Any]:
        return await asyncio.gather(
            batcher.submit(old, rows(1.0)),
            batcher.submit(old, rows(2.0)),
            batcher.submit(new, rows(3.0)),
        )

    a, b, c = asyncio.run(go())
    assert (a.served.version, b.served.version, c.served.version) == (1, 1, 2)
    assert [float(o.predictions[0]) for o in (a, b, c)] == [1.0, 2.0, -3.0]
    assert old.predictor.calls == [2] and new.predictor.calls == [1]  # type: ignore[attr-defined]


def test_wrong_prediction_count_is_an_error() -> None:
    class Short(FakePredictor):
        def predict(self, columns: dict[str, np.ndarray]) -> Any:
            return SimpleNamespace(predictions=np.zeros(1), probabilities=None, classes=None)

    batcher = MicroBatcher()
    with pytest.raises(ProdlineError, match="returned 1 predictions for 2 rows"):
        asyncio.run(batcher.submit(served(Short()), rows(1.0, 2.0)))


def test_drain_waits_for_answers() -> None:
    model = served(FakePredictor())
    batcher = MicroBatcher(in_thread=True)

    async def go() -> int:
        tasks = [asyncio.create_task(batcher.submit(model, rows(1.0))) for _ in range(3)]
        await asyncio.sleep(0)
        await batcher.drain()
        return sum(t.done() for t in tasks)

    assert asyncio.run(go()) == 3
    batcher.close()
