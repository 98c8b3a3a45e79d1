"""Alias moves: compare-and-swap on the alias row, with history, lineage and audit.

Promotion is a compare-and-swap on the alias row's ``revision``: a caller passes the
revision it saw, and when two moves race on one alias exactly one commits; the other
gets ``Conflict``. Rollback moves an alias back to the version it held before its
latest (not yet undone) promotion; the history is kept. Nothing here asks a policy:
``Workspace.promote`` does that before calling in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from prodline.core.refs import check_name, node
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.store.tables import alias_history, aliases

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["STANDARD_ALIASES", "check_alias_name", "move_alias", "rollback_target"]

STANDARD_ALIASES = ("production", "staging")
"""Alias names any model may take without ``create=True``; others must exist already."""


def check_alias_name(alias: str) -> str:
    """Refuse names that cannot be aliases (invalid, a number, or ``latest``)."""
    check_name("Alias", alias)
    if alias.isdigit() or alias == "latest":
        raise InvalidInput(
            f"Alias '{alias}' is reserved; choose a name such as 'production' or 'staging'.",
            field="alias",
        )
    return alias


def known_aliases(conn: sa.Connection) -> list[str]:
    """Every alias name in use in the workspace, plus the standard ones, sorted."""
    used = conn.execute(sa.select(aliases.c.alias).distinct()).scalars().all()
    return sorted(set(used) | set(STANDARD_ALIASES))


def check_new_alias(conn: sa.Connection, model_id: int, name: str, alias: str) -> None:
    """A typo (``prod`` for ``production``) must not silently create a new alias."""
    exists = conn.execute(
        sa.select(aliases.c.alias).where(aliases.c.model_id == model_id, aliases.c.alias == alias)
    ).first()
    if exists is not None:
        return
    known = known_aliases(conn)
    if alias in known:
        return
    raise NotFound(
        f"Model '{name}' has no alias '{alias}' and no model uses that name; aliases in this "
        f"workspace are: {', '.join(known)}. Pass --create (create=True) to make a new alias.",
        field="alias",
    )


def rollback_target(conn: sa.Connection, model_id: int, name: str, alias: str) -> int:
    """The version ``alias`` held before its latest promotion that was not rolled back."""
    rows = conn.execute(
        sa.select(alias_history.c.action, alias_history.c.from_version)
        .where(alias_history.c.model_id == model_id, alias_history.c.alias == alias)
        .order_by(alias_history.c.id.desc())
    ).all()
    if not rows:
        raise NotFound(f"Model '{name}' has no alias '{alias}' to roll back.", field="alias")
    undone = 0
    for row in rows:
        if row.action == "rollback":
            undone += 1
        elif undone:
            undone -= 1
        elif row.from_version is not None:
            return int(row.from_version)
        else:
            break
    raise Conflict(f"Alias '{alias}' of '{name}' has no earlier version to roll back to.")


def alias_revision(conn: sa.Connection, model_id: int, alias: str) -> tuple[int | None, int]:
    """(version held or None, revision; 0 when the alias does not exist yet)."""
    row = conn.execute(
        sa.select(aliases.c.version, aliases.c.revision).where(
            aliases.c.model_id == model_id, aliases.c.alias == alias
        )
    ).first()
    return (int(row.version), int(row.revision)) if row else (None, 0)


def move_alias(
    ws: Workspace,
    conn: sa.Connection,
    *,
    model_id: int,
    name: str,
    alias: str,
    version: int,
    action: str,
    expected_revision: int | None,
) -> int | None:
    """Point ``alias`` at ``version`` inside ``conn``'s transaction; returns the old version."""
    query = sa.select(aliases.c.version, aliases.c.revision).where(
        aliases.c.model_id == model_id, aliases.c.alias == alias
    )
    if not ws.db.is_sqlite:
        query = query.with_for_update()
    row = conn.execute(query).first()
    revision = int(row.revision) if row else 0
    if expected_revision is not None and expected_revision != revision:
        held = f"version {row.version}" if row else "nothing"
        raise Conflict(
            f"Alias '{alias}' of '{name}' was moved by someone else while you "
            f"were promoting (it now holds {held}); check and run again.",
            alias=alias,
            revision=revision,
        )
    now = datetime.now(UTC)
    previous = int(row.version) if row else None
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    aliases.insert().values(
                        model_id=model_id, alias=alias, version=version, revision=1, updated_at=now
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict(
                f"Alias '{alias}' of '{name}' was created concurrently; check and run again.",
                alias=alias,
            ) from exc
    else:
        updated = conn.execute(
            aliases.update()
            .where(
                aliases.c.model_id == model_id,
                aliases.c.alias == alias,
                aliases.c.revision == revision,
            )
            .values(version=version, revision=revision + 1, updated_at=now)
        )
        if updated.rowcount != 1:
            raise Conflict(
                f"Alias '{alias}' of '{name}' was moved concurrently; check and run again.",
                alias=alias,
            )
    conn.execute(
        alias_history.insert().values(
            model_id=model_id,
            alias=alias,
            action=action,
            from_version=previous,
            to_version=version,
            actor=ws.actor,
            at=now,
        )
    )
    ws.lineage.replace_incoming(
        conn, node("alias", name, alias), node("model", name, version), "points_to"
    )
    ws.audit.record(
        conn,
        f"alias.{action}",
        f"model:{name}@{alias}",
        {"from_version": previous, "to_version": version},
    )
    return previous
