"""The gateway: one call site for every LLM, with sensitivity routing, fallback, metering.

Routing, in order:

1. **Sensitive context.** If any retrieved hit has ``sensitivity`` other than ``"none"``
   (``pii``, ``phi``), what happens depends on the request's ``privacy`` policy:

   * ``route`` (the default): only self-hosted providers are eligible: those marked
     ``self_hosted = true`` plus the extractive answerer, which never leaves the
     process. If ``llm.fallback`` holds none, the extractive answerer answers.
   * ``redact``: every provider in ``llm.fallback`` is eligible, but a provider that is
     not self-hosted is sent the messages *and* the passages (text, title, heading)
     with PII/PHI replaced by typed placeholders (``<EMAIL_1>``, ``<PERSON_2>``) from
     one fresh vault per request, so a value has the same placeholder everywhere. The
     answer (and every stream delta) is restored before the caller sees it;
     ``Completion.redactions`` counts the values per kind and ``route_reason`` says
     "redacted N values (email, phone) for provider 'X'" — never the values.
     Self-hosted providers get the raw text. The redactor is injected
     (``Gateway(redactor=...)``, see :class:`~prodline.llm.types.Redactor`); without
     one a ``redact`` request is ``InvalidInput``.
   * ``refuse``: if the call would go to a provider that is not self-hosted (the one
     requested, or the first in ``llm.fallback``), it is refused with
     ``InvalidInput`` naming the policy, instead of being rerouted to a self-hosted
     or extractive answerer; otherwise it is routed as under ``route``.

   Under ``redact`` a non-self-hosted provider is sent redacted text even when no hit
   is labelled sensitive: the user's own message may hold PII too.
2. **Explicit provider.** ``provider="name"`` tries only that provider (no fallback: the
   caller asked for it, e.g. to evaluate it). If the context is sensitive and the
   provider is not self-hosted, the call is *refused* with ``InvalidInput`` rather than
   silently rerouted (policies ``route`` and ``refuse``): the caller chose a model on
   purpose, and an answer from a different one would mislead them about what
   answered, at what cost and quality. Under ``redact`` it is sent redacted.
3. **Fallback.** Otherwise eligible providers are tried in ``llm.fallback`` order; each
   failure is recorded as ``{"provider", "error"}`` and the next is tried. When all fail,
   ``ProviderUnavailable`` lists them in ``details["tried"]``.

Every ``Completion`` carries ``route_reason`` (why these providers), ``tried``, token
counts (provider-reported or counted), ``latency_ms`` (as the caller waited, retries and
fallbacks included), ``cost_usd`` (tokens / 1000 x the configured prices) and
``redactions``.

A stream falls back only until its first delta: once text has reached the caller,
a failure raises ``ProviderUnavailable`` with ``details["partial"] = True``. A redacted
stream holds back a trailing partial placeholder (``<EMAIL_``) until it closes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prodline.core.sensitivity import LEVEL_ORDER
from prodline.errors import InvalidInput
from prodline.llm.config import EXTRACTIVE, LlmConfig, load_llm_config
from prodline.llm.errors import ProviderFailed, ProviderUnavailable
from prodline.llm.privacy import parse_privacy, redact_request, redaction_note
from prodline.llm.providers import Embed, Provider, build_provider
from prodline.llm.types import (
    ChatMessage,
    Completion,
    LlmRequest,
    PassageLike,
    ProviderConfig,
    Redactor,
)

__all__ = ["Gateway"]

log = logging.getLogger("prodline.llm")
_ROLES = ("system", "user", "assistant")


class Gateway:
    """Answers chat requests through the configured providers.

    Parameters
    ----------
    config
        Providers and fallback order; only the extractive answerer when ``None``.
    providers
        Ready provider objects by name, used instead of building them from ``config``
        (tests, custom clients). Their own ``config`` decides self-hosting and prices.
    embed
        Optional embedding function for the extractive answerer's sentence scoring.
    on_complete
        Called with every successful ``Completion`` (e.g. to write the cost ledger).
    redactor
        Makes one fresh :class:`~prodline.llm.types.Redactor` per request; needed by
        requests with ``privacy="redact"`` (e.g. ``prodline.guard.redact.Redaction``).
    """

    def __init__(
        self,
        config: LlmConfig | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        embed: Embed | None = None,
        on_complete: Callable[[Completion], None] | None = None,
        redactor: Callable[[], Redactor] | None = None,
    ) -> None:
        if redactor is not None and not callable(redactor):
            raise InvalidInput(
                "redactor must be a factory that makes one redactor per request, "
                "e.g. prodline.guard.redact.Redaction (the class, not an instance).",
                field="redactor",
            )
        self.config = config or LlmConfig()
        self.embed = embed
        self.on_complete = on_complete
        self.redactor = redactor
        self._providers: dict[str, Provider] = dict(providers or {})
        self._built: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_home(cls, home: Path, **kwargs: Any) -> Gateway:
        """A gateway configured from ``<home>/prodline.toml``."""
        return cls(load_llm_config(home), **kwargs)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP clients of the providers this gateway built."""
        with self._lock:
            for name in self._built:
                self._providers.pop(name).close()
            self._built.clear()

    @property
    def names(self) -> list[str]:
        """Every provider name that can be requested."""
        return sorted(set(self.config.providers) | set(self._providers))

    def provider_config(self, name: str) -> ProviderConfig:
        """Provider ``name``'s settings, without building its HTTP client.

        Raises ``InvalidInput`` listing the known providers when ``name`` is not one.
        """
        if name in self._providers:
            return self._providers[name].config
        if name in self.config.providers:
            return self.config.providers[name]
        raise InvalidInput(
            f"LLM provider '{name}' is not configured; known: {', '.join(self.names)}. "
            "Add it under [llm.providers] in prodline.toml.",
            provider=name,
        )

    def _provider(self, name: str) -> Provider:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = build_provider(self.provider_config(name), embed=self.embed)
                self._built.add(name)
            return self._providers[name]

    def plan(
        self, hits: Sequence[PassageLike], provider: str | None = None, privacy: str = "route"
    ) -> tuple[list[str], str]:
        """The providers to try, in order, and why (``route_reason``).

        Raises ``InvalidInput`` when the ``privacy`` policy forbids the call (see the
        module docstring); under ``redact`` the non-self-hosted names in the plan are
        the ones sent redacted.
        """
        privacy = parse_privacy(privacy)
        label = _sensitivity(hits)
        if provider is not None:
            config = self.provider_config(provider)
            if label and not config.is_self_hosted:
                if privacy == "redact":
                    return [provider], (
                        f"provider '{provider}' requested by the caller; context has {label}, "
                        "sent redacted"
                    )
                raise InvalidInput(
                    f"LLM provider '{provider}' is not self-hosted and the retrieved context "
                    f"has {label} (privacy policy '{privacy}'); request a provider marked "
                    f"self_hosted = true (or '{EXTRACTIVE}'), omit the provider to route "
                    "automatically, or use privacy 'redact' to send it redacted.",
                    provider=provider,
                    sensitivity=label,
                    **({"privacy": privacy} if privacy != "route" else {}),
                )
            extra = f"; context has {label}, provider is self-hosted" if label else ""
            return [provider], f"provider '{provider}' requested by the caller{extra}"
        order = list(self.config.fallback)
        if not label:
            return order, f"fallback order: {', '.join(order)}"
        if privacy == "redact":
            return order, (
                f"context has {label}: providers that are not self-hosted get it redacted "
                f"(fallback order: {', '.join(order)})"
            )
        if privacy == "refuse" and order and not self.provider_config(order[0]).is_self_hosted:
            raise InvalidInput(
                f"The retrieved context has {label} and privacy policy 'refuse' forbids "
                f"sending it to '{order[0]}', the first provider in llm.fallback, which is "
                "not self-hosted. Choose privacy 'route' (self-hosted providers only) or "
                "'redact' (send it redacted), or put a self-hosted provider first in "
                "llm.fallback.",
                provider=order[0],
                sensitivity=label,
                privacy=privacy,
            )
        eligible = [n for n in order if self.provider_config(n).is_self_hosted]
        if not eligible:
            return [EXTRACTIVE], (
                f"context has {label}: no self-hosted provider configured, "
                "using the extractive answerer"
            )
        return eligible, (
            f"context has {label}: restricted to self-hosted providers ({', '.join(eligible)})"
        )

    def complete(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        hits: Sequence[PassageLike] = (),
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        provider: str | None = None,
        privacy: str = "route",
    ) -> Completion:
        """Answer ``messages`` from ``hits`` with the first eligible provider that works.

        Raises
        ------
        InvalidInput
            Bad messages or limits, an unknown provider or privacy policy, a
            non-self-hosted provider requested for PII/PHI context (unless ``redact``),
            ``refuse`` with a non-self-hosted first choice, or ``redact`` without a
            redactor.
        ProviderUnavailable
            Every eligible provider failed; ``details["tried"]`` says how.
        """
        request = self._request(messages, hits, max_tokens, temperature, privacy)
        started = time.perf_counter()
        names, reason = self.plan(request.hits, provider, request.privacy)
        outbound = _Outbound(self, request)
        tried: list[dict[str, Any]] = []
        for name in names:
            sent, redactor = outbound.for_provider(name)
            try:
                completion = self._provider(name).complete(sent)
            except ProviderFailed as exc:
                self._failed(name, exc, tried)
                continue
            if redactor is not None:
                completion = dataclasses.replace(completion, text=redactor.restore(completion.text))
            return self._final(name, completion, reason, tried, started, redactor)
        raise _unavailable(tried, reason)

    def stream(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        hits: Sequence[PassageLike] = (),
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        provider: str | None = None,
        privacy: str = "route",
    ) -> Iterator[str | Completion]:
        """Text deltas as they arrive, then the final ``Completion`` (same rules as complete).

        Validation and routing errors are raised on the first ``next()``.
        """
        request = self._request(messages, hits, max_tokens, temperature, privacy)
        started = time.perf_counter()
        names, reason = self.plan(request.hits, provider, request.privacy)
        outbound = _Outbound(self, request)
        tried: list[dict[str, Any]] = []
        for name in names:
            outgoing, redactor = outbound.for_provider(name)
            restorer = redactor.stream_restorer() if redactor is not None else None
            sent = False
            final: Completion | None = None
            try:
                for item in self._provider(name).stream(outgoing):
                    if isinstance(item, Completion):
                        final = item
                        continue
                    out = restorer.feed(item) if restorer is not None else item
                    if out:
                        sent = True
                        yield out
            except ProviderFailed as exc:
                self._failed(name, exc, tried)
                if sent:
                    raise _unavailable(tried, reason, partial=True) from None
                continue
            if final is None:
                self._failed(name, ProviderFailed("stream ended without a result"), tried)
                if sent:
                    raise _unavailable(tried, reason, partial=True)
                continue
            if restorer is not None and redactor is not None:
                tail = restorer.flush()
                if tail:
                    yield tail
                final = dataclasses.replace(final, text=redactor.restore(final.text))
            yield self._final(name, final, reason, tried, started, redactor)
            return
        raise _unavailable(tried, reason)

    def _request(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        hits: Sequence[PassageLike],
        max_tokens: int,
        temperature: float,
        privacy: str,
    ) -> LlmRequest:
        policy = parse_privacy(privacy)
        if policy == "redact" and self.redactor is None:
            raise InvalidInput(
                "privacy 'redact' needs the guard: this gateway was built without a "
                "redactor (Gateway(redactor=prodline.guard.redact.Redaction)); use "
                "privacy 'route' or 'refuse', or build the gateway with one.",
                field="privacy",
            )
        request = _request(messages, hits, max_tokens, temperature)
        return dataclasses.replace(request, privacy=policy)

    def _failed(self, name: str, exc: ProviderFailed, tried: list[dict[str, Any]]) -> None:
        tried.append({"provider": name, "error": exc.message})
        log.warning("LLM provider %r failed: %s", name, exc.message)

    def _final(
        self,
        name: str,
        completion: Completion,
        reason: str,
        tried: list[dict[str, Any]],
        started: float,
        redactor: Redactor | None = None,
    ) -> Completion:
        config = self.provider_config(name)
        if tried:
            failed = ", ".join(t["provider"] for t in tried)
            reason = f"{reason}; {failed} failed, answered by {name}"
        redactions: dict[str, int] = {}
        if redactor is not None:
            redactions = {k: n for k, n in redactor.counts().items() if n}
            reason = f"{reason}; {redaction_note(redactions, name)}"
        final = dataclasses.replace(
            completion,
            provider=name,
            cost_usd=config.cost(completion.input_tokens, completion.output_tokens),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            route_reason=reason,
            tried=list(tried),
            redactions=redactions,
        )
        if self.on_complete is not None:
            self.on_complete(final)
        return final


