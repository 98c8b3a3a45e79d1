"""Table definitions (SQLAlchemy Core). Schema changes go through Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from prodline.store.db import UTCDateTime

__all__ = [
    "alert_deliveries",
    "alerts",
    "alias_history",
    "aliases",
    "api_tokens",
    "audit_checkpoints",
    "audit_events",
    "audit_head",
    "budget_spend",
    "budgets",
    "dataset_versions",
    "datasets",
    "evidence",
    "feedback",
    "kb_chunks",
    "kb_owners",
    "kb_sentences",
    "kb_sources",
    "kb_versions",
    "kbs",
    "kpi_events",
    "kpis",
    "leases",
    "lineage_edges",
    "llm_calls",
    "metadata",
    "meter_segments",
    "model_training_data",
    "model_versions",
    "models",
    "monitor_runs",
    "monitors",
    "pipeline_runs",
    "pipelines",
    "prediction_log",
    "prediction_segments",
    "price_versions",
    "retention_policies",
    "review_items",
    "review_policies",
    "users",
]

metadata = sa.MetaData()

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = UTCDateTime()
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("data_artifact", sa.String(64), nullable=False),
    sa.Column("source_artifact", sa.String(64), nullable=True),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("schema", JSON, nullable=False),
    sa.Column("profile", JSON, nullable=False),
    sa.Column("sensitivity", JSON, nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("source", sa.String(1000), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_version"),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    # Facts about the registered model, not each version: a new version cannot lower risk.
    sa.Column("owner", sa.String(200), nullable=False, server_default=""),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("risk_level", sa.String(20), nullable=False, server_default="minimal"),
    sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("flavor", sa.String(20), nullable=False),
    sa.Column("artifact", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("signature", JSON, nullable=False),
    sa.Column("metrics", JSON, nullable=False),
    sa.Column("params", JSON, nullable=False),
    sa.Column("tags", JSON, nullable=False),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(20), nullable=False, default="active"),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("model_id", "version", name="uq_model_version"),
)

# The dataset versions a model version learned from, by ref: the models part never
# joins the datasets part's tables.
model_training_data = sa.Table(
    "model_training_data",
    metadata,
    sa.Column("model_version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("dataset_version", sa.Integer, primary_key=True),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("model_id", sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    # Bumped on every move: the optimistic check that makes concurrent promotions conflict.
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

alias_history = sa.Table(
    "alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.ForeignKey("models.id"), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Index("ix_alias_history_model_alias", "model_id", "alias"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # The control plane's filtered pages (newest first): a rare action or actor would
    # otherwise scan the whole log (migration 0015; bench/control_plane.py measures it).
    sa.Index("ix_audit_events_action_seq", "action", "seq"),
    sa.Index("ix_audit_events_actor_seq", "actor", "seq"),
    # A subject prefix (``model:credit-risk``) is a range on SQLite and a LIKE 'p%' on
    # PostgreSQL, which needs the pattern operator class to use a btree (migration 0017).
    sa.Index(
        "ix_audit_events_subject_seq",
        "subject",
        "seq",
        postgresql_ops={"subject": "varchar_pattern_ops"},
    ),
)

# One row (id=1): the chain's head, locked by every append so appenders serialize.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
)

lineage_edges = sa.Table(
    "lineage_edges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("src", sa.String(500), nullable=False),
    sa.Column("dst", sa.String(500), nullable=False),
    sa.Column("relation", sa.String(50), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("src", "dst", "relation", name="uq_lineage_edge"),
    sa.Index("ix_lineage_dst", "dst"),
)

# One row per answered request (inputs: JSON records, outputs: JSON), the log of record.
# ledger/predictions.py is its one writer and one reader.
prediction_log = sa.Table(
    "prediction_log",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("ts", TS, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    # The segment these rows belong to (its Parquet copy, once sealed); always set.
    sa.Column("segment_id", sa.Integer, nullable=True, index=True),
    sa.Index("ix_prediction_log_model_ts", "model", "ts"),
)

# Columnar copies of prediction_log: a Parquet artifact per sealed segment of ~N rows, so
# that reading the last 100k predictions reads a few files instead of decoding 100k JSON
# texts. ``artifact`` is NULL while the segment is open (its rows are read from the table).
prediction_segments = sa.Table(
    "prediction_segments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ts_min", TS, nullable=True),
    sa.Column("ts_max", TS, nullable=True),
    sa.Column("artifact", sa.String(64), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_prediction_segments_model_ts", "model", "ts_max"),
)

# What the prediction log keeps of a model's inputs (per column: keep / hash / drop) and
# for how long; ledger/retention.py is its one writer and one reader.
retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("columns", JSON, nullable=False),
    sa.Column("days", sa.Integer, nullable=True),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# Ground truth for logged predictions, one label per predicted row (request_id, row);
# ledger/feedback.py is its one writer and one reader. A later label for the same row
# replaces the earlier one (audited). ``model``/``version`` are NULL for a label whose
# request id was not (yet) in the prediction log when it arrived: an orphan.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("label", JSON, nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.UniqueConstraint("request_id", "row", name="uq_feedback_request_row"),
    sa.Index("ix_feedback_model_received", "model", "received_at"),
)

# Recorded evidence (gate results, monitor runs): immutable rows; ledger/evidence.py.
evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("summary", JSON, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=True),
    sa.Column("artifact", sa.String(64), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_evidence_subject_kind", "subject", "kind"),
)

# One row per LLM/RAG call; ledger/calls.py is its one writer and one reader.
llm_calls = sa.Table(
    "llm_calls",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("ts", TS, nullable=False),
    sa.Column("kb", sa.String(200), nullable=True),
    sa.Column("endpoint", sa.String(20), nullable=False),
    sa.Column("provider", sa.String(100), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("route", sa.String(500), nullable=True),
    sa.Column("route_reason", sa.Text, nullable=True),
    sa.Column("input_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("groundedness", sa.Float, nullable=True),
    sa.Column("flagged", sa.Boolean, nullable=True),
    sa.Column("sensitivity", sa.String(10), nullable=False, server_default="none"),
    sa.Column("question", sa.Text, nullable=True),
    sa.Column("chunk_ids", JSON, nullable=False),
    sa.Column("details", JSON, nullable=False),
    sa.Index("ix_llm_calls_kb_ts", "kb", "ts"),
    sa.Index("ix_llm_calls_provider_ts", "provider", "ts"),
)

kbs = sa.Table(
    "kbs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("embedder", sa.String(200), nullable=False),
    # Bumped in the transaction of every chunk change: derived indexes (BM25) key on it.
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # route | redact | refuse: how sensitive context may reach a provider not self-hosted
    sa.Column("privacy", sa.String(10), nullable=False, server_default="route"),
    # tag | quarantine | block: what ingest does with a chunk the input guard flags
    sa.Column("injection_policy", sa.String(12), nullable=False, server_default="quarantine"),
)

kb_owners = sa.Table(
    "kb_owners",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)

kb_sources = sa.Table(
    "kb_sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kb_id", sa.ForeignKey("kbs.id"), nullable=False),
    sa.Column("source", sa.String(2000), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("owner_id", sa.ForeignKey("kb_owners.id"), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("modified_at", TS, nullable=False),
    sa.Column("ingested_at", TS, nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("sensitivity", sa.String(10), nullable=False),
    sa.Column("kinds", JSON, nullable=False),
    sa.UniqueConstraint("kb_id", "source", name="uq_kb_source"),
)

kb_chunks = sa.Table(
    "kb_chunks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kb_id", sa.ForeignKey("kbs.id"), nullable=False),
    sa.Column("source_id", sa.ForeignKey("kb_sources.id"), nullable=False, index=True),
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("heading", sa.String(500), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("token_count", sa.Integer, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("sensitivity", sa.String(10), nullable=False),
    sa.Column("kinds", JSON, nullable=False),
    # float32 little-endian: lets a crashed ingest rebuild the index without re-embedding.
    sa.Column("embedding", sa.LargeBinary, nullable=False),
    sa.Column("ingested_at", TS, nullable=False),
    # the input guard's score (NULL: not scanned), its verdict not "allow", and whether
    # the KB's injection policy keeps the chunk out of chat context
    sa.Column("injection_risk", sa.Float, nullable=True),
    sa.Column("injection_flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("quarantined", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_kb_chunks_kb", "kb_id"),
)

# The pieces of each chunk that chat embeds (its sentences, code blocks and the chunk
# itself), embedded at ingest: rag/sentences.py. sha256 of the piece's text; float32 LE.
kb_sentences = sa.Table(
    "kb_sentences",
    metadata,
    sa.Column(
        "chunk_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("kb_chunks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("ordinal", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=False),
)

kb_versions = sa.Table(
    "kb_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kb_id", sa.ForeignKey("kbs.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("chunk_set_sha256", sa.String(64), nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("sources", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("kb_id", "version", name="uq_kb_version"),
)

# -- continuous training (pipelines/): registered pipelines and their runs ---------------
pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("entrypoint", sa.String(1000), nullable=False),  # module:function or file.py:fn
    sa.Column("dataset", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    # promote auto|manual, target, holdout, metric, margin, triggers, rollback guard
    sa.Column("settings", JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("name", name="uq_pipeline_name"),
)

# One row per run. ``trigger_key`` is unique: one alert (or dataset version, schedule slot)
# never starts two runs. A running row carries pid/host and a heartbeat, so a run whose
# process died is found and marked failed instead of staying "running".
pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pipeline_id", sa.ForeignKey("pipelines.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(50), nullable=False),
    sa.Column("trigger_key", sa.String(500), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("heartbeat_at", TS, nullable=True),
    sa.Column("dataset", sa.String(300), nullable=True),
    sa.Column("candidate_version", sa.Integer, nullable=True),
    sa.Column("champion_version", sa.Integer, nullable=True),
    sa.Column("metrics", JSON, nullable=False),
    sa.Column("decision", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.UniqueConstraint("trigger_key", name="uq_pipeline_run_trigger_key"),
    sa.UniqueConstraint("pipeline_id", "number", name="uq_pipeline_run_number"),
    sa.Index("ix_pipeline_runs_status", "status"),
)

# -- monitors, their runs, alerts and webhook deliveries (monitor/), scheduler leases ----
monitors = sa.Table(
    "monitors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("alias", sa.String(100), nullable=True),
    sa.Column("reference", sa.String(220), nullable=True),  # DATASET@V
    sa.Column("kb", sa.String(200), nullable=True),  # RAG monitors watch a knowledge base
    sa.Column("window_rows", sa.Integer, nullable=True),
    sa.Column("window_seconds", sa.Integer, nullable=True),
    sa.Column("checks", JSON, nullable=False),
    sa.Column("every_seconds", sa.Integer, nullable=True),  # NULL: runs only when asked
    sa.Column("config", JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("next_run_at", TS, nullable=True),
    sa.Column("last_run_at", TS, nullable=True),
)

monitor_runs = sa.Table(
    "monitor_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("monitor_id", sa.ForeignKey("monitors.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS, nullable=False),
    sa.Column("summary", JSON, nullable=False),
    sa.Column("report_artifact", sa.String(64), nullable=True),
    sa.Column("alerts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("runner", sa.String(200), nullable=False, server_default=""),
    sa.Index("ix_monitor_runs_monitor", "monitor_id", "id"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("monitor", sa.String(200), nullable=True),  # NULL: raised outside a monitor
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # Set once the worker has handed the alert to its hooks (pipelines react to alerts).
    sa.Column("dispatched_at", TS, nullable=True),
    sa.Index("ix_alerts_monitor", "monitor", "id"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("alert_id", sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, delivered, undelivered
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_attempt_at", TS, nullable=True),
    sa.Column("delivered_at", TS, nullable=True),
    sa.Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)

# One row per schedule: the process that holds it (until expires_at) runs that schedule.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("acquired_at", TS, nullable=False),
)

# Identity (ledger/identity.py): users with one role each, and their API tokens, stored
# only as a keyed hash (HMAC-SHA256); ``prefix`` is the token's first characters, shown in
# listings so a token can be told apart without being recoverable.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(50), nullable=False),
    sa.Column("disabled_at", TS, nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("prefix", sa.String(20), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=True),
    sa.Column("revoked_at", TS, nullable=True),
    sa.Column("last_used_at", TS, nullable=True),
)

# Human review (review/): one policy per model or knowledge base, and the queue's items.
# A cleared policy keeps its row (``active`` false) so ``revision`` only grows: servers
# poll ``max(revision)`` to know when to refresh their cached policies.
review_policies = sa.Table(
    "review_policies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # model, kb
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(10), nullable=False),  # hold, after
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("sample_rate", sa.Float, nullable=False, server_default="0"),
    sa.Column("sla_s", sa.Float, nullable=False),
    sa.Column("webhook", sa.String(2000), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("kind", "subject", name="uq_review_policy_subject"),
)

review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("request_id", sa.String(200), nullable=True),
    sa.Column("input", JSON, nullable=True),
    sa.Column("output", JSON, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),  # open claimed approved edited rejected
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_at", TS, nullable=True),
    sa.Column("final_output", JSON, nullable=True),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("decided_at", TS, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("sla_alerted_at", TS, nullable=True),
    # The decision's webhook delivery (the policy's URL when decided): pending,
    # delivered, undelivered; attempts claimed by compare-and-swap like alert deliveries.
    sa.Column("webhook", sa.String(2000), nullable=True),
    sa.Column("webhook_status", sa.String(20), nullable=True),
    sa.Column("webhook_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("webhook_next_at", TS, nullable=True),
    sa.Column("webhook_error", sa.Text, nullable=True),
    sa.Index("ix_review_items_status", "status", "id"),
    sa.Index("ix_review_items_subject", "kind", "subject", "status"),
    sa.Index("ix_review_items_webhook", "webhook_status", "webhook_next_at"),
)

# Costs (cost/): versioned price tables, the meter's parquet segments, budgets and KPIs.
# A price version is never edited: a new table is a new version with its own
# ``effective_from``; the version in force at a record's ts prices that record.
price_versions = sa.Table(
    "price_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False, unique=True),
    sa.Column("effective_from", TS, nullable=False),
    sa.Column("body", JSON, nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# One row per parquet file of metered records under ``<home>/meter/`` (path relative to it).
meter_segments = sa.Table(
    "meter_segments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("min_ts", TS, nullable=False),
    sa.Column("max_ts", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_meter_segments_ts", "min_ts", "max_ts"),
)

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("scope_kind", sa.String(10), nullable=False),  # team model kb token all
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("period", sa.String(10), nullable=False),  # day week month
    sa.Column("amount_usd", sa.Float, nullable=False),
    sa.Column("soft_share", sa.Float, nullable=False, server_default="0.8"),
    sa.Column("hard", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("on_exceed", sa.String(10), nullable=False, server_default="refuse"),
    sa.Column("route_to", sa.String(200), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("deleted_at", TS, nullable=True),
)

# Spend per budget and period (reserved: in flight, settled into spent after the call).
budget_spend = sa.Table(
    "budget_spend",
    metadata,
    sa.Column("budget_id", sa.ForeignKey("budgets.id"), primary_key=True),
    sa.Column("period_start", TS, primary_key=True),
    sa.Column("spent_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("reserved_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("soft_alerted_at", TS, nullable=True),
    sa.Column("hard_alerted_at", TS, nullable=True),
)

kpis = sa.Table(
    "kpis",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("source", sa.String(10), nullable=False),  # events feedback reviews
    sa.Column("aggregate", sa.String(10), nullable=False),  # mean sum count rate
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("baseline", sa.Float, nullable=False),
    sa.Column("target", sa.Float, nullable=False),
    sa.Column("direction", sa.String(4), nullable=False),  # up down
    sa.Column("value_per_unit_usd", sa.Float, nullable=False, server_default="0"),
    sa.Column("window", sa.String(10), nullable=False),  # day week month
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

kpi_events = sa.Table(
    "kpi_events",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kpi_id", sa.ForeignKey("kpis.id"), nullable=False),
    sa.Column("ts", TS, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("recorded_at", TS, nullable=False),
    sa.Index("ix_kpi_events_kpi_ts", "kpi_id", "ts"),
)
