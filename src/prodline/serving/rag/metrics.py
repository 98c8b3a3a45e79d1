"""Prometheus metrics of one RAG server, in its own registry (never the global one).

Everything is labelled by knowledge base, so several RAG servers scraped into one
Prometheus stay apart. Requests are counted by endpoint, HTTP status and the provider
that answered ("" for errors and for ``/v1/retrieve``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from prodline.serving.metrics import MetricsBase

__all__ = ["RagMetrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class RagMetrics(MetricsBase):
    """The counters and histograms ``GET /metrics`` renders for one knowledge base."""

    def __init__(self, kb: str) -> None:
        # "written" counts JSON lines and audit events alike
        super().__init__("prodline_rag_log", "kb", kb, "RAG log records")
        self.kb = kb
        reg = self.registry
        self.requests = Counter(
            "prodline_rag_requests",
            "RAG requests answered, by endpoint, HTTP status and answering provider.",
            ["kb", "endpoint", "status", "provider"],
            registry=reg,
        )
        self.latency = Histogram(
            "prodline_rag_request_latency_seconds",
            "Request latency (retrieve, answer, score), by endpoint.",
            ["kb", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.first_token = Histogram(
            "prodline_rag_time_to_first_token_seconds",
            "Streaming chat: time until the first content delta was ready.",
            ["kb"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ).labels(kb)
        self.tokens = Counter(
            "prodline_rag_tokens",
            "LLM tokens, by provider and kind (input, output).",
            ["kb", "provider", "kind"],
            registry=reg,
        )
        self.cost = Counter(
            "prodline_rag_cost_usd",
            "LLM cost in US dollars, by provider (configured prices).",
            ["kb", "provider"],
            registry=reg,
        )
        self.groundedness = Histogram(
            "prodline_rag_groundedness",
            "Groundedness score of each answer (0 = unsupported, 1 = fully supported).",
            ["kb"],
            buckets=SCORE_BUCKETS,
            registry=reg,
        ).labels(kb)
        self.flagged = Counter(
            "prodline_rag_flagged",
            "Answers whose groundedness fell below the threshold.",
            ["kb"],
            registry=reg,
        ).labels(kb)
        self.guard_events = Counter(
            "prodline_rag_guard_events",
            "Guards that fired, by guard (injection, pii_output, prompt_leak, groundedness) "
            "and action (block, redact, flag).",
            ["kb", "guard", "action"],
            registry=reg,
        )
        self.quarantined = Counter(
            "prodline_rag_quarantined_chunks",
            "Retrieved chunks kept out of the prompt because ingest quarantined them.",
            ["kb"],
            registry=reg,
        ).labels(kb)
        self.provider_failures = Counter(
            "prodline_rag_provider_failures",
            "Provider calls that failed (then fell back or gave up), by provider.",
            ["kb", "provider"],
            registry=reg,
        )

    def observe_request(
        self, endpoint: str, status: int, provider: str, seconds: float | None
    ) -> None:
        """Count one request; ``seconds`` is None when the body never reached a handler."""
        self.requests.labels(self.kb, endpoint, str(status), provider).inc()
        if seconds is not None:
            self.latency.labels(self.kb, endpoint).observe(seconds)

    def observe_guard(self, guard: str, action: str) -> None:
        """Count one guard event."""
        self.guard_events.labels(self.kb, guard, action).inc()

    def observe_answer(
        self,
        provider: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
        score: float,
        flagged: bool,
        failed: list[str],
    ) -> None:
        self.tokens.labels(self.kb, provider, "input").inc(input_tokens)
        self.tokens.labels(self.kb, provider, "output").inc(output_tokens)
        self.cost.labels(self.kb, provider).inc(cost_usd)
        self.groundedness.observe(score)
        if flagged:
            self.flagged.inc()
        for name in failed:
            self.provider_failures.labels(self.kb, name).inc()
