"""Gates: run a version's checks into evidence, sign off, justify, override; decide promotions.

``ws.gates`` (a :class:`Gates`) is what people use: ``check`` runs the checks the
version's policy requires and records each result as evidence on ``model:N@V``
(immutable, audited, linked in lineage); ``approve`` is a reviewer's sign-off (never
the registrant's: four-eyes); ``justify`` records why PII/PHI-tagged training columns
are needed; ``override`` lets an admin promote past unmet checks with a recorded reason.

``ws.policy`` is a :class:`GatePolicy`: ``Workspace.promote`` asks it, and it decides
from recorded evidence only, against one snapshot of the policy whose version it
records (the ``gate:decision`` evidence), so a policy edited while a promotion is in
flight cannot mix two policies in one decision.

The gates know nothing of SQL or of other parts: the workspace injects what they need
(:class:`GateSources`) as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodline.core.refs import node
from prodline.errors import Conflict, GateFailed, InvalidInput
from prodline.gates import checks as ck
from prodline.gates.decision import GateReport, judge
from prodline.gates.policy import Policy, load_kb_policy, load_policy

if TYPE_CHECKING:
    import pandas as pd

    from prodline.ledger.evidence import Evidence
    from prodline.workspace import Workspace

__all__ = ["GateSources", "Gates"]


@dataclass(frozen=True)
class GateSources:
    """What the gates need from other parts, injected by the workspace as callables."""

    version: Callable[[str, int | str], Any]  # (name, version or alias) -> ModelVersion
    holder: Callable[[str, str], int | None]  # (name, alias) -> version holding it, if any
    dataset: Callable[[str], Any]  # ref -> DatasetVersion
    load_dataset: Callable[[str], pd.DataFrame]
    predict: Callable[[str, int, pd.DataFrame], ck.Scored]
    target: Callable[[str, int], str | None]  # the label column it was registered with
    scan_poisoning: Callable[..., Any]  # (frame, target) -> PoisoningReport
    kb: Callable[[str], Any]  # name -> KnowledgeBase
    kb_sources: Callable[[str], list[dict[str, Any]]]


class Gates:
    """Checks, sign-offs, justifications and overrides; reached as ``ws.gates``."""

    def __init__(self, ws: Workspace, sources: GateSources) -> None:
        self._ws = ws
        self._src = sources

    # -- policies ------------------------------------------------------------------------
    def policy(self, level: str) -> Policy:
        """The effective policy for risk ``level`` (shipped + ``$PRODLINE_HOME/policies``)."""
        return load_policy(level, self._ws.home)

    def _authorize(self, action: str) -> None:
        self._ws.authorize(action)  # Forbidden names the role needed (no users: a no-op)

    # -- running checks --------------------------------------------------------------------
    def check(
        self,
        ref: str,
        *,
        holdout: str | None = None,
        target: str | None = None,
        alias: str = "production",
    ) -> GateReport:
        """Run the checks ``ref``'s policy requires for ``alias``; record each as evidence.

        ``holdout`` (``DATASET@V``, or the policy's ``evaluation.holdout``) is scored by
        this version and by the one holding ``alias`` now, on the same rows; the fairness
        audit uses the same predictions. ``target`` defaults to the label column the
        version was registered with.
        """
        self._authorize("gate.check")
        mv = self._src.version(*_split(ref))
        policy = self.policy(mv.risk_level)
        subject = f"model:{mv.ref}"
        results: list[tuple[ck.CheckResult, list[str]]] = []
        conf = policy.checks
        label = (
            target
            or (conf.get("evaluation") or {}).get("target")
            or self._src.target(mv.name, mv.version)
        )
        if "evaluation" in conf or "fairness" in conf:
            results.extend(self._scored_checks(mv, conf, holdout, label, alias))
        if "poisoning" in conf:
            results.append(self._poisoning(mv, conf["poisoning"], label))
        if "sensitivity" in conf:
            results.append((self._sensitivity(mv, subject), list(mv.trained_on)))
        with self._ws.tx() as conn:
            for result, datasets in results:
                ev = self._ws.evidence.record(
                    conn,
                    subject,
                    f"gate:{result.check}",
                    {**result.summary, "policy": policy.version, "reasons": list(result.reasons)},
                    passed=result.passed,
                )
                evidence_node = node("evidence", result.check, ev.id)
                self._ws.lineage.record(
                    conn, node("model", mv.name, mv.version), evidence_node, "checked"
                )
                for ds in datasets:
                    name, _, version = ds.rpartition("@")
                    self._ws.lineage.record(
                        conn, node("dataset", name, version), evidence_node, "checked"
                    )
        return self.status(mv.ref, alias=alias)

    def _scored_checks(
        self, mv: Any, conf: Mapping[str, Any], holdout: str | None, label: str | None, alias: str
    ) -> list[tuple[ck.CheckResult, list[str]]]:
        evaluation = conf.get("evaluation") or {}
        ref = holdout or evaluation.get("holdout")
        if not ref:
            raise InvalidInput(
                f"The policy for {mv.ref} ({mv.risk_level}) needs an evaluation on a holdout; "
                f"pass --holdout DATASET@V (rows it was not trained on).",
                field="holdout",
            )
        ds = self._src.dataset(ref)
        if ds.ref in mv.trained_on:
            raise InvalidInput(
                f"{ds.ref} is what {mv.ref} was trained on; evaluate on a holdout it has not seen.",
                field="holdout",
            )
        frame = self._src.load_dataset(ds.ref)
        if not label or label not in frame.columns:
            raise InvalidInput(
                f"The holdout {ds.ref} has no label column {label!r}; pass --target COLUMN.",
                field="target",
            )
        fairness = conf.get("fairness")
        if fairness is not None:
            from prodline.gates.fairness import protected_groups

            attributes = list(fairness.get("attributes") or []) or None
            # names a protected attribute missing from the holdout before any scoring
            groups = protected_groups(
                frame.drop(columns=[label]), sensitivity=ds.sensitivity, attributes=attributes
            )
        y_true = frame[label].to_numpy()
        features = frame.drop(columns=[label])
        candidate = self._src.predict(mv.name, mv.version, features)
        out: list[tuple[ck.CheckResult, list[str]]] = []
        if "evaluation" in conf:
            held = self._src.holder(mv.name, alias)
            champion = None
            if held is not None and held != mv.version:
                champion = self._src.predict(mv.name, held, features)
            result = ck.evaluation(
                y_true, candidate, champion, evaluation, champion_version=held if champion else None
            )
            out.append((_with(result, holdout=ds.ref, target=label), [ds.ref]))
        if fairness is not None:
            out.append((self._fairness(y_true, candidate, groups, fairness, ds.ref), [ds.ref]))
        return out

    def _fairness(
        self,
        y_true: Any,
        candidate: ck.Scored,
        groups: pd.DataFrame,
        conf: Mapping[str, Any],
        ref: str,
    ) -> ck.CheckResult:
        from prodline.gates.fairness import fairness_audit

        predictions, _, classes = candidate
        positive = list(classes)[-1] if classes is not None else 1
        report = fairness_audit(
            y_true,
            predictions,
            groups,
            min_group_size=int(conf["min_group_size"]),
            pos_label=positive,
        )
        thresholds = {
            key.removeprefix("max_").removeprefix("min_"): float(value)
            for key, value in conf.items()
            if key.startswith(("max_", "min_")) and key != "min_group_size"
        }
        passed, why = report.passed(thresholds)
        summary = {
            "holdout": ref,
            "attributes": list(groups.columns),
            "positive": str(positive),
            "thresholds": thresholds,
            "report": report.to_dict(),
        }
        reasons: tuple[str, ...] = ()
        if not passed:
            reasons = (
                f"on {ref}: {'; '.join(why)}; mitigate (e.g. fairlearn ThresholdOptimizer), "
                "register the mitigated version and check it",
            )
        return ck.CheckResult("fairness", bool(passed), summary, reasons)

    def _poisoning(
        self, mv: Any, conf: Mapping[str, Any], label: str | None
    ) -> tuple[ck.CheckResult, list[str]]:
        reports = {}
        for ref in mv.trained_on:
            frame = self._src.load_dataset(ref)
            if not label or label not in frame.columns:
                raise InvalidInput(
                    f"The training dataset {ref} has no label column {label!r}; pass --target.",
                    field="target",
                )
            reports[ref] = self._src.scan_poisoning(frame, label)
        return ck.poisoning(reports, conf), list(mv.trained_on)

    def _sensitivity(self, mv: Any, subject: str) -> ck.CheckResult:
        features = {c["name"] for c in mv.signature}
        sensitive: dict[str, Any] = {}
        for ref in mv.trained_on:
            for col, info in self._src.dataset(ref).sensitive_columns.items():
                if col in features:
                    sensitive[col] = {**info, "dataset": ref}
        return ck.sensitivity(sensitive, self._justifications(subject), mv.ref)

    def _justifications(self, subject: str) -> list[dict[str, Any]]:
        return [
            {"by": e.created_by, "reason": e.summary.get("reason"), "evidence": e.id}
            for e in self._ws.evidence.list(subject, "gate:justification")
        ]

    # -- people ----------------------------------------------------------------------------
    def justify(self, ref: str, reason: str) -> Evidence:
        """Record why ``ref`` (``N@V`` or ``kb:NAME``) may use PII/PHI data: who and why."""
        self._authorize("gate.justify")
        reason = _text(reason, "reason")
        subject = self._subject(ref)
        with self._ws.tx() as conn:
            return self._ws.evidence.record(conn, subject, "gate:justification", {"reason": reason})

    def approve(self, ref: str, note: str) -> Evidence:
        """A reviewer's sign-off on ``ref``; refused for the person who registered it."""
        self._authorize("gate.approve")
        note = _text(note, "note")
        mv = self._src.version(*_split(ref))
        if mv.created_by == self._ws.actor:
            raise Conflict(
                f"{self._ws.actor} registered {mv.ref} and cannot also approve it (four-eyes); "
                "ask a reviewer who did not register it to run `prodline gate approve`.",
                field="actor",
            )
        with self._ws.tx() as conn:
            return self._ws.evidence.record(
                conn,
                f"model:{mv.ref}",
                "gate:approval",
                {"note": note, "registrant": mv.created_by},
            )

    def override(self, ref: str, alias: str, reason: str) -> Any:
        """An admin's promotion of ``ref`` to ``alias`` past unmet checks, reason recorded."""
        self._authorize("gate.override")
        reason = _text(reason, "reason")
        mv = self._src.version(*_split(ref))
        subject = f"model:{mv.ref}"
        with self._ws.tx() as conn:
            self._ws.evidence.record(
                conn,
                subject,
                "gate:override",
                {
                    "alias": alias,
                    "reason": reason,
                    "unmet": list(self.status(mv.ref, alias=alias).reasons),
                },
            )
        return self._promote(mv.name, mv.version, alias)

    def _promote(self, name: str, version: int, alias: str) -> Any:
        return self._ws.promote(name, version, alias)

    # -- reading ---------------------------------------------------------------------------
    def status(self, ref: str, *, alias: str = "production") -> GateReport:
        """Where ``ref`` stands against its policy for ``alias``, from recorded evidence."""
        mv = self._src.version(*_split(ref))
        policy = self.policy(mv.risk_level)
        return judge(policy, mv, alias, self._ws.evidence.list(f"model:{mv.ref}"))

    def evidence(self, ref: str) -> list[Evidence]:
        """Every gate evidence row recorded on ``ref`` (``N@V`` or ``kb:NAME``), oldest first."""
        return [e for e in self._ws.evidence.list(self._subject(ref)) if e.kind.startswith("gate:")]

    def _subject(self, ref: str) -> str:
        if ref.startswith("kb:"):
            kb = self._src.kb(ref[3:])
            return f"kb:{kb.name}@{kb.version}"
        return f"model:{self._src.version(*_split(ref)).ref}"

    # -- knowledge bases -------------------------------------------------------------------
    def kb_status(self, name: str) -> GateReport:
        """Whether KB ``name`` may be served: PII/PHI chunks need a recorded justification."""
        kb = self._src.kb(name)
        subject = f"kb:{kb.name}@{kb.version}"
        protected = load_kb_policy(self._ws.home)
        if kb.name not in protected and "*" not in protected:
            return GateReport(subject, "serve", "kb", (), {})
        sensitive = {
            s["source"]: {"level": s["sensitivity"], "kinds": s.get("kinds", [])}
            for s in self._src.kb_sources(name)
            if s.get("sensitivity", "none") not in ("none", "", None)
        }
        result = ck.sensitivity(sensitive, self._justifications(subject), f"kb:{kb.name}")
        reasons = result.reasons
        return GateReport(
            subject,
            "serve",
            f"kb@{len(sensitive)}",
            ("sensitivity",),
            {"sensitivity": result.passed},
            reasons,
        )

    def require_kb(self, name: str) -> None:
        """Refuse (``GateFailed``) to serve KB ``name`` while its gate is unmet."""
        report = self.kb_status(name)
        if not report.passed:
            raise GateFailed(
                f"Cannot serve knowledge base '{name}': {'; '.join(report.reasons)}.",
                reasons=list(report.reasons),
            )


def _split(ref: str) -> tuple[str, int | str]:
    name, at, version = ref.rpartition("@")
    if not at or not name or not version:
        raise InvalidInput(
            f"'{ref}' is not a model version; write NAME@VERSION, e.g. credit-risk@2."
        )
    return name, int(version) if version.isdigit() else version


def _text(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"Give a non-empty --{field_name}: who reads the record needs the why.",
            field=field_name,
        )
    return value.strip()


def _with(result: ck.CheckResult, **extra: Any) -> ck.CheckResult:
    return ck.CheckResult(result.check, result.passed, {**result.summary, **extra}, result.reasons)
