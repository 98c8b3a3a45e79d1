"""The privacy policy of a request: parsing it, and the redacted copy sent off-box.

The gateway decides *whether* a provider gets redacted text (see
:mod:`prodline.llm.gateway`); this module makes that copy. Everything that reaches the
prompt is redacted through the request's one :class:`~prodline.llm.types.Redactor`:
the content of every message (the user's own question may hold PII) and each
passage's text, title and heading. The rest of a passage (chunk id, scores, the
calibrated relevance abstention reads) is kept as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from prodline.errors import InvalidInput
from prodline.llm.types import PRIVACY, ChatMessage, LlmRequest, PassageLike, Privacy, Redactor

__all__ = ["parse_privacy", "redact_request", "redaction_note"]


def parse_privacy(value: object) -> Privacy:
    """``value`` as a privacy policy, or ``InvalidInput`` naming the three.

    >>> parse_privacy("redact")
    'redact'
    """
    if not isinstance(value, str) or value not in PRIVACY:
        raise InvalidInput(
            f"privacy must be one of {', '.join(PRIVACY)}; got {value!r}.", field="privacy"
        )
    return cast(Privacy, value)


def redact_request(request: LlmRequest, redactor: Redactor) -> LlmRequest:
    """A copy of ``request`` whose messages and passages went through ``redactor``.

    All texts go in one ``redact_many`` call, so a value recognized in one (a name
    after "Patient:" in a passage) is also replaced where another mentions it bare.
    """
    hits = request.hits
    fields = [text for h in hits for text in (h.text, h.title, h.heading)]
    texts = redactor.redact_many([m.content for m in request.messages] + fields)
    n = len(request.messages)
    messages = tuple(
        ChatMessage(m.role, text) for m, text in zip(request.messages, texts[:n], strict=True)
    )
    rest = texts[n:]
    redacted = tuple(_redacted_passage(h, *rest[3 * i : 3 * i + 3]) for i, h in enumerate(hits))
    return dataclasses.replace(request, messages=messages, hits=redacted)


def redaction_note(counts: dict[str, int], provider: str) -> str:
    """What ``route_reason`` says about a redacted call: counts and kinds, never values.

    >>> redaction_note({"email": 2, "phone": 1}, "cloud")
    "redacted 3 values (email, phone) for provider 'cloud'"
    """
    total = sum(counts.values())
    noun = "value" if total == 1 else "values"
    kinds = f" ({', '.join(sorted(counts))})" if counts else ""
    return f"redacted {total} {noun}{kinds} for provider '{provider}'"


class _RedactedPassage:
    """A passage with redacted prompt fields; every other attribute is the original's."""

    def __init__(self, original: PassageLike, text: str, title: str, heading: str) -> None:
        self._original = original
        self.text = text
        self.title = title
        self.heading = heading

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _redacted_passage(hit: PassageLike, text: str, title: str, heading: str) -> PassageLike:
    if dataclasses.is_dataclass(hit) and not isinstance(hit, type):
        try:
            return cast(
                PassageLike, dataclasses.replace(hit, text=text, title=title, heading=heading)
            )
        except (TypeError, ValueError):  # not init fields: fall back to the wrapper
            pass
    return cast(PassageLike, _RedactedPassage(hit, text, title, heading))
