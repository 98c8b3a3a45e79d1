"""``prodline model``, ``promote`` and ``rollback``: the model registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from prodline.cli.common import (
    console,
    open_workspace,
    parse_pairs,
    print_json,
    print_table,
    split_ref,
)
from prodline.errors import InvalidInput

app = typer.Typer(help="Model registry: versions, aliases, archive.", no_args_is_help=True)


@app.command("register")
def register(
    path: Path = typer.Argument(..., help="A .skops or .onnx model file."),
    name: str = typer.Option(..., "--name", "-n", help="Model name."),
    trained_on: list[str] = typer.Option([], "--trained-on", help="DATASET@V (repeatable)."),
    metric: list[str] = typer.Option([], "--metric", help="key=value (repeatable)."),
    param: list[str] = typer.Option([], "--param", help="key=value (repeatable)."),
    tag: list[str] = typer.Option([], "--tag", help="key=value (repeatable)."),
    risk: str = typer.Option(
        None, "--risk", help="minimal, limited or high: set on the model when this creates it."
    ),
    owner: str = typer.Option(None, "--owner", help="Owning team, when this creates the model."),
    target: str = typer.Option(None, "--target", help="Label column to leave out of inputs."),
    description: str = typer.Option("", "--description", "-d", help="About this version."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a model file as a new version.

    Example: prodline model register model.skops --name credit-risk
    --trained-on german-credit@1 --metric auc=0.78 --risk high
    """
    for ref in trained_on:
        split_ref(ref, what="dataset", need_ref=True)
    with open_workspace() as ws:
        mv = ws.models.register(
            path,
            name=name,
            trained_on=trained_on,
            metrics=parse_pairs(metric, flag="--metric", numeric=True),
            params=parse_pairs(param, flag="--param"),
            tags=parse_pairs(tag, flag="--tag"),
            risk_level=risk,
            owner=owner,
            description=description,
            target=target,
        )
    if as_json:
        print_json(mv.to_dict())
        return
    inputs = _inputs(mv.signature)
    console.print(f"[green]registered[/] {mv.ref}  flavor={mv.flavor}  risk={mv.risk_level}")
    console.print(f"inputs: {inputs}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List models with their newest version and aliases.

    Example: prodline model list
    """
    with open_workspace() as ws:
        items = [(mv, ws.models.aliases(mv.name)) for mv in ws.models.list()]
    if as_json:
        print_json([mv.to_dict() | {"all_aliases": al} for mv, al in items])
        return
    print_table(
        "models",
        ("name", "latest", "flavor", "risk", "aliases", "metrics"),
        (
            (
                mv.name,
                mv.version,
                mv.flavor,
                mv.risk_level,
                ", ".join(f"{a}→v{v}" for a, v in al.items()),
                ", ".join(f"{k}={v:.4g}" for k, v in mv.metrics.items()),
            )
            for mv, al in items
        ),
    )


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@ALIAS."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a model version (the newest, or the one a version/alias names).

    Example: prodline model show credit-risk@production
    """
    name, which = split_ref(ref, what="model")
    with open_workspace() as ws:
        mv = ws.models.get(name, which)
        versions = ws.models.versions(name)
        al = ws.models.aliases(name)
    if as_json:
        print_json(mv.to_dict() | {"all_aliases": al, "versions": [v.version for v in versions]})
        return
    console.print(
        f"[bold]{mv.ref}[/]  flavor={mv.flavor}  status={mv.status}  risk={mv.risk_level}  "
        f"owner={mv.owner or '-'}"
    )
    console.print(f"trained on: {', '.join(mv.trained_on) or '-'}   git: {mv.git_commit or '-'}")
    console.print(f"created {mv.created_at:%Y-%m-%d %H:%M} by {mv.created_by}")
    console.print(f"inputs: {_inputs(mv.signature)}")
    if mv.metrics:
        console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in mv.metrics.items()))
    print_table(
        f"versions of {name}",
        ("version", "status", "aliases", "created"),
        (
            (v.version, v.status, ", ".join(v.aliases), f"{v.created_at:%Y-%m-%d %H:%M}")
            for v in versions
        ),
    )


