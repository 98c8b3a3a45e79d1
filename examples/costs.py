"""The costs story: a price table, a budget that alerts and then routes to the offline
answerer, a KPI with its ROI, and what each route would have cost.

Runs after the support-desk stories, in the same workspace. It

1. records a price table (a premium cloud model, a cheaper one, the self-hosted
   extractive answerer at its CPU price): ``prodline cost prices set``;
2. gives the ``support-desk`` KB a small daily budget that alerts at 80 % and, once spent,
   sends its calls to the offline answerer (``prodline budget create … --hard --route-to
   extractive``);
3. asks the KB a round of questions through the RAG server, with the cloud provider first
   (a real OpenAI-compatible server on 127.0.0.1, ``cloud_stub.py``, that reports token
   usage as a cloud API does) — the provider column switches when the budget is spent;
4. tracks a KPI, the share of questions answered with a grounded answer, from the
   answers (``POST /api/v1/events`` does the same from outside), and its ROI;
5. prints ``prodline cost report --by provider`` and ``prodline cost compare --kb``.
"""

from __future__ import annotations

import time
from typing import Any

import openai
from cloud_stub import CloudStub  # the examples folder ships as one unit
from rich.console import Console
from rich.table import Table
from support_guards import cloud_gateway, openai_client

import prodline as pl

KB = "support-desk"
BUDGET = "support-desk-daily"
KPI = "grounded-answers"
PRICES = """
currency: USD
tokens:                              # USD per 1,000 tokens
  cloud-stub/stub: {input: 0.0025, output: 0.010}
  cloud-large/large: {input: 0.0150, output: 0.075}
  extractive/extractive: {input: 0, output: 0}
compute:                             # USD per hour of self-hosted compute
  cpu_core_hour: 0.05
  gpu_hour: 2.50
  memory_gb_hour: 0.006
"""
ROUTES = {  # what `prodline cost compare` reads from [llm] in prodline.toml
    "cloud-stub": {"model": "stub", "self_hosted": False},
    "cloud-large": {"model": "large", "self_hosted": False},
    "extractive": {"model": "extractive", "self_hosted": True},
}
QUESTIONS = [
    "How long do refunds take?",
    "How much does express delivery cost?",
    "Does the warranty cover water damage?",
    "Who handles escalated billing disputes?",
    "How many instances are in the iris dataset?",
    "What is the parental leave policy for our employees?",
]
console = Console()


def run(ws: pl.Workspace, *, servers: bool = True) -> None:
    """Prices, a budget, a KPI, a round of questions, the report and the comparison."""
    console.rule("[bold]10. costs: prices, a budget that routes, a KPI, what each route costs")
    version = ws.costs.prices.set(PRICES)
    console.print(f"price table v{version.version} (prodline cost prices show)", highlight=False)
    budget = _budget(ws)
    console.print(
        f"budget {budget.name}: KB {KB}, ${budget.amount_usd:.4f} a day, alert at "
        f"{budget.soft_share:.0%}, then route to {budget.route_to}",
        highlight=False,
    )
    if not any(k.name == KPI for k in ws.costs.kpis.list()):
        ws.costs.kpis.create(
            KPI,
            definition="share of questions answered with a grounded answer",
            source="events",
            aggregate="rate",
            baseline=0.6,
            target=0.8,
            direction="up",
            value_per_unit_usd=4.0,  # an agent's time saved per question answered
            window="day",
            subject=KB,
        )
    before = ws.kbs.get(KB).privacy
    ws.kbs.update(KB, privacy="redact")  # the cloud provider sees PII redacted
    try:
        with CloudStub() as stub, openai_client(ws, cloud_gateway(stub.url), servers) as client:
            _ask(ws, client, QUESTIONS * 2)
    finally:
        ws.kbs.update(KB, privacy=before)
    _alerts(ws)
    _kpi(ws)
    _report(ws)
    _compare(ws)


def _budget(ws: pl.Workspace) -> Any:
    for found in ws.costs.budgets.list():
        if found.name == BUDGET:
            return found
    return ws.costs.budgets.create(
        BUDGET,
        scope_kind="kb",
        scope=KB,
        period="day",
        amount_usd=0.008,
        soft_share=0.8,
        hard=True,
        on_exceed="route",
        route_to="extractive",
    )


