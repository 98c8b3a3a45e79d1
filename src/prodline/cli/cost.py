"""``prodline cost``: price tables, cost reports and route comparisons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    from prodline.cost import PriceVersion

app = typer.Typer(
    help="Costs: versioned price tables, cost reports, route comparisons.",
    no_args_is_help=True,
)
prices_app = typer.Typer(
    help="Price tables (USD per 1,000 tokens per provider/model, compute per hour).",
    no_args_is_help=True,
)
app.add_typer(prices_app, name="prices")


def _effective(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--effective must be a date or ISO time, e.g. 2026-12-01, got {text!r}.",
            field="effective",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show_version(v: PriceVersion) -> None:
    console.print(
        f"price version {v.version}  in force from {v.effective_from.isoformat()}  "
        f"(set by {v.created_by}, sha256 {v.source_sha256[:12]})",
        highlight=False,
    )
    print_table(
        "USD per 1,000 tokens",
        ["provider/model", "input", "output"],
        [(route, f"{p[0]:g}", f"{p[1]:g}") for route, p in sorted(v.tokens.items())],
    )
    console.print(
        "compute USD/hour: " + ", ".join(f"{k} {val:g}" for k, val in sorted(v.compute.items())),
        highlight=False,
    )


@prices_app.command("set")
def prices_set(
    file: Path = typer.Argument(..., help="YAML price table (tokens:, compute:)."),
    effective: str = typer.Option(
        None, "--effective", help="In force from this date or time (UTC; default now)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Store a price table as a new version (old costs keep their old prices).

    Example: prodline cost prices set prices.yaml --effective 2026-12-01
    """
    with open_workspace() as ws:
        version = ws.costs.prices.set(Path(file), effective=_effective(effective))
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"price version {version.version} in force from {version.effective_from.isoformat()} "
        f"({len(version.tokens)} provider/models)",
        highlight=False,
    )


@prices_app.command("show")
def prices_show(
    version: int = typer.Argument(None, help="Version number (default: the one in force now)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one price version (default: the one in force now).

    Example: prodline cost prices show 2
    """
    with open_workspace() as ws:
        found = (
            ws.costs.prices.get(version)
            if version is not None
            else ws.costs.prices.at(datetime.now(UTC))
        )
    if found is None:
        raise InvalidInput(
            "No price table is in force; prodline cost prices set FILE.", field="version"
        )
    if as_json:
        print_json(found.to_dict())
        return
    _show_version(found)


@prices_app.command("list")
def prices_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every price version, oldest first.

    Example: prodline cost prices list --json
    """
    with open_workspace() as ws:
        versions = ws.costs.prices.versions()
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    print_table(
        "Price versions",
        ["version", "effective from", "provider/models", "set by", "sha256"],
        [
            (
                v.version,
                v.effective_from.isoformat(),
                len(v.tokens),
                v.created_by,
                v.source_sha256[:12],
            )
            for v in versions
        ],
    )


@app.command("report")
def report(
    by: str = typer.Option("team", "--by", help="team, model, kb, provider or token."),
    period: str = typer.Option("30d", "--period", help="The last N days/hours: 30d, 12h, 2w."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML page."),
) -> None:
    """Costs of the period grouped by team, model, KB, provider/model or token user.

    Example: prodline cost report --by team --period 30d --html costs.html
    """
    with open_workspace() as ws:
        result = ws.costs.report(by=by, period=period)
    if html is not None:
        from prodline.cost.html import write_html

        write_html(result, html)
    if as_json:
        print_json(result.to_dict())
        return
    print_table(
        f"Costs by {by}, {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC",
        [by, "requests", "input tokens", "output tokens", "CPU ms", "cost USD", "unknown"],
        [
            (
                r.key,
                r.requests,
                r.input_tokens,
                r.output_tokens,
                f"{r.cpu_ms:,.1f}",
                f"{r.cost_usd:.6f}",
                r.unknown,
            )
            for r in result.groups
        ],
    )
    console.print(
        f"total ${result.total_usd:.6f} over {result.requests} requests; "
        f"price versions {', '.join(map(str, result.price_versions)) or 'none'}",
        highlight=False,
    )
    if result.note:
        console.print(result.note, highlight=False, markup=False)
    for m in result.missing:
        console.print(
            f"unknown cost: no price for {m['route']} in price version {m['price_version']}",
            highlight=False,
            markup=False,
        )
    if html is not None:
        console.print(f"wrote {html}", highlight=False, markup=False)


def _routes(home: Path) -> dict[str, dict[str, Any]]:
    from prodline.llm.config import load_llm_config

    providers = load_llm_config(home).providers
    return {
        name: {"model": p.model, "self_hosted": p.is_self_hosted} for name, p in providers.items()
    }


@app.command("compare")
def compare(
    kb: str = typer.Option(..., "--kb", help="Knowledge base whose calls to replay."),
    period: str = typer.Option("7d", "--period", help="The last N days/hours: 7d, 24h."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the KB's recorded calls would cost on every configured [llm] provider.

    Example: prodline cost compare --kb support --period 7d
    """
    with open_workspace() as ws:
        result = ws.costs.compare(kb=kb, period=period, routes=_routes(ws.home))
    if as_json:
        print_json(result.to_dict())
        return

    def money(x: float | None) -> str:
        return "unknown" if x is None else f"{x:.6f}"

    print_table(
        f"Routes for KB {kb}: {result.requests} requests, sensitivity {result.sensitivity}, "
        f"price version {result.price_version or 'none'}",
        [
            "route",
            "model",
            "self-hosted",
            "allowed",
            "cost USD",
            "per 1k requests",
            "p50 ms",
            "why",
        ],
        [
            (
                r.route,
                r.model,
                "yes" if r.self_hosted else "no",
                "yes" if r.allowed else "no",
                money(r.cost_usd),
                money(r.cost_per_1k_requests),
                "-" if r.p50_latency_ms is None else f"{r.p50_latency_ms:.0f}",
                r.reason,
            )
            for r in result.routes
        ],
    )
