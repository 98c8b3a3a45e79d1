"""``prodline data``: register, list and show dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table, split_ref

app = typer.Typer(
    help="Versioned datasets with owners, sources and sensitivity tags.", no_args_is_help=True
)


@app.command("add")
def add(
    path: Path = typer.Argument(..., help="A .csv, .tsv or .parquet file."),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name."),
    owner: str = typer.Option(..., "--owner", "-o", help="Owning team."),
    source: str = typer.Option("", "--source", "-s", help="Where the data came from."),
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a file as a new immutable dataset version.

    Example: prodline data add credit.csv --name german-credit --owner risk-team --source uci
    """
    with open_workspace() as ws:
        ds = ws.datasets.register(
            path, name=name, owner=owner, source=source, description=description
        )
    if as_json:
        print_json(ds.to_dict())
        return
    console.print(f"[green]registered[/] {ds.ref}  rows={ds.rows}  sha256={ds.content_sha256[:12]}")
    _print_sensitivity(ds.sensitivity)


def _print_sensitivity(sensitivity: dict[str, dict[str, Any]]) -> None:
    rows = []
    for column, info in sensitivity.items():
        level = str(info.get("level", "none"))
        style = {"pii": "yellow", "phi": "red"}.get(level, "dim")
        evidence = info.get("evidence") or {}
        shares = ", ".join(f"{k} {float(v):.0%}" for k, v in dict(evidence).items())
        kinds = ", ".join(info.get("kinds") or [])
        rows.append((_escape(column), f"[{style}]{level}[/]", _escape(kinds), shares))
    print_table(
        "columns and sensitivity", ("column", "level", "kinds", "evidence"), rows, markup=True
    )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List datasets (newest version of each).

    Example: prodline data list --json
    """
    with open_workspace() as ws:
        items = ws.datasets.list()
    if as_json:
        print_json([d.to_dict() for d in items])
        return
    print_table(
        "datasets",
        ("name", "version", "rows", "owner", "source", "sensitivity", "created"),
        (
            (
                d.name,
                d.version,
                d.rows,
                d.owner,
                d.source,
                d.sensitivity_level,
                f"{d.created_at:%Y-%m-%d %H:%M}",
            )
            for d in items
        ),
    )


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the profile)."),
) -> None:
    """Show one dataset version: schema, sensitivity tags, lineage facts.

    Example: prodline data show german-credit@1
    """
    name, version = split_ref(ref, what="dataset")
    with open_workspace() as ws:
        ds = ws.datasets.get(name, version)
        versions = [v.version for v in ws.datasets.versions(name)]
    if as_json:
        print_json(ds.to_dict(profile=True) | {"versions": versions})
        return
    console.print(f"[bold]{ds.ref}[/]  owner={ds.owner}  source={ds.source}  rows={ds.rows}")
    console.print(f"sha256={ds.content_sha256}  format={ds.format}  versions={versions}")
    console.print(f"created {ds.created_at:%Y-%m-%d %H:%M} by {ds.created_by}")
    if ds.description:
        console.print(ds.description)
    _print_sensitivity(ds.sensitivity)
