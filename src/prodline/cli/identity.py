"""``prodline user`` and ``prodline token``: who may act, with which role, holding which token.

A token is printed once, alone on its line of stdout (the notes go to stderr), so
``export PRODLINE_TOKEN=$(prodline token create --user ci)`` captures just the token.
"""

from __future__ import annotations

import typer

from prodline.cli.common import console, err_console, open_workspace, print_json, print_table
from prodline.core.roles import ROLES

user_app = typer.Typer(
    help="Users and their roles (admin, ml-engineer, data-owner, reviewer, auditor, service).",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens: shown once, stored hashed, revocable.", no_args_is_help=True
)


def _when(value: object) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d %H:%M}"


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The user's name (an OS login name logs in as it)."),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
    token: bool = typer.Option(
        False, "--token", help="Also create a token for the user and print it once."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a user with one role; the first user must be an admin.

    While a workspace has no users, your OS account acts as admin. After the first user
    is added, role checks apply: you act as the user named like your OS login, or as
    the user of PRODLINE_TOKEN. So the first user gets a token printed unless it is
    named like your OS login.

    Example: prodline user add ada --role admin; prodline user add ci --role service
    """
    from prodline.ledger.identity import os_login

    with open_workspace() as ws:
        first = not ws.identity.has_users()
        user = ws.identity.add_user(name, role)
        secret = None
        if token or (first and name != os_login()):
            _, secret = ws.identity.create_token(name)
    if as_json:
        print_json({**user.to_dict(), "token": secret})
        return
    console.print(f"added user {user.name} ({user.role})", highlight=False)
    if secret is not None:
        _print_secret(secret, name)


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users, their roles and whether they are active.

    Example: prodline user list --json
    """
    with open_workspace() as ws:
        users = ws.identity.users()
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    print_table(
        "users",
        ["name", "role", "active", "created by", "created"],
        [
            (u.name, u.role, "yes" if u.active else "no", u.created_by, _when(u.created_at))
            for u in users
        ],
    )


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="The user to disable."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Disable a user: their tokens and login stop working at once (audited).

    Example: prodline user disable bob
    """
    with open_workspace() as ws:
        user = ws.identity.disable_user(name)
    if as_json:
        print_json(user.to_dict())
        return
    console.print(f"disabled user {user.name}", highlight=False)


@token_app.command("create")
def token_create(
    user: str = typer.Option(..., "--user", help="Whose token it is."),
    expires: str = typer.Option(
        None, "--expires", help="Lifetime such as 30d, 12h, 90m or 2w (default: never)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the token included)."),
) -> None:
    """Create an API token and print it once, alone on its line; only its hash is kept.

    Example: export PRODLINE_TOKEN=$(prodline token create --user ci --expires 30d)
    """
    with open_workspace() as ws:
        token, secret = ws.identity.create_token(user, expires=expires)
    if as_json:
        print_json({**token.to_dict(), "token": secret})
        return
    _print_secret(secret, user)


@token_app.command("list")
def token_list(
    user: str = typer.Option(None, "--user", help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List tokens (id, prefix, state, expiry, last use), never the tokens themselves.

    Example: prodline token list --user ci
    """
    with open_workspace() as ws:
        tokens = ws.identity.tokens(user)
    if as_json:
        print_json([t.to_dict() for t in tokens])
        return
    print_table(
        "tokens",
        ["id", "user", "role", "prefix", "state", "expires", "last used"],
        [
            (
                t.id,
                t.user,
                t.role,
                t.prefix + "…",
                t.state(),
                _when(t.expires_at),
                _when(t.last_used_at),
            )
            for t in tokens
        ],
    )


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The token's id (prodline token list)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revoke a token: it is refused from now on (servers within their cache time, 5 s).

    Example: prodline token revoke 3
    """
    with open_workspace() as ws:
        token = ws.identity.revoke_token(token_id)
    if as_json:
        print_json(token.to_dict())
        return
    console.print(f"revoked token {token.id} ({token.prefix}…) of {token.user}", highlight=False)


def _print_secret(secret: str, user: str) -> None:
    """The token alone on its stdout line; how to use it on stderr."""
    print(secret, flush=True)
    err_console.print(
        f"token for {user}, shown once: keep it secret; use it as PRODLINE_TOKEN or as "
        "'Authorization: Bearer <token>' against a server started with --auth token",
        highlight=False,
    )
