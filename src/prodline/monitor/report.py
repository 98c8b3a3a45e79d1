"""A monitor run's HTML report: one self-contained page whose charts are inline SVG.

The page has no script, stylesheet, font or image from anywhere else — no CDN, no
external URL at all (a test checks) — so it opens offline, from an e-mail attachment
or an air-gapped machine, exactly as it was when the run wrote it. Charts are drawn
here from plain data that the checks produce:

- ``distribution``: reference vs current shares of one column, as paired bars over
  shared bins (numeric) or categories (categorical); one per drifted column;
- ``series``: values over time (performance per window, groundedness share), with an
  optional threshold line.

Examples
--------
>>> import pandas as pd
>>> chart = distribution("amount", pd.Series([1.0, 2, 3, 4]), pd.Series([3.0, 4, 5, 6]), bins=4)
>>> chart["labels"][0], sum(chart["reference"])
('1 to 2.25', 1.0)
>>> "<svg" in render_report("m", {"status": "failed"}, [chart])
True
"""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["distribution", "render_report", "series"]

_W, _H, _PAD = 640, 220, 40
_REF, _CUR, _LINE = "#8da0cb", "#fc8d62", "#66c2a5"
_PALETTE = ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f")
_MAX_CATEGORIES = 20


def distribution(
    column: str, reference: pd.Series, current: pd.Series, *, bins: int = 20
) -> dict[str, Any]:
    """Reference and current shares of ``column`` over shared bins or categories."""
    import numpy as np
    import pandas as pd

    ref, cur = reference.dropna(), current.dropna()
    numeric = pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)
    numeric = numeric and not pd.api.types.is_bool_dtype(ref)
    if numeric and len(ref) + len(cur):
        both = np.concatenate([ref.to_numpy(float), cur.to_numpy(float)])
        lo, hi = float(np.min(both)), float(np.max(both))
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        shares = [
            (np.histogram(s.to_numpy(float), edges)[0] / max(len(s), 1)).tolist()
            for s in (ref, cur)
        ]
        labels = [f"{_num(a)} to {_num(b)}" for a, b in itertools.pairwise(edges)]
        return {
            "type": "distribution",
            "column": column,
            "kind": "numeric",
            "labels": labels,
            "reference": shares[0],
            "current": shares[1],
        }
    r, c = (
        ref.astype(str).value_counts(normalize=True),
        cur.astype(str).value_counts(normalize=True),
    )
    order = (r.add(c, fill_value=0)).sort_values(ascending=False).index[:_MAX_CATEGORIES]
    return {
        "type": "distribution",
        "column": column,
        "kind": "categorical",
        "labels": [str(k) for k in order],
        "reference": [float(r.get(k, 0.0)) for k in order],
        "current": [float(c.get(k, 0.0)) for k in order],
    }


def series(
    title: str,
    x: Sequence[str],
    values: Mapping[str, Sequence[float | None]],
    *,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Named lines over shared x labels (window ends), with an optional threshold."""
    return {
        "type": "series",
        "title": title,
        "x": list(x),
        "series": {k: list(v) for k, v in values.items()},
        "threshold": threshold,
    }


def render_report(
    title: str, summary: Mapping[str, Any], charts: Sequence[Mapping[str, Any]]
) -> str:
    """The whole page: a title, each check's verdict, the charts, and the summary JSON."""
    checks = summary.get("checks", {})
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class='{_e(c.get('status', ''))}'>"
        f"{_e(c.get('status', ''))}</td><td>{_e(c.get('message', ''))}</td></tr>"
        for name, c in checks.items()
    )
    figures = "".join(_figure(chart) for chart in charts)
    raw = json.dumps(summary, indent=2, default=str, sort_keys=True)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
        ".failed,.error{color:#b00;font-weight:bold}.passed{color:#070}.skipped{color:#777}"
        "figure{margin:1.5rem 0}pre{background:#f6f6f6;padding:1rem;overflow:auto}"
        "</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f"<p>status: <span class='{_e(summary.get('status', ''))}'>"
        f"{_e(summary.get('status', ''))}</span></p>"
        f"<table><tr><th>check</th><th>status</th><th>result</th></tr>{rows}</table>"
        f"{figures or '<p>No charts: nothing drifted and no performance was measured.</p>'}"
        f"<h2>Summary</h2><pre>{_e(raw)}</pre></body></html>"
    )


