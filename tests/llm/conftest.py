"""LLM fixtures: real fake servers on 127.0.0.1, provider configs, retrieved hits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llm_test_servers import FakeServers, running_fake_servers

from prodline.llm import ProviderConfig
from prodline.llm.types import ProviderKind
from prodline.rag.types import Hit


@pytest.fixture(scope="session")
def _servers() -> Iterator[FakeServers]:
    with running_fake_servers() as servers:
        yield servers


@pytest.fixture
def servers(_servers: FakeServers) -> Iterator[FakeServers]:
    """The session's fake servers, with default behaviour and no recorded requests."""
    _servers.reset()
    yield _servers
    _servers.reset()


@pytest.fixture
def make_provider() -> Callable[..., ProviderConfig]:
    """``ProviderConfig`` factory with test-friendly defaults (short timeout, no retries)."""

    def make(name: str, kind: ProviderKind = "openai", **kwargs: Any) -> ProviderConfig:
        values: dict[str, Any] = {"model": f"{name}-model", "timeout_s": 5.0, "retries": 0}
        values.update(kwargs)
        return ProviderConfig(name=name, kind=kind, **values)

    return make


@pytest.fixture
def hits() -> list[Hit]:
    """Three retrieved chunks of a support-desk knowledge base."""
    return [
        Hit(
            chunk_id=11,
            score=0.9,
            text="To start a refund, contact support with your order number. "
            "Support answers within one business day.",
            source="kb/refunds.md",
            title="Refunds",
        ),
        Hit(
            chunk_id=22,
            score=0.8,
            text="Refunds are issued within 14 days of the request. "
            "The money goes back to the original payment method.",
            source="kb/refunds.md",
            title="Refunds",
            heading="Timing",
        ),
        Hit(
            chunk_id=33,
            score=0.5,
            text="Standard shipping is free for orders over $50. "
            "Express shipping takes 2 business days and costs $12.",
            source="kb/shipping.md",
            title="Shipping",
        ),
    ]


@pytest.fixture
def pii_hits(hits: list[Hit]) -> list[Hit]:
    """The same chunks, one of them tagged as containing PII."""
    tagged = Hit(chunk_id=44, score=0.7, text="Customer Jane Roe paid by card.", sensitivity="pii")
    return [*hits, tagged]
