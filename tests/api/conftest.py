"""One served workspace per test module (building it costs more than the tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import Plane, populate

from prodline.api import ControlPlane


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    ws, tokens = populate(tmp_path_factory.mktemp("plane") / "home")
    with ControlPlane(ws, scheduler=False, ui=False) as cp:
        yield Plane(ws, cp.url, tokens)
    ws.close()
