"""Per-client token buckets, in process: the rate limit of both servers.

Each client (a bearer token when the server runs with ``--auth token``, else the client's
address) has a bucket of ``per_min`` tokens, refilled continuously at ``per_min`` a
minute; a request takes one token, and a request finding the bucket empty is refused
(429) with the whole seconds until a token is back (``Retry-After``).

Why not the ``limits`` package: one server process is the only place a count lives
(no Redis, no shared storage), so a dict of ``(tokens, stamp)`` pairs does the job in a
dict lookup and a few float operations per request, without a dependency.

Example
-------
>>> limiter = RateLimiter(per_min=2)
>>> limiter.take("10.0.0.1", now=0.0), limiter.take("10.0.0.1", now=0.0)
(0.0, 0.0)
>>> limiter.take("10.0.0.1", now=0.0)  # empty: a token is back in 30 s
30.0
>>> limiter.take("10.0.0.2", now=0.0)  # another client has its own bucket
0.0
"""

from __future__ import annotations

import time
from collections.abc import Hashable

__all__ = ["RateLimiter"]

MAX_CLIENTS = 100_000  # buckets kept; full ones are dropped first when there are more


class RateLimiter:
    """Token buckets per client key.

    Parameters
    ----------
    per_min
        Requests a client may send per minute (also the burst: a bucket holds that many).
    max_clients
        Buckets kept in memory; past it, buckets that have refilled are forgotten (a
        forgotten client starts again with a full bucket, as it would have by now).
    """

    def __init__(self, per_min: int, *, max_clients: int = MAX_CLIENTS) -> None:
        if per_min < 1:
            raise ValueError(f"per_min must be at least 1, got {per_min}")
        self.capacity = float(per_min)
        self.rate = per_min / 60.0  # tokens per second
        self.max_clients = max_clients
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def take(self, key: Hashable, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when the request may pass, else the seconds
        until a token is back (always > 0)."""
        if now is None:
            now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            self._buckets[key] = (self.capacity - 1.0, now)
            return 0.0
        tokens, stamp = bucket
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled by now (or, if none has, the oldest half)."""
        refill = self.capacity / self.rate
        buckets = self._buckets
        full = [k for k, (_, stamp) in buckets.items() if now - stamp >= refill]
        if not full:
            full = list(buckets)[: len(buckets) // 2 or 1]
        for key in full:
            del buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
