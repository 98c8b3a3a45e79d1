"""Compliance: classify a model, document a version, export a period's records.

Reached as ``ws.compliance``. What the registry, datasets and monitors know arrives as
plain dicts from callables the workspace hands in (:class:`ComplianceSources`); the
evidence, audit, lineage, retention and prediction ledgers are read from the workspace
directly. Documents are built from those records only (:mod:`.annex4`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodline.compliance.annex3 import Classification, classify
from prodline.compliance.annex4 import Document, Facts, build
from prodline.compliance.bundle import write_bundle
from prodline.compliance.render import render
from prodline.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["Compliance", "ComplianceSources"]

Record = dict[str, Any]


@dataclass(frozen=True)
class ComplianceSources:
    """What compliance needs from the registry, datasets and monitors, as callables."""

    model: Callable[[str], Record]
    version: Callable[[str, int | str | None], Record]
    versions: Callable[[str], list[Record]]
    dataset: Callable[[str], Record]
    monitors: Callable[[str], list[Record]]
    set_risk: Callable[[str, str], None]


class Compliance:
    """Risk classification, Annex IV documentation and record-keeping bundles."""

    def __init__(self, ws: Workspace, sources: ComplianceSources) -> None:
        self._ws = ws
        self._sources = sources

    def classify(self, name: str, answers: Mapping[str, Any]) -> Classification:
        """Classify model ``name`` from Annex III ``answers``; store them as evidence.

        The answers and verdict become ``compliance:classification`` evidence on
        ``model:NAME``, and the registered model's risk level is set to the verdict
        (``model.updated`` is audited when it changes).
        """
        self._ws.authorize("compliance.classify")
        self._sources.model(name)  # NotFound names the models
        verdict = classify(answers)
        with self._ws.tx() as conn:
            self._ws.evidence.record(
                conn,
                f"model:{name}",
                "compliance:classification",
                verdict.to_dict(),
                passed=not verdict.prohibited,
            )
        self._sources.set_risk(name, verdict.risk_level)
        return verdict

    def document(self, name: str, ref: int | str | None = None) -> Document:
        """The Annex IV documentation and model card of ``name@ref`` (default: latest)."""
        mv = self._sources.version(name, ref)
        version = int(mv["version"])
        facts = self._facts(name, version, mv)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return build(facts, generated_at=now, generated_by=self._ws.actor)

    def docs(self, name: str, ref: int | str | None, fmt: str, out: Path | None = None) -> Path:
        """Write the documentation of ``name@ref`` as ``fmt`` to ``out``; return the path.

        ``out`` defaults to ``<home>/compliance/NAME-vV-annex-iv.FMT``.
        """
        self._ws.authorize("compliance.docs")
        doc = self.document(name, ref)
        data = render(doc, fmt)
        path = out or self._ws.home / "compliance" / f"{name}-v{doc.version}-annex-iv.{fmt}"
        if path.is_dir():
            raise InvalidInput(f"--out '{path}' is a folder; name a file.", field="--out")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def export(
        self, out: Path, *, since: datetime, until: datetime | None = None
    ) -> dict[str, Any]:
        """Write the audit events and prediction logs of ``[since, until]`` as a signed
        bundle folder ``out`` (see :mod:`.bundle`); audited as ``compliance.exported``."""
        from prodline.ledger.audit import load_or_create_key

        self._ws.authorize("compliance.export")
        for label, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(f"{label} must be timezone-aware.", field=label)
        end = until or datetime.now(UTC)
        if end < since:
            raise InvalidInput("--until is before --since; swap them.", field="until")
        first, last = since.isoformat(), end.isoformat()
        events = [
            e.to_dict()
            for e in reversed(self._ws.audit.events())
            if since <= datetime.fromisoformat(e.ts) <= end
        ]
        predictions = self._ws.predictions.read(since=since, until=end)
        key = load_or_create_key(self._ws.home / "keys" / "audit.key")
        manifest = write_bundle(
            out,
            events,
            predictions,
            key=key,
            period={"since": first, "until": last, "created_by": self._ws.actor},
        )
        self._ws.audit.append(
            "compliance.exported",
            "workspace",
            {
                "out": str(out),
                "since": first,
                "until": last,
                "events": len(events),
                "predictions": len(predictions),
                "signature": manifest["signature"],
            },
        )
        return manifest

    # -- gathering the facts ----------------------------------------------------------
    def _facts(self, name: str, version: int, mv: Record) -> Facts:
        ws = self._ws
        subjects = {f"model:{name}", f"model:{name}@{version}"}
        datasets = [self._sources.dataset(ref) for ref in mv.get("trained_on", [])]
        dataset_subjects = {f"dataset:{d['ref']}" for d in datasets}
        monitors = self._sources.monitors(name)
        monitor_subjects = {f"monitor:{m['name']}" for m in monitors}
        events = []
        for e in reversed(ws.audit.events()):  # oldest first
            subject = e.subject
            mine = subject == f"model:{name}" or subject.startswith(f"model:{name}@")
            if mine or subject in dataset_subjects or subject in monitor_subjects:
                events.append(e.to_dict())
        by_evidence = {
            int(e["payload"]["evidence_id"]): int(e["seq"])
            for e in events
            if e["action"] == "evidence.recorded" and "evidence_id" in e["payload"]
        }
        evidence = []
        for subject in sorted(subjects):
            for ev in ws.evidence.list(subject):
                evidence.append(ev.to_dict() | {"event": by_evidence.get(ev.id)})
        evidence.sort(key=lambda e: e["id"])
        alias_versions = {e["seq"] for e in events if e["action"].startswith("alias.")}
        events = [
            e
            for e in events
            if e["seq"] not in alias_versions
            or e["payload"].get("to_version") == version
            or e["payload"].get("from_version") == version
        ]
        try:
            retention = ws.retention.get(name).to_dict()
        except NotFound:
            retention = None
        result = ws.audit.verify()
        head = ws.audit.events(limit=1)
        audit = {
            "ok": result.ok,
            "events": result.events,
            "message": str(result),
            "head": head[0].seq if head else None,
        }
        if head:
            events.append(head[0].to_dict())
        return Facts(
            model=self._sources.model(name),
            version=mv,
            versions=self._sources.versions(name),
            datasets=datasets,
            evidence=evidence,
            events=_unique(events),
            monitors=monitors,
            retention=retention,
            audit=audit,
        )


def _unique(events: list[Record]) -> list[Record]:
    seen: dict[int, Record] = {}
    for e in events:
        seen[int(e["seq"])] = e
    return [seen[k] for k in sorted(seen)]
