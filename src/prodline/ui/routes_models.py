"""Overview, models (versions, gates, evidence, aliases, rollback) and the lineage graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prodline.errors import InvalidInput, NotFound, ProdlineError
from prodline.ui.charts import lineage_graph
from prodline.ui.registry_view import recent_moves
from prodline.ui.web import UI, Ctx, read_form, redirect

__all__ = ["add_model_routes"]

MAX_PER_COLUMN = 25


def add_model_routes(router: APIRouter, ui: UI) -> None:
    """``/``, ``/models``, ``/models/{name}``, its rollback action, and ``/lineage``."""

    @router.get("/", include_in_schema=False)
    def overview(request: Request) -> Response:
        return ui.page(request, _overview)

    @router.get("/models", include_in_schema=False)
    def models_page(request: Request) -> Response:
        return ui.page(request, _models)

    @router.get("/models/{name}", include_in_schema=False)
    def model_page(request: Request, name: str) -> Response:
        return ui.page(request, lambda ctx: _model(ctx, name))

    @router.post("/models/{name}/aliases/{alias}/rollback", include_in_schema=False)
    async def rollback(request: Request, name: str, alias: str) -> Response:
        form = await read_form(request)

        def act(ctx: Ctx, _: Mapping[str, str]) -> Response:
            mv = ctx.ws.rollback(name, alias)
            ctx.flash(f"Rolled back {name}@{alias} to version {mv.version}.")
            return redirect(f"/models/{quote(name, safe='')}")

        return await _in_thread(lambda: ui.action(request, form, act))

    @router.get("/lineage", include_in_schema=False)
    def lineage_page(request: Request) -> Response:
        return ui.page(request, _lineage)


async def _in_thread(fn: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    response: Response = await run_in_threadpool(fn)
    return response


def _overview(ctx: Ctx) -> Response:
    ws = ctx.ws
    health: Any = None
    try:
        health = ws.reviews.health()
    except (ImportError, ProdlineError, AttributeError):  # the review part may be absent
        health = None
    return ctx.render(
        "overview.html",
        models=ws.models.page(offset=0, size=20)[0],
        kbs=ws.kbs.list()[:20],
        monitors=ws.monitors.list()[:20],
        alerts=ws.alerts.list(limit=10),
        events=ws.audit.events(limit=10),
        health=health,
    )


def _models(ctx: Ctx) -> Response:
    page = ctx.paging()
    shown, total = ctx.ws.models.page(offset=page.offset, size=page.size)
    return ctx.render("models.html", models=shown, page=page, total=total)


def _model(ctx: Ctx, name: str) -> Response:
    ws = ctx.ws
    page = ctx.paging(default_size=20)
    model = ws.models.model(name)
    shown, total = ws.models.version_page(model.name, offset=page.offset, size=page.size)
    raw = ctx.query("version")
    selected = None
    if raw is not None:
        if not raw.isdigit():
            raise InvalidInput(f"version must be a version number, got {raw!r}.", field="version")
        selected = ws.models.get(name, int(raw))
    elif model.latest_version:
        selected = shown[0] if page.page == 1 and shown else ws.models.get(name, "latest")
    gate: Any = None
    evidence = None
    if selected is not None:
        try:
            gate = ws.gates.status(selected.ref)
        except ProdlineError as exc:
            gate = exc
        evidence = ws.evidence.list(f"model:{selected.ref}", last=20)[::-1]
    histories = {a: recent_moves(ws, name, a) for a in sorted(model.aliases)}
    metric_names = sorted({k for v in shown for k in v.metrics})[:6]
    return ctx.render(
        "model.html",
        model=model,
        versions=shown,
        page=page,
        total=total,
        metric_names=metric_names,
        selected=selected,
        gate=gate,
        evidence=evidence,
        histories=histories,
        can_rollback=ctx.can("model.rollback"),
    )


def _lineage(ctx: Ctx) -> Response:
    node = ctx.query("node")
    if node is None:
        shown = ctx.ws.models.page(offset=0, size=50)[0]
        return ctx.render("lineage.html", node=None, graph=None, models=shown)
    if ":" not in node or len(node) > 500:
        raise InvalidInput(
            f"node must look like model:NAME@VERSION or dataset:NAME@VERSION, got {node!r}.",
            field="node",
        )
    tree = ctx.ws.lineage.upstream(node, max_depth=6)
    downstream = ctx.ws.lineage.downstream(node)
    if not tree.parents and not downstream and not _exists(ctx, node):
        raise NotFound(f"Lineage node {node!r} has no edges; open a model or dataset page.")
    depth_of: dict[str, int] = {}
    edges: list[tuple[str, str, str]] = []

    def visit(item: Any, depth: int) -> None:
        for parent in item.parents:
            edges.append((parent.id, item.id, parent.relation))
            if depth + 1 > depth_of.get(parent.id, -1):
                depth_of[parent.id] = depth + 1
            visit(parent, depth + 1)

    visit(tree, 0)
    levels = max(depth_of.values(), default=0)
    columns: list[list[str]] = [[] for _ in range(levels + 1)]
    for n, d in sorted(depth_of.items()):
        if len(columns[levels - d]) < MAX_PER_COLUMN:
            columns[levels - d].append(n)
    columns[levels] = [node]
    right = [dst for dst, _ in downstream][:MAX_PER_COLUMN]
    if right:
        columns.append(right)
        edges.extend((node, dst, rel) for dst, rel in downstream)
    return ctx.render(
        "lineage.html",
        node=node,
        graph=lineage_graph(columns, edges, node),
        upstream=[n for n in depth_of],
        downstream=downstream,
        models=[],
    )


def _exists(ctx: Ctx, node: str) -> bool:
    kind, _, rest = node.partition(":")
    name, _, ref = rest.rpartition("@")
    try:
        if kind == "model" and name:
            ctx.ws.models.get(name, int(ref) if ref.isdigit() else ref)
            return True
        if kind == "dataset" and name:
            ctx.ws.datasets.get(name, int(ref) if ref.isdigit() else ref)
            return True
    except ProdlineError:
        return False
    return False
