"""Metering and budgets of the RAG server (the shared parts: :mod:`prodline.serving.metering`).

Each call carries a :class:`CallMeter`: the CPU time its worker threads spent on it
(retrieval, generation, scoring, guards), the token's user and its budget reservation.
The call's log record takes the meter's note (:data:`~prodline.serving.rag.raglog.METER_KEY`);
the RAG log's writer thread hands it to :meth:`RagCosts.metered`, which builds the
metered record (provider, model and tokens from the call record), prices it, settles the
reservation and queues it for ``ws.costs.meter``.

Before a chat call is answered, :meth:`RagCosts.plan` reserves the call's estimated cost
(the price of its ``max_tokens`` on the provider it would go to) on the hard budgets
that apply; a spent budget refuses the call (429 ``budget_exceeded``) or, with
``on_exceed = "route"``, sends it to the budget's ``route_to`` provider, and the answer's
``route_reason`` says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodline.llm.tokens import count_tokens
from prodline.serving.budgeting import (
    BudgetWatch,
    budget_refusal,
    budget_route,
    is_budget_exceeded,
)
from prodline.serving.metering import MeterSink, columns_of, meter_record, metering_enabled

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from prodline.llm import ChatMessage, Completion, Gateway
    from prodline.rag.types import Hit
    from prodline.workspace import Workspace

__all__ = ["CallMeter", "RagCosts"]


@dataclass
class CallMeter:
    """What one RAG call used: CPU time, whose token, the reservation to settle."""

    token_user: str = ""
    cpu_ns: int = 0
    reservation: Any = None
    _open: int = 0  # thread_time_ns() where the measuring block began (0: none open)

    @contextlib.contextmanager
    def cpu(self) -> Iterator[None]:
        """Count the CPU time of this thread inside the block (blocks do not nest)."""
        if self._open:
            yield
            return
        self._open = start = time.thread_time_ns()
        try:
            yield
        finally:
            self._open = 0
            self.cpu_ns += time.thread_time_ns() - start

    def note(self) -> tuple[float, str, Any]:
        """``(cpu_ms, token_user, reservation)`` for the log record, counting the open
        block up to now (call it from the thread that opened it)."""
        spent = self.cpu_ns + (time.thread_time_ns() - self._open if self._open else 0)
        return spent / 1e6, self.token_user, self.reservation


class RagCosts:
    """The budget watch and the meter sink of one RAG server."""

    def __init__(
        self,
        ws: Workspace,
        kb: str,
        team: str,
        registry: CollectorRegistry,
        *,
        by_token: bool = False,
    ) -> None:
        self.kb = kb
        self.team = team
        self.watch = BudgetWatch(ws, team=team, kb=kb, by_token=by_token)
        self.sink = MeterSink(ws, self.watch, registry, enabled=metering_enabled(ws.home))

    # -- before the call (worker threads) ---------------------------------------------
    def plan(
        self,
        meter: CallMeter,
        gateway: Gateway,
        provider: str | None,
        messages: Sequence[ChatMessage],
        hits: Sequence[Hit],
        max_tokens: int,
    ) -> tuple[str | None, str]:
        """``(provider, note)``: reserve the call's cost on the hard budgets that apply.

        Returns the provider to ask (the server's, or a spent budget's ``route_to``) and
        the note for ``route_reason`` ("" unless routed). Raises ``BudgetRefused`` when a
        spent budget refuses.
        """
        watch = self.watch
        if not watch.enforcing or not watch.budgets_of(meter.token_user):
            return provider, ""
        estimate = self.estimate(gateway, provider, messages, hits, max_tokens)
        try:
            meter.reservation = watch.reserve(meter.token_user, estimate)
        except Exception as exc:
            if not is_budget_exceeded(exc):
                raise
            route = budget_route(exc)
            if route is None:
                raise budget_refusal(exc) from None
            gateway.provider_config(route)  # an unknown provider: InvalidInput naming it
            name = budget_refusal(exc).details.get("budget", "")
            return route, f"budget '{name}' is spent (on_exceed = route): sent to '{route}'"
        return provider, ""

    def estimate(
        self,
        gateway: Gateway,
        provider: str | None,
        messages: Sequence[ChatMessage],
        hits: Sequence[Hit],
        max_tokens: int,
    ) -> float:
        """The call's cost if it used all of ``max_tokens``, on the provider it would go
        to first (the price table's price, else the provider's configured one)."""
        fallback = gateway.config.fallback
        name = provider or (fallback[0] if fallback else "extractive")
        try:
            config = gateway.provider_config(name)
        except Exception:
            return self.watch.last_cost
        prompt = sum(count_tokens(m.content) for m in messages)
        prompt += sum(count_tokens(h.text) for h in hits)
        price = self.watch.price
        tokens = None
        if price is not None:
            tokens = price.token_cost(name, config.model, prompt, max_tokens)
        if tokens is None:
            tokens = config.cost(prompt, max_tokens)
        return float(tokens) + self.watch.last_cost

    def release(self, meter: CallMeter) -> None:
        """Give a failed call's reservation back."""
        if meter.reservation is not None:
            self.watch.settle(meter.reservation, 0.0)
            meter.reservation = None

    @staticmethod
    def routed(completion: Completion, note: str) -> Completion:
        """The completion with the budget's routing in its ``route_reason``."""
        if not note:
            return completion
        return dataclasses.replace(completion, route_reason=f"{note}; {completion.route_reason}")

    # -- after the call (the RAG log's writer thread) ---------------------------------
    def metered(self, batch: list[dict[str, Any]], notes: list[Any], final: bool) -> None:
        """Meter a batch of call records (each with its note, or None)."""
        records: list[dict[str, Any]] = []
        reservations: list[tuple[Any, int]] = []
        for record, note in zip(batch, notes, strict=True):
            if note is None:
                continue
            cpu_ms, user, reservation = note
            if reservation is not None:
                reservations.append((reservation, len(records)))
            records.append(self._record(record, cpu_ms, user))
        self.sink.add(columns_of(records), reservations, final=final)

    def _record(self, call: Mapping[str, Any], cpu_ms: float, user: str) -> dict[str, Any]:
        endpoint = call.get("endpoint", "chat")
        return meter_record(
            ts=datetime.fromisoformat(call["ts"]).timestamp(),
            kind="chat" if endpoint == "chat" else "retrieve",
            request_id=str(call.get("request_id", "")),
            team=self.team,
            token_user=user,
            kb=self.kb,
            provider=call.get("provider") or "",
            llm_model=call.get("model") or "",
            input_tokens=call.get("input_tokens") or 0,
            output_tokens=call.get("output_tokens") or 0,
            cpu_ms=cpu_ms,
            latency_ms=call.get("latency_ms") or 0.0,
        )
