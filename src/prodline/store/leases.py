"""Leases: a named row in the store that one process holds until it expires.

Scheduled work (monitors, pipelines) must run in one process per workspace, even when
two ``prodline worker`` processes are started by mistake or a new one starts while the
old one is still stopping. A lease row names the holder and when the hold expires; the
holder renews it well before then, and anyone may take it once it has expired (the
holder died without releasing it). Taking and renewing are one conditional ``UPDATE``
(``WHERE holder = me OR expires_at < now``), so two processes can never both succeed,
on SQLite or PostgreSQL; the first ``INSERT`` of a name is guarded by its unique key.

Examples
--------
>>> import tempfile
>>> from prodline.store.db import Database
>>> from prodline.store.migrate import upgrade
>>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/l.db"); upgrade(db)
>>> leases = Leases(db)
>>> leases.acquire("worker", "a", ttl_s=30), leases.acquire("worker", "b", ttl_s=30)
(True, False)
>>> leases.release("worker", "a"); leases.acquire("worker", "b", ttl_s=30)
True
>>> db.dispose()
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from prodline.store.db import Database
from prodline.store.tables import leases

__all__ = ["Leases"]


class Leases:
    """Acquire, renew and release named leases held by one process at a time."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, holder: str, *, ttl_s: float, now: datetime | None = None) -> bool:
        """Take or renew ``name`` for ``holder`` until ``now + ttl_s``; False if someone holds it.

        Renewing is the same call by the same holder. A lease whose holder let it expire
        goes to whoever asks next.
        """
        moment = now or datetime.now(UTC)
        until = moment + timedelta(seconds=ttl_s)
        with self._db.tx() as conn:
            row = conn.execute(
                sa.select(leases.c.holder).where(leases.c.name == name).with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            leases.insert().values(
                                name=name, holder=holder, expires_at=until, acquired_at=moment
                            )
                        )
                except sa.exc.IntegrityError:  # another process inserted it first
                    return False
                return True
            values: dict[str, object] = {"holder": holder, "expires_at": until}
            if row.holder != holder:
                values["acquired_at"] = moment
            done = conn.execute(
                leases.update()
                .where(
                    leases.c.name == name,
                    sa.or_(leases.c.holder == holder, leases.c.expires_at < moment),
                )
                .values(**values)
            )
            return done.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Give ``name`` up if ``holder`` holds it, so a successor need not wait for expiry."""
        with self._db.tx() as conn:
            conn.execute(
                leases.update()
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
            )

    def holder(self, name: str, *, now: datetime | None = None) -> str | None:
        """Who holds ``name`` now (None when nobody does or the hold has expired)."""
        moment = now or datetime.now(UTC)
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
            ).first()
        if row is None or row.expires_at <= moment:
            return None
        return str(row.holder)