def _figure(chart: Mapping[str, Any]) -> str:
    if chart.get("type") == "distribution":
        caption = f"{chart['column']}: reference vs current ({chart['kind']})"
        svg = _bars(chart["labels"], chart["reference"], chart["current"])
    else:
        caption = str(chart.get("title", ""))
        svg = _lines(chart["x"], chart["series"], chart.get("threshold"))
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _svg(body: str, legend: Sequence[tuple[str, str]]) -> str:
    keys = "".join(
        f"<rect x='{_PAD + i * 130}' y='4' width='10' height='10' fill='{color}'/>"
        f"<text x='{_PAD + 14 + i * 130}' y='13' font-size='11'>{_e(name)}</text>"
        for i, (name, color) in enumerate(legend)
    )
    return (
        f"<svg width='{_W}' height='{_H}' "
        f"viewBox='0 0 {_W} {_H}' role='img'>{keys}"
        f"<line x1='{_PAD}' y1='{_H - _PAD}' x2='{_W - 10}' y2='{_H - _PAD}' stroke='#999'/>"
        f"<line x1='{_PAD}' y1='20' x2='{_PAD}' y2='{_H - _PAD}' stroke='#999'/>{body}</svg>"
    )


def _bars(labels: Sequence[str], ref: Sequence[float], cur: Sequence[float]) -> str:
    n = max(len(labels), 1)
    top = max([*ref, *cur, 1e-9])
    slot = (_W - _PAD - 10) / n
    width = max(slot / 2 - 1, 1)
    plot_h = _H - _PAD - 20
    parts = [f"<text x='2' y='24' font-size='10'>{top:.0%}</text>"]
    for i, label in enumerate(labels):
        x = _PAD + i * slot
        for j, (value, color) in enumerate(((ref[i], _REF), (cur[i], _CUR))):
            h = plot_h * value / top
            parts.append(
                f"<rect x='{x + j * width:.1f}' y='{_H - _PAD - h:.1f}' width='{width:.1f}' "
                f"height='{h:.1f}' fill='{color}'><title>{_e(label)}: {value:.1%}</title></rect>"
            )
        if n <= 12 or i % math.ceil(n / 12) == 0:
            parts.append(
                f"<text x='{x:.1f}' y='{_H - _PAD + 12}' font-size='9'>{_e(label[:14])}</text>"
            )
    return _svg("".join(parts), (("reference", _REF), ("current", _CUR)))


def _lines(
    x: Sequence[str], lines: Mapping[str, Sequence[float | None]], threshold: float | None
) -> str:
    values = [v for vs in lines.values() for v in vs if v is not None and math.isfinite(v)]
    if threshold is not None:
        values.append(threshold)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(len(x), 2)
    plot_h = _H - _PAD - 20

    def px(i: int) -> float:
        return _PAD + i * (_W - _PAD - 20) / (n - 1)

    def py(v: float) -> float:
        return _H - _PAD - plot_h * (v - lo) / (hi - lo)

    parts = [
        f"<text x='2' y='24' font-size='10'>{_num(hi)}</text>",
        f"<text x='2' y='{_H - _PAD}' font-size='10'>{_num(lo)}</text>",
    ]
    legend = []
    for k, (name, vs) in enumerate(lines.items()):
        color = _PALETTE[k % len(_PALETTE)]
        legend.append((name, color))
        points = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None and math.isfinite(v)]
        if points:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            parts.append(
                f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='2'/>"
            )
            parts.extend(
                f"<circle cx='{a:.1f}' cy='{b:.1f}' r='3' fill='{color}'/>" for a, b in points
            )
    if threshold is not None:
        y = py(threshold)
        parts.append(
            f"<line x1='{_PAD}' y1='{y:.1f}' x2='{_W - 20}' y2='{y:.1f}' stroke='#b00' "
            f"stroke-dasharray='4 3'><title>threshold {_num(threshold)}</title></line>"
        )
    for i in (0, len(x) - 1) if x else ():
        parts.append(f"<text x='{px(i) - 20:.1f}' y='{_H - 8}' font-size='9'>{_e(x[i])}</text>")
    return _svg("".join(parts), legend)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
