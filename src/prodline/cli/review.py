"""``prodline review``: the human review queue — list, claim, decide, policies, health."""

from __future__ import annotations

import json
from typing import Any

import typer

from prodline.cli.common import console, open_workspace, print_json, print_table
from prodline.errors import InvalidInput

app = typer.Typer(
    help="Human review of served answers: policies, the queue, claims and decisions.",
    no_args_is_help=True,
)


def _short(moment: object) -> str:
    return str(moment)[:19] if moment else "-"


def _brief(value: Any, width: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("list")
def list_items(
    status: str = typer.Option(
        "pending",
        "--status",
        help="open, claimed, pending (both), approved, edited, rejected, decided, or all.",
    ),
    model: str = typer.Option(None, "--model", help="Only items of this model."),
    kb: str = typer.Option(None, "--kb", help="Only items of this knowledge base."),
    mine: bool = typer.Option(False, "--mine", help="Only items you have claimed."),
    limit: int = typer.Option(50, "--limit", help="At most this many (1-1000)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List review items, oldest first (pending ones by default).

    Example: prodline review list --model credit-risk --status open
    """
    if model and kb:
        raise InvalidInput("Give --model or --kb, not both.", field="kb")
    kind, subject = ("model", model) if model else ("kb", kb) if kb else (None, None)
    with open_workspace() as ws:
        items = ws.reviews.list(
            status=None if status == "all" else status,
            kind=kind,
            subject=subject,
            claimed_by=ws.actor if mine else None,
            limit=limit,
        )
    if as_json:
        print_json([i.to_dict() for i in items])
        return
    print_table(
        "Review queue",
        ["id", "subject", "status", "reason", "claimed by", "created", "due"],
        [
            (
                i.id,
                f"{i.kind}:{i.subject}" + (f"@{i.version}" if i.version else ""),
                i.status,
                i.reason,
                i.claimed_by,
                _short(i.created_at),
                _short(i.due_at),
            )
            for i in items
        ],
    )


def _show(item: Any) -> None:
    console.print(
        f"review {item.id}  {item.kind}:{item.subject}"
        + (f"@{item.version}" if item.version else "")
        + f"  {item.status}  ({item.mode}; {item.reason})",
        highlight=False,
    )
    for label, value in (
        ("request", item.request_id),
        ("score", item.score),
        ("input", _brief(item.input, 200)),
        ("output", _brief(item.output, 200)),
        ("claimed by", item.claimed_by),
        ("final output", None if item.pending else _brief(item.final_output, 200)),
        ("decided by", item.decided_by),
        ("comment", item.comment or None),
        ("due", _short(item.due_at)),
    ):
        if value is not None:
            console.print(f"  {label}: {value}", highlight=False, markup=False)


@app.command("show")
def show(
    item_id: int = typer.Argument(..., help="Review id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one review item: what was asked, what the model answered, and the decision.

    Example: prodline review show 7
    """
    with open_workspace() as ws:
        item = ws.reviews.get(item_id)
    if as_json:
        print_json(item.to_dict())
        return
    _show(item)


@app.command("claim")
def claim(
    item_id: int = typer.Argument(..., help="Review id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Claim an open item so nobody else decides it meanwhile.

    Example: prodline review claim 7
    """
    with open_workspace() as ws:
        item = ws.reviews.claim(item_id)
    if as_json:
        print_json(item.to_dict())
        return
    console.print(f"claimed review {item.id} ({item.kind}:{item.subject})", highlight=False)


@app.command("release")
def release(
    item_id: int = typer.Argument(..., help="Review id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Give a claimed item back to the queue (its claimer or an admin).

    Example: prodline review release 7
    """
    with open_workspace() as ws:
        item = ws.reviews.release(item_id)
    if as_json:
        print_json(item.to_dict())
        return
    console.print(f"released review {item.id}; it is open again", highlight=False)


@app.command("decide")
def decide(
    item_id: int = typer.Argument(..., help="Review id."),
    decision: str = typer.Argument(..., help="approve, edit or reject."),
    output: str = typer.Option(
        None, "--output", help='The corrected output as JSON (edit), e.g. [{"prediction": 0}].'
    ),
    comment: str = typer.Option("", "--comment", help="Why, for the audit log."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Approve, edit or reject an item; decisions are final and audited.

    Approved and edited model answers become feedback labels.

    Example: prodline review decide 7 approve
    Example: prodline review decide 8 edit --output '[{"prediction": 0}]' --comment "income"
    """
    value: Any = None
    if output is not None:
        try:
            value = json.loads(output)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"--output is not JSON ({exc.msg}); write e.g. '[{{\"prediction\": 0}}]'.",
                field="output",
            ) from exc
    with open_workspace() as ws:
        item = ws.reviews.decide(item_id, decision, output=value, comment=comment)
    if as_json:
        print_json(item.to_dict())
        return
    console.print(f"review {item.id} {item.status} by {item.decided_by}", highlight=False)


@app.command("policy")
def policy(
    name: str = typer.Argument(..., help="The model (or, with --kb, knowledge base) name."),
    kb: bool = typer.Option(False, "--kb", help="NAME is a knowledge base."),
    mode: str = typer.Option(
        None, "--mode", help="hold (the answer waits for a human) or after (reviewed later)."
    ),
    threshold: float = typer.Option(
        None, "--threshold", help="Review answers scoring under this (0..1)."
    ),
    sample: float = typer.Option(
        0.0, "--sample", help="after mode: share of the other answers reviewed too (0..1)."
    ),
    sla: str = typer.Option("4h", "--sla", help="Alert when an item waits longer (30m, 4h, 2d)."),
    webhook: str = typer.Option(None, "--webhook", help="POST each decision here (http(s))."),
    clear: bool = typer.Option(False, "--clear", help="Remove the policy."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show, set or clear the review policy of a model or knowledge base.

    Without --mode or --clear it shows the policy.

    Example: prodline review policy credit-risk --mode hold --threshold 0.6 --sla 30m
    Example: prodline review policy support-desk --kb --mode after --threshold 0.5 --sample 0.05
    """
    kind = "kb" if kb else "model"
    with open_workspace() as ws:
        if clear:
            if mode is not None:
                raise InvalidInput(
                    "Give --mode to set a policy or --clear, not both.", field="mode"
                )
            ws.reviews.clear_policy(kind, name)
            if as_json:
                print_json({"kind": kind, "subject": name, "cleared": True})
            else:
                console.print(f"cleared the review policy of {kind} {name}", highlight=False)
            return
        if mode is None:
            current = ws.reviews.policy(kind, name)
            if as_json:
                print_json(current.to_dict() if current else None)
            elif current is None:
                console.print(
                    f"{kind} {name} has no review policy; set one with --mode hold|after.",
                    highlight=False,
                )
            else:
                _print_policy(current.to_dict())
            return
        result = ws.reviews.set_policy(
            kind, name, mode=mode, threshold=threshold, sample_rate=sample, sla=sla, webhook=webhook
        )
    if as_json:
        print_json(result.to_dict())
        return
    _print_policy(result.to_dict())


def _print_policy(p: dict[str, Any]) -> None:
    under = f"under {p['threshold']}" if p["threshold"] is not None else "every answer"
    sample = f", sample {p['sample_rate']}" if p["sample_rate"] else ""
    console.print(
        f"review policy {p['kind']}:{p['subject']}: {p['mode']} {under}{sample}, "
        f"SLA {p['sla_s']:g}s" + (", webhook set" if p["webhook"] else ""),
        highlight=False,
    )


@app.command("health")
def health(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The queue's backlog, oldest open item, SLA breaches and load per reviewer.

    Example: prodline review health --json
    """
    with open_workspace() as ws:
        result = ws.reviews.health()
    if as_json:
        print_json(result.to_dict())
        return
    age = result.oldest_open_age_s
    console.print(
        f"open {result.open}  claimed {result.claimed}  breaches {result.breaches}  "
        f"oldest open {'-' if age is None else f'{age:.0f}s'}",
        highlight=False,
    )
    if result.per_reviewer:
        print_table(
            "Reviewers",
            ["reviewer", "claimed", "decided"],
            [(u, v["claimed"], v["decided"]) for u, v in result.per_reviewer.items()],
        )
