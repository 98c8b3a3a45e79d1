"""Who calls the control plane: a bearer token per request, turned into a workspace view.

Every route but ``/healthz`` needs ``Authorization: Bearer <token>``. The token's user
acts through ``ws.acting_as(token)``: a view of the server's workspace in which every
state change is authorized against that user's role (``core.roles``) and audited under
their name, exactly as from the CLI. Views are cached per token (by its SHA-256, never
the token itself) for ``ttl_s`` seconds (default 15, at most 30), so a revoked token or
a disabled user is refused within that time; an expiry is enforced to the second.

Reading needs a person's role: every role but ``service`` (what an application holds to
predict) may read; a ``service`` token gets 403 naming the roles that may. Changes need
what their action needs (``model.promote``, ``review.decide`` …), checked in the library.

With auth off (``prodline server --no-auth``, loopback only) the server's own
workspace acts for every request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING

from prodline.core.roles import ROLES
from prodline.errors import Forbidden, InvalidInput, Unauthorized

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["MAX_TTL_S", "READ_ROLES", "Authenticator", "is_loopback"]

READ_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r != "service")
"""The roles that may read the control plane: every role but ``service``."""

MAX_TTL_S = 30.0
"""The longest a token's view is reused before it is checked again."""

_MAX_CACHED = 10_000
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (127.0.0.0/8, ``::1``, ``localhost``).

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5")]
    [True, True, True, False, False]
    """
    host = host.strip().strip("[]").lower()
    return host in _LOOPBACK or host.startswith("127.")


class Authenticator:
    """Turns an ``Authorization`` header into the workspace that acts for the request.

    Parameters
    ----------
    ws
        The server's workspace; views of it act per token.
    auth
        ``False``: no token is asked and ``ws`` itself acts (loopback binds only).
    ttl_s
        How long one token's view is reused (capped at :data:`MAX_TTL_S`).

    Raises
    ------
    InvalidInput
        ``auth`` on a workspace without users: no token could pass (field ``--no-auth``).
    """

    def __init__(self, ws: Workspace, *, auth: bool = True, ttl_s: float = 15.0) -> None:
        if auth and not ws.identity.has_users():
            raise InvalidInput(
                "The control plane needs users with tokens: add one first (prodline user add "
                "NAME --role admin, then prodline token create --user NAME), or pass "
                "--no-auth with a loopback --host.",
                field="--no-auth",
            )
        self.ws = ws
        self.auth = auth
        self.ttl_s = min(float(ttl_s), MAX_TTL_S)
        self._cache: dict[bytes, tuple[float, Workspace]] = {}
        self._lock = threading.Lock()

    def workspace(self, header: str | None) -> Workspace:
        """The workspace acting for a request with this ``Authorization`` value.

        Raises
        ------
        Unauthorized
            No header, not ``Bearer <token>``, or a token that is unknown, expired or
            revoked (``details["reason"]`` says which).
        """
        if not self.auth:
            return self.ws
        token = _bearer(header)
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or hit[0] <= now:
            view = self.ws.acting_as(token)  # Unauthorized names the reason
            hit = (now + self.ttl_s, view)
            with self._lock:
                if len(self._cache) >= _MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = hit
        view = hit[1]
        who = view.principal
        if (
            who is not None
            and who.expires_at is not None
            and who.expires_at.timestamp() <= (time.time())
        ):
            raise Unauthorized(
                f"The token of '{who.user}' has expired; ask an admin for a new one "
                "(prodline token create --user NAME).",
                reason="expired",
            )
        return view

    def reader(self, header: str | None) -> Workspace:
        """:meth:`workspace`, refused with ``Forbidden`` for a role that may not read."""
        view = self.workspace(header)
        who = view.principal
        if self.auth and who is not None and who.role not in READ_ROLES:
            raise Forbidden(
                f"Reading the control plane needs role {' or '.join(READ_ROLES)}; the token's "
                f"user '{who.user}' is {who.role}. Use a token of a user with one of those roles.",
                action="read",
                role=who.role,
                needed=list(READ_ROLES),
            )
        return view

    def forget(self) -> None:
        """Drop every cached view (tests; a server drops them as they expire)."""
        with self._lock:
            self._cache.clear()


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized(
            "This server needs a token: send 'Authorization: Bearer <token>' (an admin "
            "makes one with prodline token create --user NAME).",
            reason="missing",
        )
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", reason="malformed")
    return secret.strip()
