"""A cost report as one self-contained HTML page: inline CSS and SVG bar charts, no
scripts or assets fetched from anywhere, so it opens offline and can be mailed."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodline.cost.report import CostReport

__all__ = ["render_html", "write_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; }
td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.note { color: #a40; }
"""


def _bars(report: CostReport, width: int = 640) -> str:
    rows = report.groups[:20]
    top = max((r.cost_usd for r in rows), default=0.0) or 1.0
    height = 22 * len(rows) + 10
    parts = [
        f'<svg width="{width + 260}" height="{height}" '
        f'role="img" aria-label="cost by {escape(report.by)}">'
    ]
    for i, row in enumerate(rows):
        y = 5 + 22 * i
        bar = max(1.0, row.cost_usd / top * width) if row.cost_usd > 0 else 0.0
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12">{escape(row.key[:30])}</text>'
            f'<rect x="200" y="{y}" width="{bar:.1f}" height="16" fill="#3b7dd8"/>'
            f'<text x="{205 + bar:.1f}" y="{y + 13}" font-size="11">${row.cost_usd:,.4f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: CostReport) -> str:
    """The report as one HTML document (inline SVG; no external references)."""
    head = (
        "<th>"
        + "</th><th>".join(
            [
                report.by,
                "requests",
                "input tokens",
                "output tokens",
                "CPU ms",
                "cost USD",
                "unknown",
            ]
        )
        + "</th>"
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(v))}</td>"
            for v in (
                r.key,
                f"{r.requests:,}",
                f"{r.input_tokens:,}",
                f"{r.output_tokens:,}",
                f"{r.cpu_ms:,.1f}",
                f"{r.cost_usd:,.6f}",
                f"{r.unknown:,}",
            )
        )
        + "</tr>"
        for r in report.groups
    )
    notes = []
    if report.note:
        notes.append(report.note)
    notes.extend(
        f"no price for {m['route']} in price version {m['price_version']}" for m in report.missing
    )
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    versions = ", ".join(str(v) for v in report.price_versions) or "none"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>prodline costs by {escape(report.by)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>Costs by {escape(report.by)}</h1>"
        f"<p>{escape(report.start.isoformat())} to {escape(report.end.isoformat())}: "
        f"{report.requests:,} requests, ${report.total_usd:,.4f} known cost, "
        f"{report.unknown:,} of unknown cost; price versions: {escape(versions)}.</p>"
        f"{note_html}{_bars(report)}<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>\n"
    )


def write_html(report: CostReport, path: str | Path) -> Path:
    """Write ``render_html(report)`` to ``path``; the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target
