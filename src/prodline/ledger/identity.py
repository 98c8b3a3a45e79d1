"""Users, their roles and their API tokens; reached as ``ws.identity``.

A token is 32 random bytes (``plt_`` + URL-safe base64), shown once when it is created
and stored only as HMAC-SHA256 under a key derived from the workspace's audit key, so a
copy of the database does not yield usable tokens. Tokens can expire and be revoked;
each use found in the database updates ``last_used_at`` (the servers cache a check, see
``prodline.serving.auth``). Every change (user added or disabled, token created or
revoked) is audited in the same transaction.

Examples
--------
>>> import tempfile, prodline
>>> ws = prodline.Workspace.open(tempfile.mkdtemp())
>>> ws.identity.add_user("ada", "admin").role
'admin'
>>> token, secret = ws.identity.create_token("ada", expires="30d")
>>> ws.identity.authenticate(secret).user
'ada'
>>> ws.close()
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.core.refs import check_name
from prodline.core.roles import ROLES
from prodline.errors import Conflict, InvalidInput, NotFound, Unauthorized
from prodline.ledger.audit import AuditLog
from prodline.store.db import Database
from prodline.store.tables import api_tokens, users

__all__ = ["Identity", "Principal", "Token", "User", "os_login", "parse_expiry", "token_key"]

TOKEN_PREFIX = "plt_"
_PREFIX_CHARS = 12  # "plt_" and 8 random characters: enough to tell tokens apart
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def os_login() -> str:
    """The OS account this process runs as, from its real uid (not ``$USER``, which anyone
    can set); ``getpass`` where there is no passwd entry."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


def token_key(audit_key: bytes) -> bytes:
    """The key tokens are hashed under, derived from the workspace's audit key."""
    return hmac.new(audit_key, b"prodline api tokens v1", hashlib.sha256).digest()


