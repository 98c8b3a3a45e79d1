"""Answer relevance, context relevance and the flag that uses all three scores."""

from __future__ import annotations

import numpy as np

from prodline.monitor import GroundednessScorer
from prodline.monitor.answer_scores import answer_relevance, context_relevance

CONTEXTS = ["Refunds are issued within 14 days of receiving the returned item."]
QUESTION = "When are refunds issued?"
ANSWER = "Refunds are issued within 14 days of receiving the returned item [1]."


def test_answer_relevance_is_lexical_without_embed_and_blended_with_it() -> None:
    assert answer_relevance(QUESTION, ANSWER) == 1.0
    assert answer_relevance(QUESTION, "Our office is in Paris.") == 0.0
    assert answer_relevance(QUESTION, "") is None

    def embed(texts: list[str]) -> np.ndarray:  # the question and answer point the same way
        return np.ones((len(texts), 3)) / np.sqrt(3)

    assert answer_relevance(QUESTION, "Our office is in Paris.", embed) == 0.5


def test_context_relevance_is_the_best_known_hit() -> None:
    assert context_relevance([0.1, None, 0.6]) == 0.6
    assert context_relevance([None]) is None


def test_flag_uses_all_three_scores_and_says_why() -> None:
    scorer = GroundednessScorer(threshold=0.5, answer_threshold=0.3, context_threshold=0.35)
    good = scorer.rate(scorer.score(ANSWER, CONTEXTS), QUESTION, ANSWER, [0.8])
    assert not good.flagged and good.reasons == ()
    assert good.faithfulness == good.score >= 0.5
    assert good.answer_relevance == 1.0 and good.context_relevance == 0.8
    off_context = scorer.rate(scorer.score(ANSWER, CONTEXTS), QUESTION, ANSWER, [0.1])
    assert off_context.flagged and off_context.reasons == ("context relevance 0.10 < 0.35",)
    beside = "Refunds are issued within 14 days of receiving the returned item."
    off_question = scorer.rate(
        scorer.score(beside, CONTEXTS), "Where is the office?", beside, [0.9]
    )
    assert off_question.flagged
    assert off_question.reasons == ("answer relevance 0.00 < 0.30",)
    data = good.to_dict()
    assert data["faithfulness"] == data["score"] and data["abstained"] is False


def test_an_abstention_is_faithful_and_not_flagged() -> None:
    scorer = GroundednessScorer()
    text = 'The documents do not cover "How do I bake bread".'
    rated = scorer.rate(
        scorer.score(text, CONTEXTS), "How do I bake bread?", text, [0.05], abstained=True
    )
    assert rated.abstained and not rated.flagged and rated.score == 1.0
    assert rated.answer_relevance is None and rated.context_relevance == 0.05
