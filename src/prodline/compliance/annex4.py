"""Technical documentation in the structure of Annex IV, built only from recorded facts.

:func:`build` takes a :class:`Facts` bundle (what the registry, the evidence log, the
audit log, lineage and monitors hold about one model version, gathered by
``Compliance``) and writes each section as *statements*, each resting on one audit
event (its ``seq``), or as *gaps*: what the section needs and nobody recorded, with the
command that would record it. Nothing is inferred or typed in by hand: a section with
no evidence says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SECTIONS", "Document", "Facts", "Section", "Statement", "build"]

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("purpose", "General description and intended purpose", "Annex IV(1)(a)"),
    ("data", "Data, lineage and sensitivity", "Annex IV(2)(d)"),
    ("training", "Development and training", "Annex IV(2)(a)-(c)"),
    ("metrics", "Validation, testing and metrics", "Annex IV(2)(g), IV(4)"),
    ("fairness", "Fairness audit: accuracy for groups of persons", "Annex IV(3), Art. 10(2)(f)"),
    ("poisoning", "Data-poisoning scan and robustness", "Annex IV(2)(h), Art. 15(5)"),
    ("oversight", "Human oversight measures", "Annex IV(2)(e), Art. 14"),
    ("risk", "Risk classification and risk management", "Annex IV(5), Art. 9, Annex III"),
    ("changes", "Changes through the lifecycle", "Annex IV(6)"),
    ("monitoring", "Post-market monitoring plan", "Annex IV(9), Art. 72"),
    ("logging", "Record-keeping and logging", "Art. 12, Art. 19"),
    ("standards", "Harmonised standards and declaration of conformity", "Annex IV(7)-(8)"),
)
"""(key, title, provision) of each section, in document order."""


@dataclass(frozen=True)
class Statement:
    """One documented fact and the audit event (``seq``) it rests on."""

    text: str
    event: int


@dataclass(frozen=True)
class Section:
    """A section: its statements and the evidence it lacks."""

    key: str
    title: str
    provision: str
    statements: tuple[Statement, ...]
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    """What is recorded about one model version, as plain data (see ``Compliance``)."""

    model: Mapping[str, Any]
    version: Mapping[str, Any]
    versions: Sequence[Mapping[str, Any]]
    datasets: Sequence[Mapping[str, Any]]
    evidence: Sequence[Mapping[str, Any]]  # each with "event": its audit seq
    events: Sequence[Mapping[str, Any]]  # audit events about the model and its data
    monitors: Sequence[Mapping[str, Any]]
    retention: Mapping[str, Any] | None
    audit: Mapping[str, Any]  # {"ok", "events", "message", "head"}


@dataclass(frozen=True)
class Document:
    """The generated documentation: sections, the model card, and the events cited."""

    model: str
    version: int
    generated_at: str
    generated_by: str
    audit: Mapping[str, Any]
    sections: tuple[Section, ...]
    card: tuple[tuple[str, str, int | None], ...]
    events: Mapping[int, Mapping[str, Any]] = field(hash=False)

    @property
    def ref(self) -> str:
        """``model@version``."""
        return f"{self.model}@{self.version}"

    @property
    def gaps(self) -> list[tuple[str, str]]:
        """(section title, gap) of every section, in document order."""
        return [(s.title, g) for s in self.sections for g in s.gaps]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "version": self.version,
            "generated_at": self.generated_at,
            "generated_by": self.generated_by,
            "audit": dict(self.audit),
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "provision": s.provision,
                    "statements": [{"text": t.text, "event": t.event} for t in s.statements],
                    "gaps": list(s.gaps),
                }
                for s in self.sections
            ],
            "model_card": [{"field": f, "value": v, "event": e} for f, v, e in self.card],
            "events": {str(k): dict(v) for k, v in sorted(self.events.items())},
        }


def _scalars(summary: Mapping[str, Any], limit: int = 8) -> str:
    """The summary's top-level numbers, booleans and short texts, as ``k=v`` pairs."""
    parts: list[str] = []
    for key, value in summary.items():
        if isinstance(value, Mapping) and key not in ("report", "thresholds"):
            nested = _scalars({f"{key}.{k}": v for k, v in value.items()}, limit - len(parts))
            parts += [nested] if nested else []
        elif isinstance(value, bool) or value is None:
            parts.append(f"{key}={value}")
        elif isinstance(value, int | float):
            parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
        elif isinstance(value, str) and len(value) <= 80:
            parts.append(f"{key}={value}")
        if len(parts) >= limit:
            break
    return ", ".join(parts)


