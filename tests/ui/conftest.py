"""One served workspace for the dashboard tests (the real control-plane server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from ui_support import Site, populate

from prodline.api import ControlPlane


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    ws, tokens = populate(tmp_path_factory.mktemp("ui") / "home")
    with ControlPlane(ws, scheduler=False, ui=True, auth=True) as cp:
        yield Site(ws, cp.url, tokens)
    ws.close()


@pytest.fixture(scope="package")
def admin(site: Site) -> Iterator[httpx.Client]:
    """A browser logged in as the admin, shared by the read-only page tests."""
    with site.login("admin") as client:
        yield client
