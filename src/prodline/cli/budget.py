"""``prodline budget``: spend limits per team, model, KB, API token or everything."""

from __future__ import annotations

from typing import Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

app = typer.Typer(
    help="Budgets: soft (alert at a share) or hard (429, or route to a cheaper provider).",
    no_args_is_help=True,
)


def _scope(text: str) -> tuple[str, str]:
    kind, _, name = text.partition(":")
    if kind == "all" and not name:
        return "all", ""
    if not name:
        raise InvalidInput(
            f"--scope {text!r} needs KIND:NAME (team:risk, model:credit-risk, kb:support-desk, "
            "token:svc) or all.",
            field="scope",
        )
    return kind, name


def _row(s: Any) -> tuple[Any, ...]:
    b = s.budget
    kind = ("hard, " + ("route to " + str(b.route_to) if b.on_exceed == "route" else "refuse")
            if b.hard else "soft")  # fmt: skip
    return (
        b.name,
        f"{b.scope_kind}:{b.scope}" if b.scope else "all",
        b.period,
        f"{b.amount_usd:g}",
        f"{s.spent_usd:.4f}",
        f"{s.share:.0%}",
        s.state,
        f"{kind}; alert at {b.soft_share:.0%}",
    )


_COLUMNS = ["name", "scope", "period", "USD", "spent", "share", "state", "kind"]


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Budget name."),
    scope: str = typer.Option(
        ..., "--scope", help="KIND:NAME (team:, model:, kb:, token:) or all."
    ),
    period: str = typer.Option("month", "--period", help="day, week or month (UTC)."),
    amount: float = typer.Option(..., "--amount", help="USD per period."),
    soft: float = typer.Option(0.8, "--soft", help="Alert at this share of the amount."),
    hard: bool = typer.Option(False, "--hard", help="Refuse (or route) calls past the amount."),
    on_exceed: str = typer.Option(
        "refuse", "--on-exceed", help="Hard budgets: refuse (HTTP 429) or route."
    ),
    route_to: str = typer.Option(None, "--route-to", help="Provider to route to (RAG only)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a budget; one live budget per scope and period.

    Example: prodline budget create desk --scope kb:support-desk --amount 50 --hard
    """
    kind, subject = _scope(scope)
    with open_workspace() as ws:
        budget = ws.costs.budgets.create(
            name, scope_kind=kind, scope=subject, period=period, amount_usd=amount,
            soft_share=soft, hard=hard, on_exceed=on_exceed, route_to=route_to,
        )  # fmt: skip
    if as_json:
        print_json(budget.to_dict())
        return
    console.print(
        f"budget {budget.name}: ${budget.amount_usd:g} per {budget.period} for {scope}"
        f" ({'hard' if budget.hard else 'soft'}; alert at {budget.soft_share:.0%})",
        highlight=False,
    )


@app.command("list")
def list_budgets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List live budgets with their spend in the current period.

    Example: prodline budget list --json
    """
    with open_workspace() as ws:
        statuses = ws.costs.budgets.statuses()
    if as_json:
        print_json([s.to_dict() for s in statuses])
        return
    print_table("Budgets", _COLUMNS, [_row(s) for s in statuses])


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Budget name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a budget and its spend in the current period.

    Example: prodline budget show desk
    """
    with open_workspace() as ws:
        status = ws.costs.budgets.status(name)
    if as_json:
        print_json(status.to_dict())
        return
    print_table(f"Budget {name}", _COLUMNS, [_row(status)])
    console.print(
        f"period {status.period_start:%Y-%m-%d %H:%M} to {status.period_end:%Y-%m-%d %H:%M} UTC;"
        f" reserved in flight ${status.reserved_usd:.4f}",
        highlight=False,
    )


@app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Budget name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """End a budget (its spend history stays).

    Example: prodline budget delete desk
    """
    with open_workspace() as ws:
        ws.costs.budgets.delete(name)
    if as_json:
        print_json({"budget": name, "deleted": True})
        return
    console.print(f"deleted budget {name}", highlight=False)
