"""Server-rendered inline SVG charts: lines over time, histograms, the lineage graph.

No JavaScript and no chart library: each function returns an SVG string built from
escaped text, so pages stay fast, work offline and pass a strict CSP. Values that are
None (a run without that number) leave a gap in the line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from markupsafe import Markup, escape

__all__ = ["bars", "histogram", "lineage_graph", "line_chart"]

W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 24, 40
COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


def _svg(body: str, title: str, testid: str, width: int = W, height: int = H) -> Markup:
    return Markup(
        f'<svg class="chart" data-testid="{escape(testid)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="14" class="chart-title">{escape(title)}</text>{body}</svg>'
    )


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    threshold: float | None = None,
    testid: str = "chart-line",
) -> Markup:
    """One line per series over ``labels`` (x), with an optional dashed threshold line."""
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if threshold is not None:
        values.append(threshold)
    if not labels or not values:
        return _svg('<text x="48" y="110" class="chart-empty">no data yet</text>', title, testid)
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    n = len(labels)

    def x(i: int) -> float:
        return LEFT + (W - LEFT - RIGHT) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" class="tick" text-anchor="end">{_fmt(hi)}</text>',
        f'<text x="{LEFT - 4}" y="{H - BOTTOM}" class="tick" text-anchor="end">{_fmt(lo)}</text>',
    ]
    step = max(1, n // 6)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{H - BOTTOM + 14}" class="tick" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    if threshold is not None:
        ty = y(threshold)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{W - RIGHT}" y2="{ty:.1f}" class="threshold"/>'
        )
    for k, (name, points) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        segment: list[str] = []
        segments: list[list[str]] = [segment]
        for i, v in enumerate(points):
            if v is None or not math.isfinite(v):
                segment = []
                segments.append(segment)
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)} {escape(labels[i])}: {_fmt(v)}</title></circle>"
            )
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(seg)}"/>'
                )
        parts.append(
            f'<text x="{W - RIGHT - 4}" y="{TOP + 12 * (k + 1)}" class="legend" '
            f'text-anchor="end" fill="{color}">{escape(name)}</text>'
        )
    return _svg("".join(parts), title, testid)


def bars(
    title: str,
    labels: Sequence[str],
    counts: Sequence[float],
    *,
    testid: str = "chart-bars",
    ticks: Sequence[tuple[float, str]] | None = None,
) -> Markup:
    """Vertical bars, one per label (a categorical column's top values).

    ``ticks`` replaces the per-bar labels on the axis with (position in bars, text)
    marks, as a histogram's bin edges.
    """
    if not counts or max(counts) <= 0:
        return _svg('<text x="48" y="110" class="chart-empty">no values</text>', title, testid)
    top = max(counts)
    n = len(counts)
    width = (W - LEFT - RIGHT) / n
    axis = f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" class="axis"/>'
    parts = [axis]
    parts.append(
        f'<text x="{LEFT - 4}" y="{TOP + 4}" class="tick" text-anchor="end">{_fmt(top)}</text>'
    )
    for i, (label, count) in enumerate(zip(labels, counts, strict=False)):
        h = (H - TOP - BOTTOM) * count / top
        x0 = LEFT + i * width
        parts.append(
            f'<rect x="{x0 + 1:.1f}" y="{H - BOTTOM - h:.1f}" width="{max(width - 2, 1):.1f}" '
            f'height="{h:.1f}" class="bar"><title>{escape(label)}: {_fmt(count)}</title></rect>'
        )
        if ticks is None and (n <= 12 or i % max(1, n // 8) == 0):
            parts.append(
                f'<text x="{x0 + width / 2:.1f}" y="{H - BOTTOM + 14}" class="tick" '
                f'text-anchor="middle">{escape(str(label)[:12])}</text>'
            )
    for at, text in ticks or ():
        parts.append(
            f'<text x="{LEFT + at * width:.1f}" y="{H - BOTTOM + 14}" class="tick" '
            f'text-anchor="middle">{escape(text)}</text>'
        )
    return _svg("".join(parts), title, testid)


def histogram(
    title: str, edges: Sequence[float], counts: Sequence[int], *, testid: str = "chart-histogram"
) -> Markup:
    """A numeric column's stored histogram (``edges`` has one more entry than ``counts``)."""
    labels = [f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}" for i in range(len(counts))]
    step = max(1, len(counts) // 5)
    ticks = [(float(i), _fmt(edges[i])) for i in range(0, len(edges), step)]
    return bars(title, labels, [float(c) for c in counts], testid=testid, ticks=ticks)


NODE_W, NODE_H, COL_W, ROW_H = 170, 28, 210, 40


def lineage_graph(
    columns: Sequence[Sequence[str]], edges: Sequence[tuple[str, str, str]], center: str
) -> Markup:
    """Nodes in columns (sources left), edges as lines; each node links to its own graph.

    ``columns`` lists node ids per column; ``edges`` are (src, dst, relation) between
    nodes drawn here.
    """
    where: dict[str, tuple[float, float]] = {}
    rows = max((len(c) for c in columns), default=1)
    width = max(COL_W * len(columns), 240)
    height = max(ROW_H * rows + 40, 80)
    parts: list[str] = []
    for ci, column in enumerate(columns):
        for ri, node in enumerate(column):
            where[node] = (16 + ci * COL_W, 30 + ri * ROW_H)
    for src, dst, relation in edges:
        if src in where and dst in where:
            (x1, y1), (x2, y2) = where[src], where[dst]
            parts.append(
                f'<line x1="{x1 + NODE_W:.0f}" y1="{y1 + NODE_H / 2:.0f}" x2="{x2:.0f}" '
                f'y2="{y2 + NODE_H / 2:.0f}" class="edge"><title>{escape(relation)}</title></line>'
            )
    for node, (x0, y0) in where.items():
        kind = node.split(":", 1)[0]
        cls = "node node-center" if node == center else f"node node-{escape(kind)}"
        label = node if len(node) <= 26 else node[:25] + "…"
        parts.append(
            f'<a href="/lineage?node={quote(node, safe="")}" data-testid="lineage-node" '
            f'data-node="{escape(node)}"><rect x="{x0:.0f}" y="{y0:.0f}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="5" class="{cls}"/><text x="{x0 + 8:.0f}" '
            f'y="{y0 + 18:.0f}" class="node-label">{escape(label)}</text>'
            f"<title>{escape(node)}</title></a>"
        )
    return Markup(
        f'<svg class="lineage" data-testid="lineage-graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" role="img">'
        f"<title>lineage of {escape(center)}</title>{''.join(parts)}</svg>"
    )
