"""The offline answerer on wrapped documentation: whole sentences, and the code they lead to."""

from __future__ import annotations

from prodline.llm import ChatMessage, LlmRequest
from prodline.llm.providers import ExtractiveProvider
from prodline.llm.types import Passage

DOC = """Assert statements are a convenient way to insert debugging assertions
into a program:

assert_stmt ::= "assert" expression ["," expression]

The simple form, "assert expression", is equivalent to

if __debug__:
       if not expression: raise AssertionError

The current code generator emits no code for an
assert statement when optimization is requested at compile time."""


def _answer(question: str) -> str:
    hits = [Passage(chunk_id=4, score=1.0, text=DOC, title="assert")]
    request = LlmRequest(messages=[ChatMessage("user", question)], hits=hits)
    return ExtractiveProvider().complete(request).text


def test_hard_wrapped_prose_is_quoted_as_whole_sentences() -> None:
    text = _answer("What code does the generator emit for assert when optimization is requested?")
    assert (
        "The current code generator emits no code for an assert statement when optimization "
        "is requested at compile time [1]." in text
    )


def test_a_sentence_leading_into_code_brings_the_code_along() -> None:
    text = _answer("What is the simple form of assert expression equivalent to?")
    assert 'The simple form, "assert expression", is equivalent to [1]:' in text
    assert "if __debug__:\n       if not expression: raise AssertionError" in text
