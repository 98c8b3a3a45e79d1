"""Server-side dashboard sessions: random ids in memory, each with its token and CSRF secret.

The browser holds only the session id (cookie ``prodline_session``: HttpOnly,
SameSite=Strict, Path=/); the API token stays in this process. A session that expired,
was logged out or never existed is unknown, so a replayed or forged cookie gets nowhere.
Anonymous sessions (before login, or every session with authentication off) exist only
to carry a CSRF secret for forms; they are capped and expire sooner.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["COOKIE", "Session", "SessionStore"]

COOKIE = "prodline_session"
"""Name of the session cookie."""

LOGGED_IN_TTL_S = 8 * 3600.0
ANONYMOUS_TTL_S = 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One browser session: who it acts as (``token``; None before login) and its CSRF secret."""

    id: str
    csrf: str
    expires: float
    token: str | None = None
    user: str = ""
    role: str = ""
    flash: list[str] = field(default_factory=list)

    def csrf_ok(self, sent: str | None) -> bool:
        """Whether a form's ``csrf_token`` is this session's (constant-time compare)."""
        return bool(sent) and hmac.compare_digest(self.csrf.encode(), str(sent).encode())

    def pop_flash(self) -> list[str]:
        """The messages queued for the next page, removed as they are shown."""
        out, self.flash = self.flash, []
        return out


class SessionStore:
    """Sessions of one server process, guarded by a lock (uvicorn runs handlers in threads)."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._now = time.monotonic

    def create(self, *, token: str | None = None, user: str = "", role: str = "") -> Session:
        """A new session with fresh random id and CSRF secret (32 bytes each)."""
        ttl = LOGGED_IN_TTL_S if token is not None else ANONYMOUS_TTL_S
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            expires=self._now() + ttl,
            token=token,
            user=user,
            role=role,
        )
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._evict()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown, logged out or expired)."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self._now():
                del self._sessions[session_id]
                return None
            return session

    def delete(self, session_id: str | None) -> None:
        """Forget a session (logout); its cookie is worthless afterwards."""
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _evict(self) -> None:
        """Drop expired sessions, then the anonymous ones closest to expiry (lock held)."""
        now = self._now()
        for sid in [s.id for s in self._sessions.values() if s.expires <= now]:
            del self._sessions[sid]
        if len(self._sessions) < MAX_SESSIONS:
            return
        anonymous = sorted(
            (s for s in self._sessions.values() if s.token is None), key=lambda s: s.expires
        )
        for session in anonymous[: max(1, len(anonymous) // 2)]:
            del self._sessions[session.id]
        if len(self._sessions) >= MAX_SESSIONS:  # all logged in: the oldest goes
            oldest = min(self._sessions.values(), key=lambda s: s.expires)
            del self._sessions[oldest.id]
