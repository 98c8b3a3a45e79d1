"""``prodline audit`` and ``prodline lineage``: history and provenance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table, split_ref

if TYPE_CHECKING:
    from rich.tree import Tree

    from prodline.compliance.bundle import BundleCheck
    from prodline.ledger.audit import VerifyResult
    from prodline.ledger.lineage import LineageNode
    from prodline.workspace import Workspace

RELATION_LABELS = {
    "points_to": "points to",
    "trained": "trained on",
    "ingested_from": "ingested from",
    "deployed_as": "serves",
}

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("log")
def audit_log(
    limit: int = typer.Option(20, "--limit", "-l", min=1, help="How many events, newest first."),
    action: str = typer.Option(None, "--action", help="Only this action, e.g. alias.promote."),
    subject: str = typer.Option(None, "--subject", help="Only subjects starting with this."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show recent audit events.

    Example: prodline audit log --limit 50 --action alias.promote
    """
    with open_workspace() as ws:
        events = ws.audit.events(limit=limit, action=action, subject=subject)
    if as_json:
        print_json([e.to_dict() for e in events])
        return
    print_table(
        "audit log (newest first)",
        ("#", "time (UTC)", "actor", "action", "subject", "hash"),
        (
            (e.seq, e.ts[:19].replace("T", " "), e.actor, e.action, e.subject, e.hash[:12])
            for e in events
        ),
    )


@audit_app.command("verify")
def audit_verify(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    bundle: Path = typer.Option(
        None, "--bundle", help="Check an exported bundle folder offline instead."
    ),
) -> None:
    """Recompute the hash chain and check signed checkpoints; exit 1 if tampered.

    With --bundle, checks a bundle from prodline compliance export without the database
    (needs the workspace key: PRODLINE_AUDIT_KEY or the workspace's key file).

    Example: prodline audit verify --json; prodline audit verify --bundle bundle-2026-05
    """
    if bundle is not None:
        from prodline.cli.compliance import audit_key_offline
        from prodline.compliance.bundle import verify_bundle

        result = verify_bundle(bundle, audit_key_offline())
    else:
        with open_workspace() as ws:
            result = ws.audit.verify()
    if as_json:
        print_json(_verify_dict(result))
        if not result.ok:
            raise typer.Exit(1)
        return
    if result.ok:
        console.print(f"[green]{result}[/]")
        return
    console.print(f"[red]{result}[/]")
    raise typer.Exit(1)


def _verify_dict(result: VerifyResult | BundleCheck) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(result) | {"message": str(result)}


def node_facts(ws: Workspace, tree: LineageNode) -> dict[str, dict[str, Any]]:
    """What we know of each node: owners, sensitivity, metrics, times."""
    facts: dict[str, dict[str, Any]] = {}
    for item in tree.walk():
        if item.kind == "dataset":
            ds = ws.datasets.get(item.name, item.ref)
            facts[item.id] = ds.to_dict()
        elif item.kind == "model":
            facts[item.id] = ws.models.get(item.name, int(item.ref)).to_dict()
    return facts


def lineage(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@ALIAS of a model."),
    openlineage: bool = typer.Option(False, "--openlineage", help="Print OpenLineage events."),
    as_json: bool = typer.Option(False, "--json", help="Print the tree and facts as JSON."),
) -> None:
    """Print a model's lineage back to the source data, with owners and sensitivity.

    Example: prodline lineage credit-risk@production --openlineage
    """
    from prodline.ledger.lineage import node

    name, which = split_ref(ref, what="model")
    with open_workspace() as ws:
        mv = ws.models.get(name, which)
        start = (
            node("alias", name, which)
            if which and not which.isdigit()
            else node("model", name, mv.version)
        )
        tree = ws.lineage.upstream(start)
        facts = node_facts(ws, tree)
    if openlineage:
        from prodline.ledger.openlineage import run_events, to_json_lines

        console.print(to_json_lines(run_events(tree, facts)), highlight=False, soft_wrap=True)
        return
    if as_json:
        print_json(_tree_dict(tree, facts))
        return
    console.print(render_tree(tree, facts))


def _tree_dict(item: LineageNode, facts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One node and its parents, recursively, with what we know of each."""
    return {
        "id": item.id,
        "kind": item.kind,
        "name": item.name,
        "ref": item.ref,
        "facts": facts.get(item.id, {}),
        "parents": [{"relation": p.relation} | _tree_dict(p, facts) for p in item.parents],
    }


def _label(item: LineageNode, facts: dict[str, dict[str, Any]]) -> str:
    info = facts.get(item.id, {})
    if item.kind == "alias":
        return f"[bold magenta]alias[/] {item.name}@{item.ref}"
    if item.kind == "model":
        metrics = ", ".join(f"{k}={v:.3g}" for k, v in info.get("metrics", {}).items())
        return (
            f"[bold cyan]model[/] {item.name} v{item.ref}  flavor={info.get('flavor')}  "
            f"risk={info.get('risk_level')}  {metrics}  by {info.get('created_by')}"
        )
    if item.kind == "dataset":
        tagged = [
            f"{c}:{s['level']}({','.join(s.get('kinds', []))})"
            for c, s in info.get("sensitivity", {}).items()
            if s.get("level") != "none"
        ]
        return (
            f"[bold green]dataset[/] {item.name} v{item.ref}  owner={info.get('owner')}  "
            f"rows={info.get('rows')}  sha256={str(info.get('content_sha256'))[:12]}  "
            f"sensitive: {', '.join(tagged) or 'none'}"
        )
    if item.kind == "source":
        return f"[bold]source[/] {item.name}"
    return item.id


def render_tree(tree: LineageNode, facts: dict[str, dict[str, Any]]) -> Tree:
    """The lineage as a Rich tree, one line of facts per node."""
    from rich.tree import Tree

    root = Tree(_label(tree, facts))

    def add(parent: Tree, item: LineageNode) -> None:
        for p in item.parents:
            relation = RELATION_LABELS.get(p.relation, p.relation)
            add(parent.add(f"[dim]{relation}[/] " + _label(p, facts)), p)

    add(root, tree)
    return root
