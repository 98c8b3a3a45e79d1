"""The hardening layer on its own: settings, token buckets, body checks, and the
middleware in front of a toy app under a real uvicorn (timeouts, the in-flight cap, the
rate limit, headers, metrics)."""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hardening_support import chunked, post_head, render, send_raw, toy_app
from live_support import Live, free_port, metric, run_live
from prometheus_client import CollectorRegistry, generate_latest

from prodline.errors import InvalidInput
from prodline.serving.hardening import HardeningMiddleware, check_body, json_depth, surrogate_field
from prodline.serving.limits import DEFAULTS, ServerLimits
from prodline.serving.ratelimit import RateLimiter

# -- settings ---------------------------------------------------------------------------


def test_each_server_has_its_defaults_and_a_key_left_out_takes_them() -> None:
    rag = ServerLimits.from_table({}, server="rag")
    model = ServerLimits.from_table({}, server="model")
    assert (rag.max_body_bytes, rag.rate_limit_per_min, rag.max_concurrent) == (1 << 20, 600, 64)
    assert (model.max_body_bytes, model.rate_limit_per_min, model.max_concurrent) == (
        16 << 20,
        0,
        256,
    )
    for limits in (rag, model):
        assert (limits.max_json_depth, limits.timeout_s, limits.chat_timeout_s) == (32, 30, 60)
        assert limits.enabled
    assert set(DEFAULTS) == {"model", "rag"}


def test_an_unknown_key_is_refused_naming_it_and_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        ServerLimits.from_table({"max_body_size": 10}, server="rag")
    message = caught.value.message
    assert "'max_body_size'" in message and "max_body_bytes" in message
    assert (
        "rate_limit_per_min" in message and caught.value.details["field"] == "server.max_body_size"
    )


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"max_body_bytes": "1MB"}, "max_body_bytes must be a whole number"),
        ({"max_body_bytes": 10}, "at least 1024"),
        ({"rate_limit_per_min": -1}, "at least 0 (0 turns it off)"),
        ({"max_concurrent": True}, "max_concurrent must be a whole number"),
        ({"timeout_s": "30s"}, "timeout_s must be a number of seconds"),
        ({"max_json_depth": 1}, "at least 2"),
        ({"enabled": "no"}, "enabled must be true or false"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(fragment)) as caught:
        ServerLimits.from_table(table, server="model")
    assert caught.value.details["field"] == next(iter(table))