def _ask(ws: pl.Workspace, client: openai.OpenAI, questions: list[str]) -> None:
    table = Table(title=f"{len(questions)} questions to {KB} (cloud-stub first)")
    for col in ("#", "question", "provider", "grounded", "spent", "why this provider"):
        table.add_column(col)
    events = []
    for n, question in enumerate(questions, start=1):
        reply = client.chat.completions.create(
            model=KB, messages=[{"role": "user", "content": question}], max_tokens=60
        )
        extra = reply.model_extra or {}
        score = (extra.get("groundedness") or {}).get("score")
        abstained = (extra.get("abstention") or {}).get("abstained")
        grounded = isinstance(score, int | float) and score >= 0.5 and not abstained
        events.append({"kpi": KPI, "value": 1.0 if grounded else 0.0, "source": "demo"})
        time.sleep(0.5)  # the server settles its spend off the request path
        spent = ws.costs.budgets.status(BUDGET)
        reason = str(extra.get("route_reason") or "").split(";")[0]
        table.add_row(
            str(n),
            question,
            str(extra.get("provider")),
            "yes" if grounded else "no",
            f"{spent.share:.0%}",
            reason if "budget" in reason else "",
        )
    console.print(table)
    console.print(
        "   a call goes to the cloud only while its worst case (its prompt and max_tokens at "
        "the cloud price) fits in what the budget has left; past that it is routed",
        highlight=False,
    )
    ws.costs.kpis.record_many(events)


def _alerts(ws: pl.Workspace) -> None:
    for alert in reversed(ws.alerts.list(limit=20)):  # oldest first
        if alert.kind.startswith("budget"):
            console.print(f"[yellow]alert[/] {alert.kind}: {alert.message}", highlight=False)


def _kpi(ws: pl.Workspace) -> None:
    today = ws.costs.kpis.series(KPI, windows=1)[-1]
    value = "-" if today.value is None else f"{today.value:.0%}"
    console.print(
        f"KPI {KPI}: {value} today over {today.n} questions (baseline 60%, target 80%: "
        f"{'met' if today.met else 'not met'}) — prodline kpi show {KPI}",
        highlight=False,
    )
    roi = ws.costs.kpis.roi(KPI, period="1d")
    console.print(
        f"ROI over the day: benefit ${roi.benefit_usd:.2f} against cost ${roi.cost_usd:.4f}, "
        f"net ${roi.net_usd:.2f}  ({roi.formula})",
        highlight=False,
    )


def _report(ws: pl.Workspace) -> None:
    report = ws.costs.report(by="provider", period="1d")
    table = Table(title="prodline cost report --by provider --period 1d")
    for col in ("provider", "requests", "input tokens", "output tokens", "CPU ms", "cost USD"):
        table.add_column(col, justify="right" if col != "provider" else "left")
    for row in report.groups:
        table.add_row(
            row.key if row.key not in ("", "(none)") else "(none: predictions)",
            str(row.requests),
            str(row.input_tokens),
            str(row.output_tokens),
            f"{row.cpu_ms:.0f}",
            f"{row.cost_usd:.6f}",
        )
    console.print(table)
    console.print(
        f"total ${report.total_usd:.6f}; price versions {report.price_versions}", highlight=False
    )


def _compare(ws: pl.Workspace) -> None:
    result = ws.costs.compare(kb=KB, period="1d", routes=ROUTES)
    table = Table(
        title=f"prodline cost compare --kb {KB} --period 1d: {result.requests} calls "
        f"({result.input_tokens} tokens in, {result.output_tokens} out), KB holds "
        f"{result.sensitivity}"
    )
    for col in ("route", "self-hosted", "per 1,000 requests", "p50 ms", "allowed"):
        table.add_column(col)
    for route in result.routes:
        per_1k = route.cost_per_1k_requests
        table.add_row(
            f"{route.route}/{route.model}",
            "yes" if route.self_hosted else "no",
            "unknown" if per_1k is None else f"${per_1k:.4f}",
            "-" if route.p50_latency_ms is None else f"{route.p50_latency_ms:.0f}",
            "yes" if route.allowed else f"no: {route.reason}",
        )
    console.print(table)


if __name__ == "__main__":  # after the demo: PRODLINE_HOME=... python examples/costs.py
    with pl.Workspace.open() as workspace:
        run(workspace)
