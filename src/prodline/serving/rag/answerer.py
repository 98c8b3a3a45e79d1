"""The RAG server's chat path without a server: what ``ws.kbs.evaluate`` measures.

``ChatAnswerer`` builds the same :class:`~prodline.serving.rag.runtime.RagRuntime` a
``prodline kb serve`` would (gateway from ``prodline.toml``, groundedness scorer or
judge, embedding cache), never starts it (no socket, no call-log writer) and drives a
chat request through ``ask`` → ``complete`` → ``grade``: the request path the server's
``/v1/chat/completions`` runs, less the log record and the output guards. A question
the input guard blocks counts as an abstention with the guard's reason. With ``[llm]
judge`` configured, :attr:`ChatAnswerer.grader` grades answer correctness through that
judge (:class:`~prodline.serving.rag.judge.CorrectnessJudge`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prodline.errors import GuardBlocked
from prodline.rag.evaluate import Answered
from prodline.serving.rag.judge import CorrectnessJudge
from prodline.serving.rag.options import RagOptions
from prodline.serving.rag.runtime import RagRuntime
from prodline.serving.rag.schema import ChatRequest

if TYPE_CHECKING:
    from prodline.llm import Completion
    from prodline.monitor import Groundedness
    from prodline.rag.types import Hit
    from prodline.workspace import Workspace

__all__ = ["ABSTAIN_PREFIX", "ChatAnswerer"]

ABSTAIN_PREFIX = "The documents do not cover"


class ChatAnswerer:
    """Answers questions about one KB the way its RAG server would.

    Parameters
    ----------
    ws, kb
        The workspace and the knowledge base's name.
    provider
        Force one LLM provider, as ``prodline kb serve --provider`` does; by default the
        configured fallback order (offline: the extractive answerer).
    mode
        The retrieval ranked by :meth:`retrieve` (``hybrid``, ``vector``, ``bm25``).
    """

    def __init__(
        self, ws: Workspace, kb: str, *, provider: str | None = None, mode: str = "hybrid"
    ) -> None:
        self.kb = kb
        self.mode = mode
        self.runtime = rt = RagRuntime(ws, kb, RagOptions(provider=provider))
        self.grader: CorrectnessJudge | None = None
        if rt.judge:
            judge_name = rt.judge

            def complete(messages: list[dict[str, str]]) -> str:
                return rt.gateway.complete(messages, provider=judge_name).text

            self.grader = CorrectnessJudge(complete, name=judge_name)

    def retrieve(self, question: str, k: int) -> list[Hit]:
        """The ``k`` best chunks in ``mode``, searched as the server searches (its
        embedding cache); the answer itself always takes the chat path's retrieval."""
        return self.runtime._search(question, k=k, mode=self.mode)

    def answer(self, question: str) -> Answered:
        """Ask, complete and grade ``question`` through the runtime."""
        rt = self.runtime
        request = ChatRequest.model_validate(
            {"model": self.kb, "messages": [{"role": "user", "content": question}]}
        )
        try:
            asked = rt.ask(request, rt.new_request_id(), time.perf_counter())
        except GuardBlocked as blocked:  # the server would refuse it: no answer, abstained
            return Answered(
                text="",
                abstained=True,
                faithfulness=0.0,
                answer_relevance=None,
                citations=(),
                reason=blocked.message,
            )
        completion = rt.complete(asked)
        graded = rt.grade(asked, completion)
        return _answered(completion, graded.grounded)

    def close(self) -> None:
        """Close the gateway's provider clients."""
        self.runtime.gateway.close()

    def __enter__(self) -> ChatAnswerer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _answered(completion: Completion, grounded: Groundedness) -> Answered:
    """The evaluation's view of a completion: abstention from the graded flag when it
    carries one, else from the abstention wording; the groundedness scores."""
    flag = getattr(grounded, "abstained", getattr(completion, "abstained", None))
    abstained = (
        bool(flag) if flag is not None else completion.text.lstrip().startswith(ABSTAIN_PREFIX)
    )
    faithfulness = getattr(grounded, "faithfulness", None)
    relevance = getattr(grounded, "answer_relevance", None)
    return Answered(
        text=completion.text,
        abstained=abstained,
        faithfulness=float(faithfulness if faithfulness is not None else grounded.score),
        answer_relevance=None if relevance is None else float(relevance),
        citations=tuple(completion.citations),
        reason=str(getattr(completion, "abstain_reason", "") or ""),
    )