def test_limits_load_from_prodline_toml_and_flags_override(tmp_path: Path) -> None:
    assert ServerLimits.load(tmp_path, server="rag") == ServerLimits.from_table({}, server="rag")
    (tmp_path / "prodline.toml").write_text(
        "[server]\nmax_body_bytes = 4096\nrate_limit_per_min = 0\ntimeout_s = 2.5\n",
        encoding="utf-8",
    )
    limits = ServerLimits.load(tmp_path, server="rag", max_concurrent=3, timeout_s=None)
    assert (limits.max_body_bytes, limits.rate_limit_per_min) == (4096, 0)
    assert (limits.max_concurrent, limits.timeout_s) == (3, 2.5)
    (tmp_path / "prodline.toml").write_text("[prodline.server]\ntimeouts = 1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown key 'timeouts'"):
        ServerLimits.load(tmp_path, server="model")
    (tmp_path / "prodline.toml").write_text("server = 3\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"\[server\] must be a table"):
        ServerLimits.load(tmp_path, server="model")


# -- token buckets ----------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refills_at_the_rate() -> None:
    limiter = RateLimiter(per_min=60)  # one a second, bursts of 60
    assert all(limiter.take("a", now=0.0) == 0.0 for _ in range(60))
    assert limiter.take("a", now=0.0) == pytest.approx(1.0)
    assert limiter.take("a", now=0.5) == pytest.approx(0.5)
    assert limiter.take("a", now=1.0) == 0.0
    assert limiter.take("b", now=1.0) == 0.0  # clients do not share a bucket
    assert limiter.take("a", now=1000.0) == 0.0  # refilled, capped at the burst
    assert all(limiter.take("a", now=1000.0) == 0.0 for _ in range(59))
    assert limiter.take("a", now=1000.0) > 0


def test_buckets_are_bounded_and_refilled_ones_go_first() -> None:
    limiter = RateLimiter(per_min=60, max_clients=100)
    for i in range(100):
        limiter.take(i, now=0.0)
    limiter.take("busy", now=59.0)  # past max_clients: the ones refilled by now are dropped
    assert len(limiter) <= 100 and "busy" in limiter._buckets
    with pytest.raises(ValueError):
        RateLimiter(per_min=0)


# -- body checks ------------------------------------------------------------------------


def test_depth_counts_arrays_and_objects_not_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{"}') == 1
    assert json_depth(b'{"a": "\\"[[[["}') == 1
    assert json_depth(b"[" * 40 + b"]" * 40) == 40
    assert json_depth(b'"plain"') == 0


def _depth(doc: Any) -> int:
    if isinstance(doc, list):
        return 1 + max([_depth(v) for v in doc] or [0])
    if isinstance(doc, dict):
        return 1 + max([_depth(v) for v in doc.values()] or [0])
    return 0


def test_depth_matches_the_parsed_document_on_strings_full_of_brackets_and_escapes() -> None:
    rnd = random.Random(7)
    pieces = ["[", "]", "{", "}", '"', "\\", "a", " ", '\\"', "\\\\", '\\\\\\"', "é"]

    def doc(level: int) -> Any:
        roll = rnd.random()
        if level > 6 or roll < 0.3:
            return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        if roll < 0.65:
            return [doc(level + 1) for _ in range(rnd.randint(0, 3))]
        return {doc(7): doc(level + 1) for _ in range(rnd.randint(0, 3))}

    for _ in range(2000):
        value = doc(0)
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            assert json_depth(text.encode()) == _depth(value), text


def test_bodies_that_cannot_be_read_are_refused_naming_the_field() -> None:
    assert check_body(b'{"inputs": [{"x1": 1}]}', 32) is None
    not_utf8 = check_body(b'{"query": "\xff\xfe"}', 32)
    assert not_utf8 is not None and not_utf8.details == {"field": "body", "offset": 11}
    deep = check_body(b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", 32)
    assert deep is not None and deep.details["depth"] == 101 and "at most 32" in deep.message
    lone = check_body(b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}', 32)
    assert lone is not None and lone.details["field"] == "messages[0].content"
    key = check_body(b'{"filters": {"\\udfff": "x"}}', 32)
    assert key is not None and key.details["field"].startswith("filters.")
    # a valid pair (an emoji), an escaped backslash before "ud800", and bad JSON all pass
    assert check_body(b'{"query": "\\ud83d\\ude00"}', 32) is None
    assert check_body(b'{"query": "\\\\ud800"}', 32) is None
    assert check_body(b'{"query": "\\ud800', 32) is None
    assert surrogate_field(["ok", {"x": ["\ud800"]}]) == "[1].x[0]"
    assert surrogate_field("\udc80") == "body"


# -- the middleware in front of a toy app --------------------------------------------------


@contextlib.contextmanager
def toy(by_token: bool = False, **limits: Any) -> Iterator[tuple[Live, CollectorRegistry]]:
    registry = CollectorRegistry()
    table = {"rate_limit_per_min": 0, **limits}
    app = HardeningMiddleware(
        toy_app,
        limits=ServerLimits.from_table(table, server="rag"),
        render=render,
        registry=registry,
        by_token=by_token,
    )
    with run_live(app, free_port()) as live:
        yield live, registry


def rejected(registry: CollectorRegistry, reason: str) -> float:
    text = generate_latest(registry).decode()
    return metric(text, "prodline_rejected_requests_total", reason=reason)


def test_every_answer_carries_the_security_headers() -> None:
    with toy() as (live, _), live.client() as http:
        api, docs, cached = http.post("/echo", json={}), http.get("/docs"), http.get("/cached")
        health = http.get("/healthz")
    for resp in (api, docs, cached, health):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["referrer-policy"] == "no-referrer"
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["content-security-policy"]
    assert api.headers["cache-control"] == "no-store"
    assert cached.headers["cache-control"] == "max-age=60"  # a route's own is kept


def test_past_the_in_flight_cap_a_503_with_retry_after_and_probes_still_pass() -> None:
    with toy(max_concurrent=2) as (live, registry), live.client() as http:
        slow = [
            threading.Thread(target=http.post, args=("/slow?s=1.5",), kwargs={"json": {}})
            for _ in range(2)
        ]
        for thread in slow:
            thread.start()
        time.sleep(0.5)
        over = http.post("/echo", json={})
        probe = http.get("/healthz")
        for thread in slow:
            thread.join()
        after = http.post("/echo", json={})
    assert over.status_code == 503 and over.headers["retry-after"] == "1"
    error = over.json()["error"]
    assert error["code"] == "overloaded" and "limit of 2 requests in flight" in error["message"]
    assert over.headers["x-frame-options"] == "DENY"
    assert probe.status_code == 200 and after.status_code == 200
    assert rejected(registry, "overloaded") == 1


def test_a_route_that_does_not_start_in_time_is_a_504_and_a_started_stream_is_not_cut() -> None:
    with toy(timeout_s=0.3) as (live, registry), live.client() as http:
        t0 = time.monotonic()
        late = http.post("/slow?s=3", json={})
        seconds = time.monotonic() - t0
        stream = http.post("/stream?s=0.6", json={})
        quick = http.post("/slow?s=0", json={})
    assert late.status_code == 504 and seconds < 2
    assert late.json()["error"]["code"] == "timeout" and "0.3 s" in late.json()["error"]["message"]
    assert stream.status_code == 200 and stream.json() == {"part": 1}
    assert quick.status_code == 200
    assert rejected(registry, "timeout") == 1


def test_a_body_that_does_not_arrive_in_time_is_a_408() -> None:
    with toy(timeout_s=0.3) as (live, _):
        port = int(live.url.rsplit(":", 1)[1])
        answer = send_raw(port, post_head("/echo", 100) + b'{"a": ', timeout_s=5)
    assert answer.status == 408 and answer.seconds < 3
    assert answer.json()["error"]["code"] == "timeout"


def test_over_the_rate_limit_a_429_with_retry_after_per_client() -> None:
    with toy(rate_limit_per_min=3) as (live, registry), live.client() as http:
        answers = [http.post("/echo", json={}).status_code for _ in range(3)]
        over = http.post("/echo", json={})
        probes = [http.get("/healthz").status_code for _ in range(5)]
    assert answers == [200, 200, 200] and probes == [200] * 5
    assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 20
    error = over.json()["error"]
    assert error["code"] == "rate_limited" and "3 a minute per client address" in error["message"]
    assert rejected(registry, "rate_limited") == 1


def test_with_auth_the_rate_limit_is_per_token() -> None:
    with toy(by_token=True, rate_limit_per_min=2) as (live, _), live.client() as http:
        a = {"Authorization": "Bearer a"}
        b = {"Authorization": "Bearer b"}
        statuses = [http.post("/echo", json={}, headers=a).status_code for _ in range(3)]
        other = http.post("/echo", json={}, headers=b)
    assert statuses == [200, 200, 429] and other.status_code == 200


def test_a_large_body_is_refused_before_it_is_read() -> None:
    fifty_mb = 50 * 1024 * 1024
    with toy() as (live, registry):
        port = int(live.url.rsplit(":", 1)[1])
        declared = send_raw(port, post_head("/echo", fifty_mb), [b"a" * 65536])
        streamed = send_raw(port, post_head("/echo", None), chunked(fifty_mb))
        with httpx.Client(base_url=live.url) as http:
            fits = http.post("/echo", content=b'"' + b"a" * 1000_000 + b'"')
    assert declared.status == 413 and declared.seconds < 2 and declared.closed
    error = declared.json()["error"]
    assert error["code"] == "body_too_large" and "1048576 bytes (1 MiB)" in error["message"]
    assert streamed.status == 413 and streamed.seconds < 5
    assert streamed.sent < fifty_mb // 4  # the rest was never sent, let alone read
    assert fits.status_code == 200 and fits.json() == {"size": 1000_002}
    assert rejected(registry, "body_too_large") == 2