def parse_expiry(value: str | timedelta | datetime | None, *, now: datetime) -> datetime | None:
    """When a token made at ``now`` expires: ``"30d"``/``"12h"``/``"90m"``/``"2w"``, a
    ``timedelta``, an aware ``datetime``, or ``None`` (never).

    Raises
    ------
    InvalidInput
        A malformed duration, zero, or a time in the past.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, timedelta):
        at = now + value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise InvalidInput(
                f"--expires '{value}' is not a duration; write e.g. 30d, 12h, 90m or 2w.",
                field="expires",
            )
        at = now + timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if at <= now:
        raise InvalidInput(
            f"--expires '{value}' is not in the future; write e.g. 30d.", field="expires"
        )
    return at


@dataclass(frozen=True)
class User:
    """A prodline user and their one role."""

    id: int
    name: str
    role: str
    created_by: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the user may act (not disabled)."""
        return self.disabled_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for ``prodline user list --json``."""
        return {
            "name": self.name,
            "role": self.role,
            "active": self.active,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


@dataclass(frozen=True)
class Token:
    """An API token's record (never the token itself)."""

    id: int
    user: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for ``prodline token list --json``."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "user": self.user,
            "role": self.role,
            "prefix": self.prefix,
            "state": self.state(),
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user, their role, and the token they showed (if any)."""

    user: str
    role: str
    token_id: int | None = None
    expires_at: datetime | None = None


def _no_check(action: str) -> None:
    """Default ``authorize`` when none is injected: allow."""


class Identity:
    """Users and API tokens in the metadata database; ``authorize`` guards the changes."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        key: bytes,
        authorize: Callable[[str], None] = _no_check,
        tx: Callable[[], AbstractContextManager[Connection]] | None = None,
    ) -> None:
        self._db = db
        self._audit = audit
        self._key = key
        self._authorize = authorize
        self._tx = tx or db.tx  # the workspace's tx also writes the audit anchor

    def hash(self, secret: str) -> str:
        """The stored form of token ``secret``: HMAC-SHA256 hex under the token key."""
        return hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- users ---------------------------------------------------------------------------
    def has_users(self) -> bool:
        """Whether any user exists (then role checks apply; before, the OS user is admin)."""
        with self._db.read() as conn:
            return conn.execute(sa.select(users.c.id).limit(1)).first() is not None

    def add_user(self, name: str, role: str) -> User:
        """Add user ``name`` with ``role``; the first user must be an ``admin``.

        Raises
        ------
        InvalidInput
            A bad name or an unknown role, or a first user who is not an admin (nobody
            could then add anyone).
        Conflict
            The user exists.
        """
        self._authorize("user.add")
        check_name("User", name)
        if role not in ROLES:
            raise InvalidInput(
                f"Unknown role '{role}'; roles are {', '.join(ROLES)}.", field="role"
            )
        now = datetime.now(UTC)
        with self._tx() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
                raise Conflict(f"User '{name}' already exists; see prodline user list.", user=name)
            first = conn.execute(sa.select(users.c.id).limit(1)).first() is None
            if first and role != "admin":
                raise InvalidInput(
                    f"The first user must be an admin (once users exist, only an admin can add "
                    f"more): prodline user add {name} --role admin.",
                    field="role",
                )
            who = self._audit.actor
            key = conn.execute(
                users.insert().values(name=name, role=role, created_by=who, created_at=now)
            ).inserted_primary_key
            assert key is not None
            self._audit.record(conn, "user.added", f"user:{name}", {"role": role, "first": first})
        return User(int(key[0]), name, role, who, now)

    def user(self, name: str) -> User:
        """User ``name``; ``NotFound`` naming the users there are."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
            if row is None:
                names = conn.execute(sa.select(users.c.name).order_by(users.c.name)).scalars()
                known = ", ".join(names) or "none yet; add one with prodline user add"
                raise NotFound(f"No user '{name}'; users: {known}.", user=name)
        return _user(row)

    def users(self) -> builtins.list[User]:
        """Every user, by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
        return [_user(r) for r in rows]

    def disable_user(self, name: str) -> User:
        """Disable user ``name``: their tokens and login stop working at once.

        Raises
        ------
        Conflict
            Disabling the last active admin (nobody could manage users afterwards).
        """
        self._authorize("user.disable")
        user = self.user(name)
        if not user.active:
            return user
        now = datetime.now(UTC)
        with self._tx() as conn:
            if user.role == "admin":
                admins = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(users)
                    .where(users.c.role == "admin", users.c.disabled_at.is_(None))
                ).scalar_one()
                if admins <= 1:
                    raise Conflict(
                        f"'{name}' is the last active admin; add another admin first "
                        "(prodline user add NAME --role admin).",
                        user=name,
                    )
            conn.execute(users.update().where(users.c.id == user.id).values(disabled_at=now))
            self._audit.record(conn, "user.disabled", f"user:{name}", {"role": user.role})
        return User(user.id, name, user.role, user.created_by, user.created_at, now)

    # -- tokens --------------------------------------------------------------------------
    def create_token(
        self, user: str, *, expires: str | timedelta | datetime | None = None
    ) -> tuple[Token, str]:
        """A new token for ``user``: ``(record, secret)``; the secret is never stored.

        ``expires``: ``"30d"``, a ``timedelta``, a ``datetime``, or ``None`` (never).
        """
        self._authorize("token.create")
        owner = self.user(user)
        if not owner.active:
            raise Conflict(f"User '{user}' is disabled; tokens cannot be made for them.")
        now = datetime.now(UTC)
        at = parse_expiry(expires, now=now)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = secret[:_PREFIX_CHARS]
        who = self._audit.actor
        with self._tx() as conn:
            key = conn.execute(
                api_tokens.insert().values(
                    user_id=owner.id,
                    prefix=prefix,
                    hash=self.hash(secret),
                    created_by=who,
                    created_at=now,
                    expires_at=at,
                )
            ).inserted_primary_key
            assert key is not None
            token_id = int(key[0])
            self._audit.record(
                conn,
                "token.created",
                f"user:{user}",
                {"token_id": token_id, "prefix": prefix, "expires_at": at and at.isoformat()},
            )
        return Token(token_id, user, owner.role, prefix, who, now, at), secret

    def tokens(self, user: str | None = None) -> builtins.list[Token]:
        """Tokens (of ``user`` if given), newest first, with their state."""
        query = _token_query().order_by(api_tokens.c.id.desc())
        if user is not None:
            self.user(user)  # NotFound names the users
            query = query.where(users.c.name == user)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: int) -> Token:
        """Revoke token ``token_id`` (from ``tokens()``); revoking twice is harmless."""
        self._authorize("token.revoke")
        with self._tx() as conn:
            row = conn.execute(_token_query().where(api_tokens.c.id == token_id)).first()
            if row is None:
                raise NotFound(
                    f"No token {token_id}; prodline token list shows their ids.", token=token_id
                )
            token = _token(row)
            if token.revoked_at is None:
                now = datetime.now(UTC)
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=now)
                )
                self._audit.record(
                    conn,
                    "token.revoked",
                    f"user:{token.user}",
                    {"token_id": token_id, "prefix": token.prefix},
                )
                token = _token(
                    conn.execute(_token_query().where(api_tokens.c.id == token_id)).one()
                )
        return token

    def authenticate(self, secret: str, *, touch: bool = True) -> Principal:
        """The user a token ``secret`` belongs to; ``touch`` records its use.

        Raises
        ------
        Unauthorized
            The token is unknown, expired or revoked, or its user is disabled; the
            message says which (``details["reason"]``) and how to get a new one.
        """
        fix = "ask an admin for a new one (prodline token create --user NAME)"
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX):
            raise Unauthorized(
                f"That is not a prodline token (they start with {TOKEN_PREFIX}); {fix}.",
                reason="malformed",
            )
        with self._db.read() as conn:
            row = conn.execute(_token_query().where(api_tokens.c.hash == self.hash(secret))).first()
        if row is None:
            raise Unauthorized(f"Unknown token {secret[:_PREFIX_CHARS]}…; {fix}.", reason="unknown")
        token = _token(row)
        now = datetime.now(UTC)
        state = token.state(now)
        shown = f"Token {token.prefix}… of '{token.user}'"
        if state == "revoked":
            assert token.revoked_at is not None
            raise Unauthorized(
                f"{shown} was revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC; {fix}.",
                reason="revoked",
            )
        if state == "expired":
            assert token.expires_at is not None
            raise Unauthorized(
                f"{shown} expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; {fix}.",
                reason="expired",
            )
        if row.disabled_at is not None:
            raise Unauthorized(
                f"User '{token.user}' is disabled; an admin can add them again under a new name.",
                reason="disabled",
            )
        if touch:
            with self._db.tx() as conn:
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == token.id).values(last_used_at=now)
                )
        return Principal(token.user, token.role, token.id, token.expires_at)

    def principal_of_login(self, login: str) -> Principal | None:
        """The active user named like OS login ``login``, or ``None``."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(users.c.name, users.c.role).where(
                    users.c.name == login, users.c.disabled_at.is_(None)
                )
            ).first()
        return None if row is None else Principal(row.name, row.role)


def _token_query() -> sa.Select[Any]:
    return sa.select(
        api_tokens, users.c.name.label("user_name"), users.c.role, users.c.disabled_at
    ).join(users, users.c.id == api_tokens.c.user_id)


def _user(row: Any) -> User:
    return User(row.id, row.name, row.role, row.created_by, row.created_at, row.disabled_at)


def _token(row: Any) -> Token:
    return Token(
        row.id,
        row.user_name,
        row.role,
        row.prefix,
        row.created_by,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.last_used_at,
    )