class _Outbound:
    """What each provider of one request is sent: the raw request, or one redacted copy.

    The redacted copy is made once, on the first provider that needs it, through one
    redactor, so every provider tried is sent the same placeholders.
    """

    def __init__(self, gateway: Gateway, request: LlmRequest) -> None:
        self.gateway = gateway
        self.request = request
        self._redacted: tuple[LlmRequest, Redactor] | None = None

    def for_provider(self, name: str) -> tuple[LlmRequest, Redactor | None]:
        request, factory = self.request, self.gateway.redactor
        if request.privacy != "redact" or self.gateway.provider_config(name).is_self_hosted:
            return request, None
        if self._redacted is None:
            if factory is None:  # pragma: no cover - refused when the request is built
                raise InvalidInput("privacy 'redact' needs the guard.", field="privacy")
            redactor = factory()
            self._redacted = (redact_request(request, redactor), redactor)
        return self._redacted


def _sensitivity(hits: Sequence[PassageLike]) -> str:
    """The most sensitive label among the hits, or "" when all are "none"."""
    labels = {h.sensitivity for h in hits if h.sensitivity != "none"}
    return max(labels, key=lambda s: (LEVEL_ORDER.get(s, 99), s)) if labels else ""


def _request(
    messages: Sequence[ChatMessage | Mapping[str, str]],
    hits: Sequence[PassageLike],
    max_tokens: int,
    temperature: float,
) -> LlmRequest:
    turns: list[ChatMessage] = []
    for i, m in enumerate(messages):
        if isinstance(m, Mapping):
            m = ChatMessage(m.get("role", ""), m.get("content", ""))  # type: ignore[arg-type]
        if not isinstance(m, ChatMessage) or m.role not in _ROLES:
            raise InvalidInput(
                f"messages[{i}].role must be one of {', '.join(_ROLES)}.", field=f"messages[{i}]"
            )
        if not isinstance(m.content, str):
            raise InvalidInput(f"messages[{i}].content must be text.", field=f"messages[{i}]")
        turns.append(m)
    if not any(m.role == "user" for m in turns):
        raise InvalidInput("messages must include a user message.", field="messages")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInput("max_tokens must be a positive integer.", field="max_tokens")
    if not 0.0 <= temperature <= 2.0:
        raise InvalidInput("temperature must be between 0 and 2.", field="temperature")
    return LlmRequest(tuple(turns), tuple(hits), max_tokens, float(temperature))


def _unavailable(
    tried: list[dict[str, Any]], reason: str, *, partial: bool = False
) -> ProviderUnavailable:
    summary = "; ".join(f"{t['provider']}: {t['error']}" for t in tried) or "none eligible"
    where = "mid-stream" if partial else "at all"
    return ProviderUnavailable(
        f"No LLM provider could answer {where} ({summary}). Check that the servers are up "
        f"and their API keys are set, or add '{EXTRACTIVE}' to llm.fallback.",
        tried=list(tried),
        route_reason=reason,
        partial=partial,
    )
