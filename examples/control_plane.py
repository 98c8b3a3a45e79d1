"""The control-plane story: people, the human review queue and the dashboard.

Runs after the other stories, in the same workspace. It

1. gives the workspace its first users — the OS user as ``admin`` (so the CLI keeps
   working as before) and ``rita`` as ``reviewer`` — with API tokens kept in
   ``<home>/demo-tokens.json`` (mode 0600; a re-run reuses them);
2. holds the credit model's low-confidence predictions for review (``hold`` below 0.6)
   and sends the most borderline applicant of the data set through the running model
   server: it answers HTTP 202 ``pending_review``;
3. shows the queue (the RAG story queued its ungrounded answers there too);
4. starts ``prodline server`` (API and dashboard) and prints its URL and the tokens.

Run on its own (after ``prodline demo --no-serve`` made the workspace)::

    PRODLINE_HOME=.prodline python examples/control_plane.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import prodline as pl

MODEL = "credit-risk"
TARGET = "risk"
ADMIN_ROLE = "admin"
REVIEWER = "rita"
THRESHOLD = 0.6
console = Console()


def token_file(ws: pl.Workspace) -> Path:
    """Where the demo keeps its users' tokens (never in the audit log)."""
    return ws.home / "demo-tokens.json"


def demo_tokens(ws: pl.Workspace) -> dict[str, str]:
    """``{user: token}`` the demo made, or ``{}`` before it made any."""
    path = token_file(ws)
    return dict(json.loads(path.read_text())) if path.exists() else {}


def ensure_users(ws: pl.Workspace) -> dict[str, str]:
    """The OS user as admin and rita as reviewer, each with a token (made once)."""
    from prodline.ledger.identity import os_login

    tokens = demo_tokens(ws)
    wanted = {os_login(): ADMIN_ROLE, REVIEWER: "reviewer"}
    existing = {user.name for user in ws.identity.users()}
    for name, role in wanted.items():
        if name not in existing:
            ws.identity.add_user(name, role)
    for name in wanted:
        if name not in tokens:
            _, tokens[name] = ws.identity.create_token(name, expires="30d")
    path = token_file(ws)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(tokens, fh)
    return tokens


def borderline_applicant(ws: pl.Workspace) -> dict[str, Any]:
    """The applicant the production model is least sure about."""
    mv = ws.models.get(MODEL, "production")
    if not mv.trained_on:
        raise pl.ProdlineError(f"{mv.ref} has no training data set to pick an applicant from.")
    name, _, version = mv.trained_on[0].partition("@")
    frame = ws.datasets.load(name, version or None)
    features = frame.drop(columns=[TARGET]).head(300)
    model = ws.models.load_predictor(mv)
    scored = model.predict({str(c): features[c].to_numpy() for c in features.columns})
    if scored.probabilities is None:
        raise pl.ProdlineError(f"{mv.ref} gives no probabilities to pick an applicant by.")
    row = features.iloc[int(scored.probabilities.max(axis=1).argmin())]
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def hold_one(server_url: str, applicant: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """POST the applicant until the server's refreshed policy holds it (≤ ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = httpx.post(
            f"{server_url}/v1/models/{MODEL}/predict", json={"inputs": [applicant]}, timeout=10
        )
        if reply.status_code == 202 or time.monotonic() > deadline:
            return {"status_code": reply.status_code, **reply.json()}
        time.sleep(0.5)


def show_queue(ws: pl.Workspace) -> None:
    """The pending review items as a table."""
    table = Table(title="review queue (prodline review list)")
    for col in ("id", "kind", "subject", "mode", "reason", "status"):
        table.add_column(col)
    for item in ws.reviews.list(status="pending", limit=20):
        table.add_row(str(item.id), item.kind, item.subject, item.mode, item.reason, item.status)
    console.print(table)


def run(ws: pl.Workspace, *, model_server: Any = None) -> dict[str, str]:
    """Users, a held prediction and the queue; returns ``{user: token}``."""
    console.rule("[bold]11. people in the loop: users, tokens, the review queue")
    tokens = ensure_users(ws)
    console.print(
        f"users: {', '.join(f'{u.name} ({u.role})' for u in ws.identity.users())}; "
        f"tokens in {token_file(ws)} (0600)",
        highlight=False,
    )
    ws.reviews.set_policy("model", MODEL, mode="hold", threshold=THRESHOLD, sla="4h")
    console.print(f"{MODEL}: predictions under confidence {THRESHOLD} wait for a reviewer")
    if model_server is not None:
        applicant = borderline_applicant(ws)
        answer = hold_one(model_server.url, applicant)
        if answer["status_code"] == 202:
            console.print(
                f"the most borderline applicant → HTTP 202 {answer['status']}, "
                f"review {answer['review_id']} (poll {answer['review_url']})",
                highlight=False,
            )
        else:
            console.print(f"[yellow]the server did not hold the prediction: {answer}[/]")
    show_queue(ws)
    return tokens


def print_access(url: str, tokens: dict[str, str]) -> None:
    """The dashboard's URL and the tokens to log in with."""
    from prodline.ledger.identity import os_login

    console.print(
        f"dashboard and API at {url}  (API docs: {url}/api/v1/docs)\n"
        f"  admin token ({os_login()}):  {tokens[os_login()]}\n"
        f"  reviewer token ({REVIEWER}): {tokens[REVIEWER]}",
        highlight=False,
    )


if __name__ == "__main__":
    from prodline.api.server import ControlPlane

    with pl.Workspace.open() as workspace:
        made = run(workspace)
        with ControlPlane(workspace, port=0) as plane:
            print_access(plane.url, made)
            reply = httpx.get(
                f"{plane.url}/api/v1/reviews",
                headers={"authorization": f"Bearer {made[REVIEWER]}"},
            )
            console.print(f"GET /api/v1/reviews → {reply.status_code}")
