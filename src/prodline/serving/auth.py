"""``--auth token``: a bearer token of a ``service``-or-better user on every request but health.

Both servers put a :class:`TokenGuard` in front of their routes. ``/healthz``, ``/readyz``
and ``/ping`` stay open (probes carry no credentials); every other request needs
``Authorization: Bearer <token>``: none, an unknown, expired or revoked token, or a
disabled user is 401; a role the route's action does not allow (``core.roles``) is 403
naming the role needed. Each server renders the error in its own shape.

A check is cached per token for ``ttl_s`` seconds (default 5), so the hot path pays one
dict lookup and an expiry comparison; the database is read (in a worker thread) once
per token per ``ttl_s``. A revoked token or a disabled user is therefore refused at most
``ttl_s`` seconds after the change; an expiry is enforced to the second from the cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from prodline.core.roles import allowed_roles, role_needed
from prodline.errors import Forbidden, InvalidInput, ProdlineError, Unauthorized

if TYPE_CHECKING:
    from prodline.ledger.identity import Identity, Principal
    from prodline.workspace import Workspace

__all__ = ["AUTH_MODES", "PUBLIC_PATHS", "TokenAuthMiddleware", "TokenGuard", "guard_for"]

AUTH_MODES = ("none", "token")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/ping"})
_MAX_CACHED = 10_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
Render = Callable[[ProdlineError, int], bytes]


class TokenGuard:
    """Decides, per request, whether its bearer token may perform the route's action.

    Parameters
    ----------
    identity
        Where tokens are looked up (``ws.identity``).
    action_of
        The action (``core.roles``) a path needs, e.g. ``predict`` or ``feedback.add``.
    render
        The server's error body for a ``ProdlineError`` and a status.
    ttl_s
        How long one token's check is reused.
    """

    def __init__(
        self,
        identity: Identity,
        *,
        action_of: Callable[[str], str],
        render: Render,
        ttl_s: float = 5.0,
    ) -> None:
        self.identity = identity
        self.action_of = action_of
        self.render = render
        self.ttl_s = ttl_s
        self._cache: dict[bytes, tuple[float, Principal | None, float, Unauthorized | None]] = {}

    async def principal(self, header: bytes | None) -> Principal:
        """The user of an ``Authorization`` header value; ``Unauthorized`` if none."""
        if not header:
            raise Unauthorized(
                "This server needs a token: send 'Authorization: Bearer <token>' (an admin "
                "makes one with prodline token create --user NAME).",
                reason="missing",
            )
        now = time.monotonic()
        hit = self._cache.get(header)
        if hit is None or hit[0] <= now:
            hit = await self._check(header, now)
        _, who, expires, error = hit
        if error is not None:
            raise error
        assert who is not None
        if expires and time.time() >= expires:
            raise Unauthorized(
                f"The token of '{who.user}' has expired; ask an admin for a new one "
                "(prodline token create --user NAME).",
                reason="expired",
            )
        return who

    async def _check(
        self, header: bytes, now: float
    ) -> tuple[float, Principal | None, float, Unauthorized | None]:
        scheme, _, secret = header.decode("latin-1").strip().partition(" ")
        who: Principal | None = None
        error: Unauthorized | None = None
        if scheme.lower() != "bearer" or not secret.strip():
            error = Unauthorized(
                "The Authorization header must be 'Bearer <token>'.", reason="malformed"
            )
        else:
            try:
                who = await asyncio.to_thread(self.identity.authenticate, secret.strip())
            except Unauthorized as exc:
                error = exc
        expires = who.expires_at.timestamp() if who and who.expires_at else 0.0
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        entry = (now + self.ttl_s, who, expires, error)
        self._cache[header] = entry
        return entry

    async def deny(self, scope: Scope, send: Send) -> bool:
        """Answer 401/403 and return True when the request may not pass; else False.

        On success the user's name is left in ``scope["prodline.user"]``.
        """
        path = scope["path"]
        if path in PUBLIC_PATHS:
            return False
        header = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                header = value
                break
        action = self.action_of(path)
        try:
            who = await self.principal(header)
            if who.role not in allowed_roles(action):
                raise Forbidden(
                    f"{action} needs role {role_needed(action)}; the token's user "
                    f"'{who.user}' is {who.role}. Use a token of a user with that role.",
                    action=action,
                    role=who.role,
                    needed=sorted(allowed_roles(action)),
                )
        except (Unauthorized, Forbidden) as exc:
            status = 401 if isinstance(exc, Unauthorized) else 403
            body = self.render(exc, status)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            if status == 401:
                headers.append((b"www-authenticate", b'Bearer realm="prodline"'))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return True
        scope["prodline.user"] = who.user
        return False


class TokenAuthMiddleware:
    """ASGI middleware running a :class:`TokenGuard` before an app (the RAG server's)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], guard: TokenGuard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self.guard.deny(scope, send):
            return
        await self.app(scope, receive, send)


def guard_for(
    ws: Workspace, mode: str, *, action_of: Callable[[str], str], render: Render, ttl_s: float
) -> TokenGuard | None:
    """The guard for ``--auth MODE``: ``None`` for ``none``, a :class:`TokenGuard` for ``token``.

    Raises
    ------
    InvalidInput
        An unknown mode, or ``token`` on a workspace without users (no token could pass).
    """
    if mode not in AUTH_MODES:
        raise InvalidInput(f"--auth '{mode}' is not one of {', '.join(AUTH_MODES)}.", field="auth")
    if mode == "none":
        return None
    if not ws.identity.has_users():
        raise InvalidInput(
            "--auth token needs users with tokens; add one first: prodline user add NAME "
            "--role admin, then prodline user add app --role service --token.",
            field="auth",
        )
    return TokenGuard(ws.identity, action_of=action_of, render=render, ttl_s=ttl_s)
