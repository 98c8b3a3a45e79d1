"""Answer correctness graded by the configured judge (``[llm] judge`` in prodline.toml).

``prodline kb eval`` grades answers lexically (key phrase, else token F1) unless a judge
is configured; then :class:`CorrectnessJudge` asks it a strict yes/no question per answer
through the gateway (routing, metering and privacy apply as to any call) and the
evaluation (:func:`prodline.rag.evaluate.evaluate`) takes the verdict. A reply that is
neither "yes" nor "no", or a failed call, is ``None``: the lexical score stands in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["RUBRIC", "CorrectnessJudge", "parse_verdict"]

_log = logging.getLogger(__name__)

RUBRIC = (
    "You grade answers against a reference. Does the ANSWER state the same fact as the "
    "REFERENCE? Reply with exactly 'yes' or 'no'."
)


def parse_verdict(reply: str) -> bool | None:
    """``True`` for "yes", ``False`` for "no" (case, quotes and a final full stop aside),
    ``None`` for anything else.

    Examples
    --------
    >>> parse_verdict("Yes."), parse_verdict("'no'"), parse_verdict("maybe")
    (True, False, None)
    """
    word = reply.strip().strip("'\"`*").rstrip(".!").strip().lower()
    return {"yes": True, "no": False}.get(word)


class CorrectnessJudge:
    """Grades one answer against its reference with a judge model, yes or no.

    Parameters
    ----------
    complete
        Takes chat messages (``[{"role", "content"}]``) and returns the judge's reply.
    name
        The judge provider's name, reported as ``judge:NAME``.

    Examples
    --------
    >>> judge = CorrectnessJudge(lambda messages: "yes", name="fake")
    >>> judge("How long do refunds take?", "Within 14 days.", "14 days"), judge.method
    (True, 'judge:fake')
    """

    def __init__(self, complete: Callable[[list[dict[str, str]]], str], *, name: str) -> None:
        self.complete = complete
        self.name = name

    @property
    def method(self) -> str:
        """How correctness was graded, as the evaluation report says it."""
        return f"judge:{self.name}"

    @staticmethod
    def messages(question: str, answer: str, reference: str) -> list[dict[str, str]]:
        """The chat messages sent to the judge: the rubric as a system message too, since
        the gateway puts its own answering prompt first (no passages are sent)."""
        return [
            {"role": "system", "content": f"This is a grading task, not a question. {RUBRIC}"},
            {
                "role": "user",
                "content": f"{RUBRIC}\n\nQUESTION: {question}\nREFERENCE: {reference}\n"
                f"ANSWER: {answer}\n\nReply with exactly 'yes' or 'no'.",
            },
        ]

    def __call__(self, question: str, answer: str, reference: str) -> bool | None:
        """The judge's verdict; ``None`` when the call fails or the reply is neither."""
        try:
            reply = self.complete(self.messages(question, answer, reference))
        except Exception as exc:  # an outage must not lose the run: the lexical score stands
            _log.warning(
                "correctness judge %s failed (%s); using the lexical score", self.name, exc
            )
            return None
        verdict = parse_verdict(reply)
        if verdict is None:
            _log.warning(
                "correctness judge %s reply unreadable; using the lexical score", self.name
            )
        return verdict
