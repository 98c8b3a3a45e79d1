"""The Workspace: opens the store, artifacts and ledgers; the entry to every part."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.config import Settings
from prodline.core.promotion import PolicyDecision, PromotionPolicy, PromotionRequest
from prodline.core.roles import allowed_roles, role_needed
from prodline.errors import Forbidden, GateFailed, StoreUnavailable, Unauthorized
from prodline.ledger.audit import AuditLog, load_or_create_key
from prodline.ledger.lineage import Lineage
from prodline.store.artifacts import ArtifactStore
from prodline.store.db import Database, redact_url
from prodline.store.migrate import upgrade

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    import pandas as pd

    from prodline.compliance.service import Compliance
    from prodline.cost import Costs
    from prodline.data.datasets import Datasets
    from prodline.gates.service import Gates
    from prodline.guard.scan import InputGuard
    from prodline.ledger.calls import CallReader
    from prodline.ledger.evidence import EvidenceLog
    from prodline.ledger.feedback import FeedbackLog
    from prodline.ledger.identity import Identity, Principal
    from prodline.ledger.predictions import PredictionReader
    from prodline.ledger.retention import Retention
    from prodline.models.entities import ModelVersion
    from prodline.models.registry import ModelRegistry
    from prodline.monitor.alerts import Alerts
    from prodline.monitor.drift import DriftOptions, DriftReport
    from prodline.monitor.monitors import Monitors
    from prodline.monitor.rag import RagReport
    from prodline.monitor.rollback import AutoRollback
    from prodline.pipelines.service import Pipelines
    from prodline.rag.kb import KnowledgeBases
    from prodline.review.service import Reviews
    from prodline.serving.rag.answerer import ChatAnswerer

__all__ = ["Workspace"]


class Workspace:
    """One prodline home: metadata database, artifact store, audit log and lineage.

    Examples
    --------
    >>> import tempfile, prodline
    >>> ws = prodline.Workspace.open(tempfile.mkdtemp())
    >>> ws.audit.verify().ok
    True
    >>> ws.close()
    """

    def __init__(self, settings: Settings, *, token: str | None = None) -> None:
        self.settings = settings
        self.home = settings.home
        self.db = Database(settings.db_url)
        try:
            upgrade(self.db)
        except StoreUnavailable:
            self.db.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.db.dispose()
            raise StoreUnavailable(
                f"Cannot prepare the metadata database {redact_url(settings.db_url)}: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        self.artifacts = ArtifactStore(settings.artifacts_url)
        key = load_or_create_key(self.home / "keys" / "audit.key")
        self.audit = AuditLog(self.db, key, self.home / "audit.anchor", settings.actor)
        self.lineage = Lineage(self.db)
        self._identity_key = key
        self._identity: Identity | None = None
        self._token = token if token is not None else os.environ.get("PRODLINE_TOKEN") or None
        self._principal: Principal | None = None
        self._local = True
        self._checked_at = 0.0
        try:
            self._resolve_actor()
        except BaseException:
            self.db.dispose()
            raise
        self._datasets: Datasets | None = None
        self._models: ModelRegistry | None = None
        self._kbs: KnowledgeBases | None = None
        self._predictions: PredictionReader | None = None
        self._calls: CallReader | None = None
        self._pipelines: Pipelines | None = None
        self._auto_rollback: AutoRollback | None = None
        self._evidence: EvidenceLog | None = None
        self._feedback: FeedbackLog | None = None
        self._alerts: Alerts | None = None
        self._monitors: Monitors | None = None
        self._retention: Retention | None = None
        self._compliance: Compliance | None = None
        self._gates: Gates | None = None
        self._guard: InputGuard | None = None
        self._reviews: Reviews | None = None
        self._costs: Costs | None = None
        self._shares_db = False  # a view from acting_as(): close() leaves the db to its owner
        from prodline.gates.decision import GatePolicy

        # protected aliases need their risk level's checks (minimal.yaml protects none)
        self.policy: PromotionPolicy = GatePolicy(self, lambda n, v: self.models.get(n, v))

    @classmethod
    def open(
        cls,
        home: str | os.PathLike[str] | None = None,
        *,
        db_url: str | None = None,
        actor: str | None = None,
        token: str | None = None,
    ) -> Workspace:
        """Open (creating on first use) the workspace at ``home``.

        ``home`` defaults to ``PRODLINE_HOME`` or ``./.prodline``; ``db_url`` (or
        ``PRODLINE_DB_URL``) moves metadata to another database, e.g. PostgreSQL.

        Who acts: while the workspace has no users, the OS user (or ``actor`` /
        ``PRODLINE_ACTOR``) acts as admin. Once users exist, the actor is the user of
        ``token`` (or ``PRODLINE_TOKEN``), else the user named like the OS login, else
        nobody (reads work, changes raise ``Unauthorized``); ``actor`` and
        ``PRODLINE_ACTOR`` no longer override it.

        Raises
        ------
        Unauthorized
            A token that is unknown, expired or revoked, or one given to a workspace
            without users.
        """
        settings = Settings.load(home, db_url=db_url, actor=actor)
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings, token=token)

    @property
    def actor(self) -> str:
        """Who the audit log records for this session's changes (see ``open``)."""
        return self.audit.actor

    @property
    def principal(self) -> Principal | None:
        """The authenticated user and role; ``None`` with no users (the OS user is admin)."""
        return self._principal

    @property
    def identity(self) -> Identity:
        """Users and API tokens: ``ws.identity.add_user("ada", "admin")``, ``create_token``."""
        if self._identity is None:
            from prodline.ledger.identity import Identity, token_key

            self._identity = Identity(
                self.db,
                self.audit,
                token_key(self._identity_key),
                authorize=lambda action: self.authorize(action),  # late-bound: tests may spy
                tx=self.tx,
            )
        return self._identity

    def _resolve_actor(self) -> None:
        """Find who acts (see ``open``) and make the audit log record them."""
        import time

        from prodline.ledger.identity import os_login

        has_users = self.identity.has_users()
        if self._token is not None:
            if not has_users:
                raise Unauthorized(
                    f"A token was given (PRODLINE_TOKEN?) but the workspace at {self.home} has "
                    "no users; unset PRODLINE_TOKEN, or point PRODLINE_HOME at the workspace "
                    "that issued it.",
                    reason="no_users",
                )
            self._principal = self.identity.authenticate(self._token)
        elif has_users:
            self._principal = self.identity.principal_of_login(os_login())
        self._local = not has_users
        if has_users:
            self.audit.actor = self._principal.user if self._principal else os_login()
        self._checked_at = time.monotonic()

    def authorize(self, action: str) -> None:
        """Raise unless this session's actor may perform ``action`` (``core.roles``).

        A no-op while the workspace has no users: the OS user acts as admin. Every
        state-changing operation calls it first, in the library itself, so the CLI, the
        SDK and the servers obey the same table. A token's state is re-read at most every
        30 s, so a revoked or expired token stops a long-running process too.

        Raises
        ------
        Unauthorized
            Nobody is authenticated, or the token has expired or been revoked.
        Forbidden
            The actor's role may not; the message names the role needed.
        """
        allowed = allowed_roles(action)
        if self._local:
            return
        import time

        if time.monotonic() - self._checked_at > 30.0:
            self._resolve_actor()
        who = self._principal
        if who is None:
            raise Unauthorized(
                f"{action} needs a prodline user with role {role_needed(action)}, and "
                f"'{self.actor}' is not one: set PRODLINE_TOKEN to a token an admin made with "
                "prodline token create --user NAME.",
                action=action,
            )
        if who.role not in allowed:
            raise Forbidden(
                f"{action} needs role {role_needed(action)}; '{who.user}' is {who.role}. Ask "
                "an admin to do it, or to act as a user with that role.",
                action=action,
                role=who.role,
                needed=sorted(allowed),
            )

    @property
    def datasets(self) -> Datasets:
        """Register, list and load dataset versions; built on first use."""
        if self._datasets is None:
            from prodline.data.datasets import Datasets

            self._datasets = Datasets(self)
        return self._datasets

    @property
    def models(self) -> ModelRegistry:
        """The model registry: register versions, move aliases, read lineage; built on first use."""
        if self._models is None:
            from prodline.models.registry import ModelRegistry

            self._models = ModelRegistry(self, resolve_dataset=lambda ref: self.datasets.get(ref))
        return self._models

    @property
    def predictions(self) -> PredictionReader:
        """The prediction log's reader: ``ws.predictions.read("credit-risk", last=1000)``."""
        if self._predictions is None:
            from prodline.ledger.predictions import PredictionReader

            self._predictions = PredictionReader(self.db, self.artifacts)
        return self._predictions

    @property
    def calls(self) -> CallReader:
        """The LLM/RAG call log's reader: ``ws.calls.read("support-desk", last=100)``."""
        if self._calls is None:
            from prodline.ledger.calls import CallReader

            self._calls = CallReader(self.db)
        return self._calls

    @property
    def retention(self) -> Retention:
        """Prediction-log minimisation and retention: ``set`` per model, ``purge``."""
        if self._retention is None:
            from prodline.ledger.retention import Retention

            def model_columns(name: str) -> list[str]:
                latest = self.models.model(name).latest_version  # NotFound names the models
                if not latest:
                    return []
                return [c["name"] for c in self.models.get(name, latest).signature]

            key = load_or_create_key(self.home / "keys" / "audit.key")
            self._retention = Retention(self, key, model_columns)
        return self._retention

    @property
    def compliance(self) -> Compliance:
        """EU AI Act classification, Annex IV documents, signed record-keeping bundles."""
        if self._compliance is None:
            from prodline.compliance.service import Compliance, ComplianceSources

            def dataset(ref: str) -> dict[str, Any]:
                ds = self.datasets.get(ref)
                return ds.to_dict() | {"ref": ds.ref}

            def monitors(name: str) -> list[dict[str, Any]]:
                return [m.to_dict() for m in self.monitors.list() if m.model == name]

            def set_risk(name: str, level: str) -> None:
                self.models.update(name, risk_level=level)

            self._compliance = Compliance(
                self,
                ComplianceSources(
                    model=lambda name: self.models.model(name).to_dict(),
                    version=lambda name, ref: self.models.get(name, ref).to_dict(),
                    versions=lambda name: [v.to_dict() for v in self.models.versions(name)],
                    dataset=dataset,
                    monitors=monitors,
                    set_risk=set_risk,
                ),
            )
        return self._compliance

    @property
    def evidence(self) -> EvidenceLog:
        """Recorded evidence (gate results, monitor runs): ``record`` in a ``ws.tx()``."""
        if self._evidence is None:
            from prodline.ledger.evidence import EvidenceLog

            self._evidence = EvidenceLog(self.db, self.audit, authorize=self.authorize)
        return self._evidence

    @property
    def feedback(self) -> FeedbackLog:
        """Labels for logged predictions: ``ws.feedback.add(request_id, 1)``, ``.read(model)``."""
        if self._feedback is None:
            from prodline.ledger.feedback import FeedbackLog

            self._feedback = FeedbackLog(
                self.db, self.audit, self.predictions, authorize=self.authorize
            )
        return self._feedback

    @property
    def kbs(self) -> KnowledgeBases:
        """Knowledge bases: create, ingest, search; built on first use (loads no models yet)."""
        if self._kbs is None:
            from prodline.rag.kb import KnowledgeBases

            self._kbs = KnowledgeBases(self)
        return self._kbs

    @property
    def guard(self) -> InputGuard:
        """The input guard (prompt injection), loaded on first use from the shipped model.

        Raises ``GuardModelError`` when the model file is missing or corrupt: ingest
        refuses to store unscanned chunks rather than skip the scan.
        """
        if self._guard is None:
            from prodline.guard.scan import InputGuard

            self._guard = InputGuard.load()
        return self._guard

    def rag_answerer(
        self, kb: str, *, provider: str | None = None, mode: str = "hybrid"
    ) -> ChatAnswerer:
        """The RAG server's chat path for ``kb`` without a server (``ws.kbs.evaluate``)."""
        from prodline.serving.rag.answerer import ChatAnswerer

        return ChatAnswerer(self, kb, provider=provider, mode=mode)

    @property
    def reviews(self) -> Reviews:
        """The human review queue: policies per model or KB, items, claims and decisions."""
        if self._reviews is None:
            from prodline.review.service import Reviews

            self._reviews = Reviews(self)
        return self._reviews

    @property
    def costs(self) -> Costs:
        """Costs: price tables, the meter, budgets, KPIs, reports and route comparisons."""
        if self._costs is None:
            from prodline.cost import Costs

            self._costs = Costs(self)
        return self._costs

    def acting_as(self, token: str) -> Workspace:
        """A view of this workspace in which the user of API token ``token`` acts.

        The view shares the database, artifacts and signing key (no new connections), has
        its own audit actor and parts, and re-checks the token like any session (so a
        revoked token stops working within 30 s). Servers make one per authenticated
        request; closing a view releases nothing of the workspace it came from.

        Raises
        ------
        Unauthorized
            The token is unknown, expired or revoked, or this workspace has no users.
        """
        import time

        if not self.identity.has_users():
            raise Unauthorized(
                f"A token was given but the workspace at {self.home} has no users; add one "
                "with prodline user add NAME --role admin.",
                reason="no_users",
            )
        principal = self.identity.authenticate(token)
        view = object.__new__(Workspace)
        view.__dict__.update(self.__dict__)
        view.audit = AuditLog(
            self.db, self._identity_key, self.home / "audit.anchor", principal.user
        )
        view._identity = None
        view._token = token
        view._principal = principal
        view._local = False
        view._checked_at = time.monotonic()
        view._shares_db = True
        for name in (
            "_datasets", "_models", "_kbs", "_predictions", "_calls", "_pipelines",
            "_auto_rollback", "_evidence", "_feedback", "_alerts", "_monitors", "_retention",
            "_compliance", "_gates", "_reviews", "_costs",
        ):  # fmt: skip
            setattr(view, name, None)
        from prodline.gates.decision import GatePolicy

        view.policy = GatePolicy(view, lambda n, v: view.models.get(n, v))
        return view

    @property
    def alerts(self) -> Alerts:
        """Alerts: recorded, audited, delivered to the ``[alerts] webhooks`` of prodline.toml."""
        if self._alerts is None:
            from prodline.monitor.alerts import Alerts

            self._alerts = Alerts(self)
        return self._alerts

    @property
    def monitors(self) -> Monitors:
        """Monitors on a model alias or a knowledge base: create, run, list; built on first use."""
        if self._monitors is None:
            from prodline.monitor.monitors import Monitors, MonitorSources

            sources = MonitorSources(
                model_version=lambda name, alias: self.models.get(name, alias).version,
                dataset_ref=lambda ref: self.datasets.get(ref).ref,
                load_dataset=lambda ref: self.datasets.load(ref),
                model_metrics=lambda name, version: self.models.get(name, version).metrics,
                kb_exists=lambda name: self.kbs.get(name),
                rag_report=self.rag_report,
            )
            self._monitors = Monitors(self, sources, self.alerts)
        return self._monitors

    @property
    def gates(self) -> Gates:
        """Promotion gates: ``check``, ``approve``, ``justify``, ``override``, ``status``."""
        if self._gates is None:
            from prodline.gates.service import Gates, GateSources

            def holder(name: str, alias: str) -> int | None:
                state = self.models.alias_state(name, alias)
                return state[0] if state else None

            def target(name: str, version: int) -> str | None:
                subject = f"model:{name}@{version}"
                for event in self.audit.events(action="model.registered", subject=subject):
                    if event.subject == subject:
                        return event.payload.get("target")
                return None

            def predict(name: str, version: int, frame: Any) -> Any:
                mv = self.models.get(name, version)
                names = [c["name"] for c in mv.signature]
                out = self.models.load_predictor(mv).predict(
                    {c: frame[c].to_numpy() for c in names if c in frame.columns}
                )
                return out.predictions, out.probabilities, out.classes

            def scan_poisoning(frame: Any, label: str) -> Any:
                from prodline.data.poisoning import scan_poisoning

                return scan_poisoning(frame, label)

            self._gates = Gates(
                self,
                GateSources(
                    version=lambda name, ref: self.models.get(name, ref),
                    holder=holder,
                    dataset=lambda ref: self.datasets.get(ref),
                    load_dataset=lambda ref: self.datasets.load(ref),
                    predict=predict,
                    target=target,
                    scan_poisoning=scan_poisoning,
                    kb=lambda name: self.kbs.get(name),
                    kb_sources=lambda name: self.kbs.sources(name),
                ),
            )
        return self._gates

    def drift(
        self,
        reference: str,
        current: str | os.PathLike[str] | pd.DataFrame,
        *,
        last: int | None = None,
        since: datetime | timedelta | None = None,
        options: DriftOptions | None = None,
    ) -> DriftReport:
        """Data (and prediction) drift of ``current`` against dataset version ``reference``.

        ``reference`` is ``DATASET@V`` (its canonical Parquet copy). ``current`` is a
        CSV/Parquet file, a DataFrame, or ``MODEL@ALIAS``: the logged window of the
        version the alias points to (``last`` rows and/or ``since`` a time or that long
        ago). For a model only its signature columns are compared (the others are
        listed in ``report.left_out``), and its outputs too: the reference's are the
        model's own predictions on the reference data.
        """
        from prodline.monitor.current import drift_against

        return drift_against(self, reference, current, last=last, since=since, options=options)

    def rag_report(
        self,
        kb: str,
        *,
        last: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        threshold: float = 0.5,
        window: int | str | timedelta | None = None,
        embeddings: bool = True,
        max_samples: int = 500,
    ) -> RagReport:
        """Groundedness, retrieval scores and query-embedding drift of KB ``kb``'s calls.

        The calls come from the call log (``last``, ``since``, ``until`` as in
        ``ws.calls.read``); with ``embeddings`` the logged questions are embedded with the
        KB's embedder and compared with the KB's stored chunk embeddings (MMD, see
        ``prodline.monitor.rag``), at most ``max_samples`` of each.
        """
        from prodline.monitor.rag import rag_report

        self.kbs.get(kb)  # NotFound names the knowledge bases there are
        calls = self.calls.read(kb, since=since, until=until, last=last)
        queries = chunks = None
        if embeddings and "question" in calls.columns:
            questions = [q for q in calls["question"].tolist() if isinstance(q, str) and q.strip()]
            if len(questions) > max_samples:
                step = len(questions) / max_samples
                questions = [questions[int(i * step)] for i in range(max_samples)]
            if len(questions) >= 2:
                chunks = self.kbs.chunk_embeddings(kb, limit=max_samples)
                if len(chunks) >= 2:
                    queries = self.kbs.embedder(kb).embed(questions)
        return rag_report(
            calls,
            kb=kb,
            threshold=threshold,
            window=window,
            query_embeddings=queries,
            chunk_embeddings=chunks if queries is not None else None,
            max_samples=max_samples,
        )

    @property
    def pipelines(self) -> Pipelines:
        """Continuous training: ``ws.pipelines.register(...)``, ``.run(name)``, ``.runs()``."""
        if self._pipelines is None:
            from prodline.pipelines.service import Pipelines

            self._pipelines = Pipelines(self, self._pipeline_parts())
        return self._pipelines

    def _pipeline_parts(self) -> Any:
        """What pipeline runs need from the datasets and models parts, as callables."""
        from prodline.pipelines.service import Collaborators

        def dataset_ref(ref: str) -> str:
            return self.datasets.get(ref).ref

        def model_aliases(name: str) -> dict[str, int] | None:
            known = {m.name for m in self.models.models() if m.latest_version}
            return self.models.aliases(name) if name in known else None

        def register(model: Any, **kwargs: Any) -> int:
            return self.models.register(model, **kwargs).version

        def predict(name: str, version: int, frame: Any) -> Any:
            mv = self.models.get(name, version)
            out = self.models.load_predictor(mv).predict(
                {c: frame[c].to_numpy() for c in frame.columns}
            )
            return out.predictions, out.probabilities, out.classes

        def promote(name: str, version: int, alias: str, revision: int) -> Any:
            return self.promote(name, version, alias, create=True, expected_revision=revision)

        return Collaborators(
            dataset_ref=dataset_ref,
            dataset_versions=lambda name: [d.version for d in self.datasets.versions(name)],
            load_dataset=lambda ref: self.datasets.load(ref),
            register_model=register,
            model_aliases=model_aliases,
            alias_state=lambda name, alias: self.models.alias_state(name, alias),
            predict=predict,
            promote=promote,
        )

    @property
    def auto_rollback(self) -> AutoRollback:
        """Roll back promotions that labelled predictions show to be worse (monitor/rollback)."""
        if self._auto_rollback is None:
            from prodline.monitor.rollback import AutoRollback, RollbackSources

            def last_move(name: str, alias: str) -> Any:
                moves = self.models.alias_history(name, alias)
                if not moves:
                    return None
                move = moves[-1]
                return move.action, move.from_version, move.to_version, move.at

            self._auto_rollback = AutoRollback(
                self,
                RollbackSources(
                    last_move=last_move,
                    rollback=lambda name, alias: self.rollback(name, alias).version,
                    guards=lambda: self.pipelines.rollback_guards(),
                ),
            )
        return self._auto_rollback

    # -- the one promotion path --------------------------------------------------------
    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        create: bool = False,
        expected_revision: int | None = None,
    ) -> ModelVersion:
        """Point ``alias`` of model ``name`` at ``version``, if the promotion policy allows.

        The policy (``ws.policy``; everything is allowed until governance sets one) is
        asked first, on the alias state read here; the move is then a compare-and-swap
        on that state, so a concurrent move makes this raise ``Conflict`` instead of
        slipping past the decision. A refusal raises ``GateFailed`` with the reasons and
        is itself audited. A new alias name needs ``create=True`` (a typo such as
        ``prod`` must not pass unnoticed) unless it is ``production``/``staging`` or
        another model already uses it.

        Examples
        --------
        >>> import tempfile, pandas as pd, prodline as pl
        >>> from sklearn.dummy import DummyClassifier
        >>> ws = pl.Workspace.open(tempfile.mkdtemp())
        >>> model = DummyClassifier().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0, 1])
        >>> ws.models.register(model, name="demo", git_commit="").version
        1
        >>> ws.promote("demo", 1, "production").aliases
        ('production',)
        >>> ws.close()
        """
        self.authorize("model.promote")
        mv = self.models.get(name, version)
        state = self.models.alias_state(name, alias)
        seen = expected_revision if expected_revision is not None else (state[1] if state else 0)
        request = self._request(mv, alias, "promote", state[0] if state else None)
        self._ask_policy(request)
        return self.models.move_alias(
            name, version, alias, action="promote", create=create, expected_revision=seen
        )

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Move ``alias`` back to the version it held before its latest promotion.

        Rollback is an alias move, never a rebuild: instant and audited. The policy is
        asked too (``action="rollback"``), so governance can require sign-off for it.
        """
        self.authorize("model.rollback")
        target, revision = self.models.rollback_target(name, alias)
        state = self.models.alias_state(name, alias)
        request = self._request(
            self.models.get(name, target), alias, "rollback", state[0] if state else None
        )
        self._ask_policy(request)
        return self.models.move_alias(
            name, target, alias, action="rollback", create=True, expected_revision=revision
        )

    def _request(
        self, mv: ModelVersion, alias: str, action: str, held: int | None
    ) -> PromotionRequest:
        return PromotionRequest(
            model=mv.name,
            version=mv.version,
            alias=alias,
            action="rollback" if action == "rollback" else "promote",
            risk_level=mv.risk_level,
            from_version=held,
            actor=self.actor,
            metrics=dict(mv.metrics),
            tags=dict(mv.tags),
            trained_on=mv.trained_on,
        )

    def _ask_policy(self, request: PromotionRequest) -> PolicyDecision:
        decision = self.policy.decide(request)
        if decision.allowed:
            return decision
        with self.tx() as conn:
            self.audit.record(
                conn,
                f"alias.{request.action}_refused",
                f"model:{request.model}@{request.alias}",
                {
                    "to_version": request.version,
                    "policy": decision.policy,
                    "reasons": list(decision.reasons),
                },
            )
        reasons = "; ".join(decision.reasons) or "the promotion policy refused it"
        raise GateFailed(
            f"Cannot {request.action} {request.ref} to '{request.alias}': {reasons}.",
            reasons=list(decision.reasons),
            policy=decision.policy,
        )

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction whose audit events and lineage commit with it."""
        with self.db.tx() as conn:
            pending: list[tuple[int, str]] = []
            conn.info["prodline_anchor"] = pending
            yield conn
            conn.info.pop("prodline_anchor", None)
        self.audit.write_anchor(pending)

    def close(self) -> None:
        """Close the knowledge-base indexes and the database connections."""
        if self._kbs is not None:
            self._kbs.close()
        if not self._shares_db:
            self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(home={str(self.home)!r}, db={redact_url(self.db.url)!r})"
