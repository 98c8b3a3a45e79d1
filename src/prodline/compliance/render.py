"""Render a :class:`~prodline.compliance.annex4.Document` as Markdown, HTML or PDF.

Every statement ends with a reference to its audit event (``[#42]``), which links to
the evidence index at the end: the event's time, actor, action, subject and hash, so a
reader can check it with ``prodline audit log`` / ``prodline audit verify``. PDF is
written with fpdf2 (pure Python, imported only for ``--format pdf``) in its core
Helvetica font, which covers Latin-1: other characters are transliterated.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from prodline.compliance.annex4 import Document
from prodline.errors import InvalidInput

__all__ = ["FORMATS", "render"]

FORMATS = ("md", "html", "pdf")


def render(doc: Document, fmt: str) -> bytes:
    """The document in ``fmt`` (``md``, ``html`` or ``pdf``) as bytes."""
    writers: dict[str, Callable[[Document], bytes]] = {
        "md": lambda d: markdown(d).encode(),
        "html": lambda d: to_html(d).encode(),
        "pdf": to_pdf,
    }
    if fmt not in writers:
        raise InvalidInput(
            f"Unknown format '{fmt}'; choose one of {', '.join(FORMATS)}.", field="format"
        )
    return writers[fmt](doc)


def _header(doc: Document) -> list[str]:
    audit = doc.audit
    return [
        f"Generated {doc.generated_at} by {doc.generated_by} from the workspace's recorded "
        "evidence only; every statement cites the audit event it rests on.",
        f"Audit log at generation: {audit.get('message')} (head event #{audit.get('head')}).",
    ]


def markdown(doc: Document) -> str:
    """Markdown: sections, the model card, the gaps and the evidence index."""
    out = [f"# Technical documentation: {doc.ref}", "", "*EU AI Act, Annex IV structure*", ""]
    out += [*_header(doc), ""]
    out += ["## Model card", "", "| field | value | event |", "|---|---|---|"]
    for name, value, event in doc.card:
        ref = f"[#{event}](#event-{event})" if event else "-"
        out.append(f"| {name} | {value.replace('|', '/')} | {ref} |")
    out.append("")
    for number, section in enumerate(doc.sections, 1):
        out += [f"## {number}. {section.title}", "", f"*{section.provision}*", ""]
        for st in section.statements:
            out.append(f"- {st.text} [#{st.event}](#event-{st.event})")
        for gap in section.gaps:
            out.append(f"- **Gap:** {gap}")
        out.append("")
    out += ["## Gaps", ""]
    gaps = doc.gaps
    out += [f"- {title}: {gap}" for title, gap in gaps] or ["- none"]
    out += ["", "## Evidence index (audit events cited)", ""]
    out += ["| # | time (UTC) | actor | action | subject | hash |", "|---|---|---|---|---|---|"]
    for seq, e in sorted(doc.events.items()):
        out.append(
            f'| <a id="event-{seq}"></a>{seq} | {e["ts"][:19]} | {e["actor"]} | '
            f"{e['action']} | {e['subject']} | {e['hash'][:16]} |"
        )
    return "\n".join(out) + "\n"


def to_html(doc: Document) -> str:
    """A self-contained HTML page (no scripts, no external assets)."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Technical documentation: {e(doc.ref)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "line-height:1.45}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem;text-align:left}.gap{color:#a40000}.prov{color:#555}"
        "a.ev{font-size:.85em}</style></head><body>",
        f"<h1>Technical documentation: {e(doc.ref)}</h1>",
        "<p class='prov'>EU AI Act, Annex IV structure</p>",
        *(f"<p>{e(line)}</p>" for line in _header(doc)),
        "<h2 id='model-card'>Model card</h2><table><tr><th>field</th><th>value</th>"
        "<th>event</th></tr>",
    ]
    for name, value, event in doc.card:
        ref = f"<a class='ev' href='#event-{event}'>#{event}</a>" if event else "-"
        parts.append(f"<tr><td>{e(name)}</td><td>{e(value)}</td><td>{ref}</td></tr>")
    parts.append("</table>")
    for number, section in enumerate(doc.sections, 1):
        parts.append(f"<h2 id='{e(section.key)}'>{number}. {e(section.title)}</h2>")
        parts.append(f"<p class='prov'>{e(section.provision)}</p><ul>")
        for st in section.statements:
            parts.append(
                f"<li>{e(st.text)} <a class='ev' href='#event-{st.event}'>#{st.event}</a></li>"
            )
        for gap in section.gaps:
            parts.append(f"<li class='gap'><strong>Gap:</strong> {e(gap)}</li>")
        parts.append("</ul>")
    parts.append("<h2 id='gaps'>Gaps</h2><ul>")
    parts += [f"<li class='gap'>{e(t)}: {e(g)}</li>" for t, g in doc.gaps] or ["<li>none</li>"]
    parts.append(
        "</ul><h2 id='events'>Evidence index (audit events cited)</h2><table><tr><th>#</th>"
        "<th>time (UTC)</th><th>actor</th><th>action</th><th>subject</th><th>hash</th></tr>"
    )
    for seq, ev in sorted(doc.events.items()):
        parts.append(
            f"<tr id='event-{seq}'><td>{seq}</td><td>{e(ev['ts'][:19])}</td>"
            f"<td>{e(ev['actor'])}</td><td>{e(ev['action'])}</td><td>{e(ev['subject'])}</td>"
            f"<td><code>{e(ev['hash'][:16])}</code></td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


_TRANSLIT = str.maketrans({"→": "->", "≥": ">=", "≤": "<=", "–": "-", "—": "-", "…": "..."})


def _latin1(text: str) -> str:
    return text.translate(_TRANSLIT).encode("latin-1", "replace").decode("latin-1")


def to_pdf(doc: Document) -> bytes:
    """A PDF with the same content; each ``#N`` links to its row in the evidence index."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_latin1(f"Technical documentation: {doc.ref}"))
    pdf.add_page()
    links: dict[int, int] = {seq: pdf.add_link() for seq in doc.events}
    width = pdf.epw

    def para(text: str, *, size: float = 10, style: str = "", link: int | None = None) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        if link is not None and link in links:
            pdf.set_font("Helvetica", "U", 8)
            pdf.cell(0, 4, f"audit event #{link}", link=links[link], new_x="LMARGIN", new_y="NEXT")

    para(f"Technical documentation: {doc.ref}", size=16, style="B")
    para("EU AI Act, Annex IV structure", size=9, style="I")
    for line in _header(doc):
        para(line, size=9)
    pdf.ln(2)
    para("Model card", size=13, style="B")
    for name, value, event in doc.card:
        para(f"{name}: {value}", size=9, link=event)
    for number, section in enumerate(doc.sections, 1):
        pdf.ln(2)
        para(f"{number}. {section.title}", size=13, style="B")
        para(section.provision, size=8, style="I")
        for st in section.statements:
            para(f"- {st.text}", size=9, link=st.event)
        for gap in section.gaps:
            para(f"- GAP: {gap}", size=9, style="B")
    pdf.ln(2)
    para("Gaps", size=13, style="B")
    for title, gap in doc.gaps or [("", "none")]:
        para(f"- {title}: {gap}" if title else "- none", size=9)
    pdf.add_page()
    para("Evidence index (audit events cited)", size=13, style="B")
    for seq, ev in sorted(doc.events.items()):
        pdf.set_link(links[seq], y=pdf.get_y())
        para(
            f"#{seq}  {ev['ts'][:19]}  {ev['actor']}  {ev['action']}  {ev['subject']}  "
            f"hash {ev['hash'][:16]}",
            size=8,
        )
    return bytes(pdf.output())
