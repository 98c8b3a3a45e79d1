"""Datasets (schema, profile histograms, sensitivity tags) and knowledge bases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from prodline.errors import InvalidInput, ProdlineError
from prodline.ui.charts import bars, histogram
from prodline.ui.web import UI, Ctx

__all__ = ["add_data_routes"]

MAX_CHARTS = 40


def add_data_routes(router: APIRouter, ui: UI) -> None:
    """``/datasets``, ``/datasets/{name}``, ``/kbs``, ``/kbs/{name}``."""

    @router.get("/datasets", include_in_schema=False)
    def datasets_page(request: Request) -> Response:
        return ui.page(request, _datasets)

    @router.get("/datasets/{name}", include_in_schema=False)
    def dataset_page(request: Request, name: str) -> Response:
        return ui.page(request, lambda ctx: _dataset(ctx, name))

    @router.get("/kbs", include_in_schema=False)
    def kbs_page(request: Request) -> Response:
        return ui.page(request, _kbs)

    @router.get("/kbs/{name}", include_in_schema=False)
    def kb_page(request: Request, name: str) -> Response:
        return ui.page(request, lambda ctx: _kb(ctx, name))


def _datasets(ctx: Ctx) -> Response:
    page = ctx.paging()
    everything = ctx.ws.datasets.list()
    return ctx.render(
        "datasets.html",
        datasets=everything[page.offset : page.offset + page.size],
        page=page,
        total=len(everything),
    )


def _dataset(ctx: Ctx, name: str) -> Response:
    raw = ctx.query("version")
    if raw is not None and not raw.isdigit():
        raise InvalidInput(f"version must be a version number, got {raw!r}.", field="version")
    dv = ctx.ws.datasets.get(name, int(raw) if raw else None)
    versions = [v.version for v in ctx.ws.datasets.versions(name)][::-1][:50]
    columns = dv.profile.get("columns", {}) if isinstance(dv.profile, dict) else {}
    charts: dict[str, Markup] = {}
    for column, prof in list(columns.items())[:MAX_CHARTS]:
        chart = _column_chart(column, prof)
        if chart is not None:
            charts[column] = chart
    return ctx.render(
        "dataset.html",
        dv=dv,
        versions=versions,
        columns=columns,
        charts=charts,
        node=f"dataset:{dv.ref}",
    )


def _column_chart(column: str, prof: Any) -> Markup | None:
    """A column's chart: its top values when the profile keeps them (categories, codes),
    else its numeric histogram."""
    if not isinstance(prof, dict):
        return None
    top = prof.get("top")
    if isinstance(top, dict) and top.get("counts"):
        labels = [str(v) for v in top.get("values", [])]
        counts = [float(c) for c in top["counts"]]
        if top.get("other"):
            labels.append("other")
            counts.append(float(top["other"]))
        return bars(column, labels, counts, testid="profile-histogram")
    hist = prof.get("histogram")
    if isinstance(hist, dict) and hist.get("counts"):
        return histogram(column, hist["edges"], hist["counts"], testid="profile-histogram")
    return None


def _kbs(ctx: Ctx) -> Response:
    page = ctx.paging()
    everything = ctx.ws.kbs.list()
    return ctx.render(
        "kbs.html",
        kbs=everything[page.offset : page.offset + page.size],
        page=page,
        total=len(everything),
    )


def _kb(ctx: Ctx, name: str) -> Response:
    kb = ctx.ws.kbs.get(name)
    page = ctx.paging()
    sources = ctx.ws.kbs.sources(name)
    try:
        gate: Any = ctx.ws.gates.kb_status(name)
    except ProdlineError as exc:
        gate = exc
    return ctx.render(
        "kb.html",
        kb=kb,
        sources=sources[page.offset : page.offset + page.size],
        page=page,
        total=len(sources),
        gate=gate,
    )