def _verdict(passed: bool | None) -> str:
    return {True: "passed", False: "failed", None: "recorded"}[passed]


class _Writer:
    """Collects statements and gaps per section while reading the facts."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.statements: dict[str, list[Statement]] = {k: [] for k, _, _ in SECTIONS}
        self.gaps: dict[str, list[str]] = {k: [] for k, _, _ in SECTIONS}
        self.cited: set[int] = set()

    def say(self, section: str, text: str, event: int | None) -> None:
        if event is None:  # a fact without its audit event is not documented, it is a gap
            self.gaps[section].append(f"{text} (no audit event records it)")
            return
        self.statements[section].append(Statement(text, int(event)))
        self.cited.add(int(event))

    def gap(self, section: str, text: str) -> None:
        self.gaps[section].append(text)

    def event(self, action: str, subject: str | None = None) -> Mapping[str, Any] | None:
        """The newest event with ``action`` (and ``subject``), or None."""
        found = [
            e
            for e in self.facts.events
            if e["action"] == action and (subject is None or e["subject"] == subject)
        ]
        return max(found, key=lambda e: e["seq"]) if found else None

    def evidence(self, *kinds: str) -> list[Mapping[str, Any]]:
        return [e for e in self.facts.evidence if e["kind"] in kinds]


def build(facts: Facts, *, generated_at: str, generated_by: str) -> Document:
    """Write every Annex IV section and the model card from ``facts``."""
    w = _Writer(facts)
    mv, rm = facts.version, facts.model
    name, version = str(mv["name"]), int(mv["version"])
    registered = w.event("model.registered", f"model:{name}@{version}")
    reg_seq = registered["seq"] if registered else None
    _purpose(w, name, rm, mv, reg_seq)
    _data(w, reg_seq)
    _training(w, mv, reg_seq)
    _metrics(w, mv, reg_seq)
    _checks(w)
    _oversight(w, name)
    _changes(w, name)
    _monitoring(w)
    _logging(w, name)
    sections = tuple(
        Section(key, title, provision, tuple(w.statements[key]), tuple(w.gaps[key]))
        for key, title, provision in SECTIONS
    )
    card = _card(w, name, version, rm, mv, reg_seq)
    cited = {int(e["seq"]): e for e in facts.events if int(e["seq"]) in w.cited}
    return Document(name, version, generated_at, generated_by, facts.audit, sections, card, cited)


def _classification(w: _Writer) -> Mapping[str, Any] | None:
    found = w.evidence("compliance:classification")
    return found[-1] if found else None


def _purpose(
    w: _Writer, name: str, rm: Mapping[str, Any], mv: Mapping[str, Any], reg: int | None
) -> None:
    created = w.event("model.created", f"model:{name}")
    if created is not None:
        w.say(
            "purpose", f"Registered model '{name}', created by {created['actor']}.", created["seq"]
        )
    if rm.get("owner"):
        w.say("purpose", f"Owner: {rm['owner']}.", created["seq"] if created else reg)
    if rm.get("description"):
        w.say("purpose", f"Description: {rm['description']}.", created["seq"] if created else reg)
    if mv.get("description"):
        w.say("purpose", f"This version: {mv['description']}.", reg)
    cls = _classification(w)
    if cls is None:
        w.gap(
            "purpose",
            f"No intended purpose recorded: run `prodline compliance classify {name}`.",
        )
        w.gap("risk", f"No Annex III classification: run `prodline compliance classify {name}`.")
        return
    s = cls["summary"]
    w.say("purpose", f"Intended purpose: {s.get('purpose')}.", cls["event"])
    w.say(
        "risk",
        f"Annex III questionnaire ({s.get('questionnaire')}) answered by {cls['created_by']}: "
        f"risk class {s.get('risk_class')}.",
        cls["event"],
    )
    for reason in s.get("reasons", []):
        w.say(
            "risk",
            f"{reason.get('article')}: {reason.get('why')} ({reason.get('question')}).",
            cls["event"],
        )


def _data(w: _Writer, reg: int | None) -> None:
    if not w.facts.datasets:
        w.gap("data", "No training dataset version is recorded for this version (--trained-on).")
        return
    for ds in w.facts.datasets:
        ref = ds["ref"]
        event = w.event("dataset.registered", f"dataset:{ref}")
        seq = event["seq"] if event else None
        w.say("data", f"Trained on {ref}, registered by {ds.get('created_by')}.", reg)
        w.say(
            "data",
            f"{ref}: {ds.get('rows')} rows, sha256 {str(ds.get('content_sha256'))[:16]}, "
            f"source '{ds.get('source')}', owner {ds.get('owner')}.",
            seq,
        )
        sensitive = {
            c: s for c, s in (ds.get("sensitivity") or {}).items() if s.get("level") != "none"
        }
        if sensitive:
            tags = ", ".join(
                f"{c} ({s.get('level')}: {', '.join(s.get('kinds', []))})"
                for c, s in sorted(sensitive.items())
            )
            w.say("data", f"{ref} sensitive columns found by the scan: {tags}.", seq)
        else:
            w.say("data", f"{ref}: the sensitivity scan flagged no PII/PHI column.", seq)
    justified = w.evidence("gate:justification")
    has_sensitive = any(
        s.get("level") != "none"
        for ds in w.facts.datasets
        for s in (ds.get("sensitivity") or {}).values()
    )
    for e in justified:
        reason = e["summary"].get("reason")
        w.say(
            "data",
            f"Use of sensitive columns justified by {e['created_by']}: {reason}.",
            e["event"],
        )
    if has_sensitive and not justified:
        w.gap(
            "data",
            "Sensitive columns are used without a recorded justification "
            "(`prodline gate justify`).",
        )


def _training(w: _Writer, mv: Mapping[str, Any], reg: int | None) -> None:
    w.say(
        "training",
        f"Version {mv['version']} registered by {mv.get('created_by')}: flavor {mv.get('flavor')}, "
        f"artifact sha256 {str(mv.get('artifact'))[:16]}.",
        reg,
    )
    params = mv.get("params") or {}
    if params:
        w.say("training", f"Parameters: {_scalars(params, 12)}.", reg)
    if mv.get("git_commit"):
        w.say("training", f"Code version (git commit): {mv['git_commit']}.", reg)
    else:
        w.gap("training", "The code version (git commit) that trained it was not recorded.")
    signature = mv.get("signature") or []
    if signature:
        cols = ", ".join(f"{c.get('name')}:{c.get('type')}" for c in signature)
        w.say("training", f"Input signature: {cols}.", reg)


def _metrics(w: _Writer, mv: Mapping[str, Any], reg: int | None) -> None:
    metrics = mv.get("metrics") or {}
    if metrics:
        w.say("metrics", f"Metrics reported at registration: {_scalars(metrics, 12)}.", reg)
    evaluations = w.evidence("gate:evaluation")
    for e in evaluations:
        w.say(
            "metrics",
            f"Evaluation gate {_verdict(e['passed'])} ({e['created_at'][:19]}): "
            f"{_scalars(e['summary'])}.",
            e["event"],
        )
    if not evaluations:
        w.gap("metrics", "No evaluation on a named holdout is recorded (`prodline gate check`).")


def _checks(w: _Writer) -> None:
    for section, kind, what in (
        ("fairness", "gate:fairness", "fairness audit"),
        ("poisoning", "gate:poisoning", "data-poisoning scan"),
    ):
        found = w.evidence(kind)
        for e in found:
            w.say(
                section,
                f"The {what} {_verdict(e['passed'])} ({e['created_at'][:19]}, "
                f"by {e['created_by']}): {_scalars(e['summary'])}.",
                e["event"],
            )
            report = e["summary"].get("report")
            for grouping in report.get("groupings", []) if isinstance(report, Mapping) else []:
                small = grouping.get("too_small_groups") or []
                w.say(
                    section,
                    f"{grouping.get('name')}: {_scalars(grouping)}"
                    + (f"; groups under the minimum size: {len(small)}" if small else "")
                    + ".",
                    e["event"],
                )
            for reason in e["summary"].get("reasons") or []:
                w.say(section, f"Finding: {reason}.", e["event"])
        if not found:
            w.gap(section, f"No {what} is recorded for this version (`prodline gate check`).")
    for e in w.evidence("gate:sensitivity"):
        w.say(
            "data",
            f"Sensitivity gate {_verdict(e['passed'])}: {_scalars(e['summary'])}.",
            e["event"],
        )
    decisions = w.evidence("gate:decision")
    for e in decisions:
        w.say(
            "risk",
            f"Gate decision {_verdict(e['passed'])} for alias '{e['summary'].get('alias')}' "
            f"under policy {e['summary'].get('policy')}.",
            e["event"],
        )
    if not decisions:
        w.gap("risk", "No promotion-gate decision is recorded for this version.")
    for kind, label in (
        ("compliance:standards", "Harmonised standards applied"),
        ("compliance:declaration", "EU declaration of conformity"),
    ):
        found = w.evidence(kind)
        for e in found:
            w.say("standards", f"{label}: {_scalars(e['summary'])}.", e["event"])
        if not found:
            w.gap("standards", f"{label}: not recorded (evidence kind '{kind}').")


def _oversight(w: _Writer, name: str) -> None:
    approvals = w.evidence("gate:approval")
    for e in approvals:
        w.say(
            "oversight",
            f"Human sign-off by {e['created_by']} (four-eyes: not the registrant): "
            f"{e['summary'].get('note', '')}.",
            e["event"],
        )
    if not approvals:
        w.gap("oversight", "No reviewer sign-off is recorded (`prodline gate approve`).")
    for e in w.evidence("gate:override"):
        w.say(
            "oversight",
            f"Gate override by {e['created_by']} to '{e['summary'].get('alias')}': "
            f"{e['summary'].get('reason')}.",
            e["event"],
        )
    for e in w.facts.events:
        if e["action"].endswith("_refused") and e["action"].startswith("alias."):
            reasons = "; ".join(e["payload"].get("reasons", []))[:300]
            w.say(
                "oversight",
                f"Promotion of v{e['payload'].get('to_version')} to {e['subject'].split('@')[-1]} "
                f"refused by the policy ({e['actor']}): {reasons}.",
                e["seq"],
            )


def _changes(w: _Writer, name: str) -> None:
    for e in w.facts.events:
        action, payload = e["action"], e["payload"]
        if action == "model.registered":
            w.say(
                "changes",
                f"{e['ts'][:19]} {e['subject'].removeprefix('model:')} registered by {e['actor']}.",
                e["seq"],
            )
        elif action in ("alias.promote", "alias.rollback"):
            alias = e["subject"].rsplit("@", 1)[-1]
            w.say(
                "changes",
                f"{e['ts'][:19]} {action.split('.')[1]} {alias}: v{payload.get('from_version')} "
                f"→ v{payload.get('to_version')} by {e['actor']}.",
                e["seq"],
            )
        elif action in ("model.updated", "model.archived"):
            w.say(
                "changes",
                f"{e['ts'][:19]} {action} by {e['actor']}: {_scalars(payload.get('to', payload))}.",
                e["seq"],
            )


def _monitoring(w: _Writer) -> None:
    if not w.facts.monitors:
        w.gap("monitoring", "No monitor watches this model (`prodline monitor create`).")
    for m in w.facts.monitors:
        created = w.event("monitor.create", f"monitor:{m['name']}")
        w.say(
            "monitoring",
            f"Monitor '{m['name']}' on {m.get('target')}: checks {', '.join(m.get('checks', []))}, "
            f"window {m.get('window')}, every {m.get('every') or 'on demand'}, "
            f"reference {m.get('reference')}.",
            created["seq"] if created else None,
        )
        ran = w.event("monitor.run", f"monitor:{m['name']}")
        if ran is not None:
            w.say(
                "monitoring", f"Last run {ran['ts'][:19]}: {_scalars(ran['payload'])}.", ran["seq"]
            )
    alerts = [e for e in w.facts.events if e["action"] == "alert.raised"]
    for e in alerts[-5:]:
        w.say("monitoring", f"Alert raised {e['ts'][:19]}: {_scalars(e['payload'])}.", e["seq"])


def _logging(w: _Writer, name: str) -> None:
    served = [e for e in w.facts.events if e["action"] == "server.started"]
    if served:
        e = served[-1]
        w.say(
            "logging",
            f"Served as {e['subject'].removeprefix('model:')} (last start {e['ts'][:19]}); "
            "every answered request is written to the prediction log (inputs, outputs, "
            "version, latency).",
            e["seq"],
        )
    else:
        w.gap("logging", "No server start is recorded for this model (`prodline serve`).")
    policy = w.event("retention.set", f"model:{name}")
    if policy is not None and w.facts.retention is not None:
        r = w.facts.retention
        cols = ", ".join(f"{c}={a}" for c, a in sorted(r["columns"].items())) or "every column kept"
        days = f"{r['days']} days" if r.get("days") else "no limit"
        w.say("logging", f"Prediction-log minimisation: {cols}; retention {days}.", policy["seq"])
    else:
        w.gap(
            "logging",
            f"No retention policy: the prediction log keeps every input, PII included, "
            f"forever (`prodline retention set {name}`).",
        )
    for e in [e for e in w.facts.events if e["action"] == "retention.purged"][-3:]:
        w.say(
            "logging",
            f"Purge {e['ts'][:19]}: {e['payload'].get('requests')} expired requests removed.",
            e["seq"],
        )
    audit = w.facts.audit
    head = audit.get("head")
    w.say(
        "logging",
        f"Audit log: hash-chained and signed; verified at generation: {audit.get('message')}.",
        head,
    )


def _card(
    w: _Writer,
    name: str,
    version: int,
    rm: Mapping[str, Any],
    mv: Mapping[str, Any],
    reg: int | None,
) -> tuple[tuple[str, str, int | None], ...]:
    cls = _classification(w)

    def last(kind: str) -> tuple[str, int | None]:
        found = w.evidence(kind)
        if not found:
            return "not recorded", None
        e = found[-1]
        return f"{_verdict(e['passed'])}: {_scalars(e['summary'], 5)}", int(e["event"])

    rows: list[tuple[str, str, int | None]] = [
        ("Model", f"{name} v{version} ({mv.get('flavor')})", reg),
        ("Owner", str(rm.get("owner") or "not recorded"), reg),
        ("Risk level", str(rm.get("risk_level")), cls["event"] if cls else None),
        (
            "Intended use",
            str(cls["summary"].get("purpose")) if cls else "not recorded",
            cls["event"] if cls else None,
        ),
        ("Training data", ", ".join(d["ref"] for d in w.facts.datasets) or "not recorded", reg),
        ("Metrics", _scalars(mv.get("metrics") or {}) or "not recorded", reg),
        ("Evaluation", *last("gate:evaluation")),
        ("Fairness", *last("gate:fairness")),
        ("Poisoning scan", *last("gate:poisoning")),
        ("Sign-off", *last("gate:approval")),
        ("Aliases", ", ".join(mv.get("aliases") or []) or "none", reg),
    ]
    gaps = sum(len(g) for g in w.gaps.values())
    rows.append(("Known gaps", f"{gaps} (listed under Gaps)", None))
    return tuple(rows)