@app.command("update")
def update(
    name: str = typer.Argument(..., help="Model name."),
    risk: str = typer.Option(None, "--risk", help="minimal, limited or high."),
    owner: str = typer.Option(None, "--owner", help="Owning team."),
    description: str = typer.Option(None, "--description", "-d", help="What the model is for."),
    as_json: bool = typer.Option(False, "--json", help="Print the model as JSON."),
) -> None:
    """Change a registered model's risk level, owner or description (audited).

    Risk belongs to the model, not a version: every version, past and future, is
    governed at the model's level.

    Example: prodline model update credit-risk --risk high --owner credit-risk-team
    """
    if risk is None and owner is None and description is None:
        raise InvalidInput("Nothing to change; pass --risk, --owner or --description.")
    with open_workspace() as ws:
        model = ws.models.update(name, risk_level=risk, owner=owner, description=description)
    if as_json:
        print_json(model.to_dict())
        return
    console.print(
        f"[green]{model.name}[/]  risk={model.risk_level}  owner={model.owner or '-'}  "
        f"{model.description}"
    )


@app.command("archive")
def archive(
    ref: str = typer.Argument(..., help="NAME@VERSION."),
    as_json: bool = typer.Option(False, "--json", help="Print the archived version as JSON."),
) -> None:
    """Retire a version so it can no longer be promoted.

    Example: prodline model archive credit-risk@1
    """
    name, version = split_ref(ref, what="model", need_ref=True)
    with open_workspace() as ws:
        mv = ws.models.archive(name, _version(version))
    if as_json:
        print_json(mv.to_dict())
        return
    console.print(f"archived {mv.ref}")


def _version(text: str | None) -> int:
    if text is None or not text.isdigit():
        raise InvalidInput(f"'{text}' is not a version number; write NAME@3.")
    return int(text)


def promote(
    ref: str = typer.Argument(..., help="NAME@VERSION to promote."),
    to: str = typer.Option(..., "--to", help="Alias to move, e.g. production."),
    create: bool = typer.Option(
        False, "--create", help="Allow a new alias name (a typo must not make one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Point an alias at a version (asking the promotion policy first).

    Example: prodline promote credit-risk@2 --to production;
    prodline promote credit-risk@3 --to shadow --create
    """
    name, version = split_ref(ref, what="model", need_ref=True)
    with open_workspace() as ws:
        state = ws.models.alias_state(name, to)
        before = state[0] if state else None
        mv = ws.promote(
            name,
            _version(version),
            to,
            create=create,
            expected_revision=state[1] if state else 0,
        )
    if as_json:
        print_json({"model": name, "alias": to, "version": mv.version, "previous": before})
        return
    was = f" (was v{before})" if before else ""
    console.print(f"[green]{name}@{to}[/] → v{mv.version}{was}")


def rollback(
    name: str = typer.Argument(..., help="Model name."),
    alias: str = typer.Option("production", "--alias", help="Alias to move back."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Move an alias back to the version it held before.

    Example: prodline rollback credit-risk --alias production
    """
    with open_workspace() as ws:
        state = ws.models.alias_state(name, alias)
        mv = ws.rollback(name, alias)
    before = state[0] if state else None
    if as_json:
        print_json({"model": name, "alias": alias, "version": mv.version, "previous": before})
        return
    was = f" (was v{before})" if before else ""
    console.print(f"[yellow]rolled back[/] {name}@{alias} → v{mv.version}{was}")


def _inputs(signature: list[dict[str, Any]]) -> str:
    """``name:type`` per input; ``?`` marks a column that may be null (``age:float?``)."""
    return ", ".join(
        f"{c['name']}:{c['type']}{'?' if c.get('nullable') else ''}" for c in signature
    )
