"""Groundedness: how well an answer is supported by the context it was retrieved with.

Each answer gets a score in [0, 1]. The offline scorer (the default) splits the answer
into sentences and measures how well each one is supported by the context sentences:
embedding similarity, lexical coverage of its content words, numbers and names that no
context contains, and a word negated on one side but affirmed on the other. A logistic
combination of those features is the sentence's support; the answer's score blends the
mean support with the weakest sentence's (the fitted weights use the weakest alone), so
one fabricated sentence drags the whole answer down. Held-out ROC AUC on the labelled set
in tests/data: 0.864 with MiniLM embeddings, 0.853 lexical only. ``LlmJudge`` asks a judge
model for per-sentence ratings instead and falls back to the offline scorer when the
reply cannot be read.

Edge cases, by decision: an answer with no claim-bearing sentence ("", "Sure!") claims
nothing and scores 1.0; an answer with claims but no (non-blank) context scores 0.0.
Input of the wrong type (``None``, a bare string as ``contexts``) raises ``InvalidInput``.

Scores are logged (score, flag, method; never the text) on this module's logger, and an
answer scoring below ``threshold`` is ``flagged`` for human review.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np

from prodline.core.text import STOP_WORDS, split_sentences
from prodline.core.text import stem as _stem
from prodline.errors import InvalidInput

__all__ = ["Groundedness", "GroundednessScorer", "LlmJudge", "SentenceSupport", "SupportWeights"]

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
Complete = Callable[[list[dict[str, str]]], str]


@dataclass(frozen=True)
class SentenceSupport:
    """How well one answer sentence is supported, and by which context (0-based)."""

    sentence: str
    support: float
    best_context_index: int | None


@dataclass(frozen=True)
class Groundedness:
    """The scores of one answer; ``flagged`` when any is below its threshold.

    ``score`` is the faithfulness (answer supported by the context). ``answer_relevance``
    and ``context_relevance`` (:mod:`prodline.monitor.answer_scores`) are set by
    :meth:`GroundednessScorer.rate`; ``reasons`` says which score raised the flag.
    """

    score: float
    flagged: bool
    method: str
    sentences: tuple[SentenceSupport, ...]
    answer_relevance: float | None = None
    context_relevance: float | None = None
    reasons: tuple[str, ...] = ()
    abstained: bool = False

    @property
    def faithfulness(self) -> float:
        """The answer's support by the context (the same number as ``score``)."""
        return self.score

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the scores, the flag and why, the method, each sentence."""
        return {
            "score": self.score,
            "faithfulness": self.score,
            "answer_relevance": self.answer_relevance,
            "context_relevance": self.context_relevance,
            "flagged": self.flagged,
            "reasons": list(self.reasons),
            "abstained": self.abstained,
            "method": self.method,
            "sentences": [asdict(s) for s in self.sentences],
        }


@dataclass(frozen=True)
class SupportWeights:
    """Logistic weights from sentence features to support, and the answer aggregate.

    support = sigmoid(intercept + embedding*cos + lexical*share + missing*m + negation*n);
    score = (1 - min_weight) * mean(support) + min_weight * min(support).
    """

    intercept: float
    embedding: float
    lexical: float
    missing: float
    negation: float
    min_weight: float = 0.5


# Fitted on the TRAIN split of tests/data/groundedness_eval.jsonl (120 pairs from 12 of its
# 24 passages; the other 12 passages are the held-out TEST split) by ``fit`` below:
# scikit-learn LogisticRegression (C=10, picked by 4-fold grouped cross-validation on train
# among 1, 10, 100) over the features of each answer's weakest sentence, then the
# min_weight with the best train ROC AUC (the pure minimum won). Embeddings: MiniLM-L6-v2.
# ``test_shipped_weights_match_a_refit_on_train`` re-derives both sets. Held-out TEST
# ROC AUC: 0.864 with embeddings, 0.853 lexical only (printed by the tests with ``-s``).
EMBEDDING_WEIGHTS = SupportWeights(
    intercept=-2.19, embedding=2.184, lexical=2.011, missing=-5.625, negation=-2.264, min_weight=1.0
)
LEXICAL_WEIGHTS = SupportWeights(
    intercept=-1.274, embedding=0.0, lexical=2.928, missing=-5.246, negation=-2.312, min_weight=1.0
)

# Answer relevance below this flags the answer: the mean of question/answer cosine and
# question-word share; see bench/rag_calibrate.py for how it sits on the shipped set.
ANSWER_RELEVANCE_FLOOR = 0.3
# An answer given from context whose best calibrated relevance is below this is flagged:
# the abstention threshold (prodline.llm.abstain.ABSTAIN_BELOW), which the answerers use.
CONTEXT_RELEVANCE_FLOOR = 0.2858

_NEGATIONS = frozenset(
    "not no never cannot nor neither none nothing nobody without non unable".split()  # noqa: SIM905
)
# "one" is left out: it is a pronoun more often than a number ("one of your admins").
_NUMBER_WORDS = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
}
_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|[A-Za-z]+(?:['’][A-Za-z]+)*|[%,;:.!?()]")
_PUNCTUATION = frozenset(",;:.!?()")
_RESTRICTIVE = frozenset(("only", "except", "unless"))
_CLAUSE_BREAKS = frozenset(
    "but because although though while whereas unless except since so which who that".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class _Terms:
    content: frozenset[str]  # stems of content words, numbers as written
    critical: frozenset[str]  # numbers and capitalised names: must appear in the context
    negated: frozenset[str]  # content words inside a negation's scope ("not [covered]")
    heads: frozenset[str]  # the first content word after each negation
    affirmed: frozenset[str]  # content words outside any negation's scope
    restrictive: bool  # "only", "except", "unless": "only if X" = "not unless X"


def _terms(sentence: str) -> _Terms:
    content: set[str] = set()
    critical: set[str] = set()
    negated: set[str] = set()
    heads: set[str] = set()
    affirmed: set[str] = set()
    scope = 0  # content words still governed by the last negation
    head = restrictive = False
    for position, raw in enumerate(_TOKEN.findall(sentence)):
        word = "percent" if raw == "%" else raw.lower().replace("’", "'")
        restrictive = restrictive or word in _RESTRICTIVE
        if word in _PUNCTUATION or word in _CLAUSE_BREAKS:
            scope = 0
            continue
        if word in _NEGATIONS or word.endswith("n't"):
            scope, head = (1 if word == "non" else 3), True
            continue
        if raw[0].isdigit() or word in _NUMBER_WORDS:
            stem = _NUMBER_WORDS.get(word, raw.replace(",", ""))
            critical.add(stem)
        elif len(word) < 2 or (word in STOP_WORDS and not (position and raw.istitle())):
            continue  # a stopword, unless it is a name mid-sentence ("12 May")
        else:
            stem = _stem(word.split("'")[0])
            if (position > 0 and raw[0].isupper()) or (len(raw) > 1 and raw.isupper()):
                critical.add(stem)
        content.add(stem)
        (negated if scope else affirmed).add(stem)
        if scope and head:
            heads.add(stem)
        scope, head = max(0, scope - 1), False
    return _Terms(
        frozenset(content),
        frozenset(critical),
        frozenset(negated),
        frozenset(heads),
        frozenset(affirmed),
        restrictive,
    )


def _conflicts(claim: _Terms, source: _Terms) -> bool:
    """A negated word affirmed on the other side ("not covered" / "covers").

    Restrictions on both sides cancel: "only refunded if damaged" matches "not refunded,
    except when damaged".
    """
    if claim.restrictive and source.restrictive:
        return False
    return bool(
        (claim.heads & source.affirmed) - source.negated
        or (claim.affirmed & source.heads) - claim.negated
    )


def _overlap(claim: frozenset[str], source: frozenset[str]) -> tuple[int, float]:
    """Shared words, then their share of the source: the closest, most focused sentence."""
    shared = len(claim & source)
    return shared, shared / max(1, len(source))


def _check_input(answer: object, contexts: object) -> None:
    if not isinstance(answer, str):
        raise InvalidInput(f"The answer must be a string, not {type(answer).__name__}.")
    if isinstance(contexts, str) or not isinstance(contexts, Sequence):
        raise InvalidInput("Contexts must be a list of strings; wrap a single context in [ ].")
    if not all(isinstance(c, str) for c in contexts):
        raise InvalidInput("Every context must be a string; convert or drop the others.")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _aggregate(supports: Sequence[float] | np.ndarray, min_weight: float) -> float:
    mean, low = float(np.mean(supports)), float(np.min(supports))
    return min(1.0, max(0.0, (1.0 - min_weight) * mean + min_weight * low))


def _result(
    sentences: tuple[SentenceSupport, ...], score: float, threshold: float, method: str
) -> Groundedness:
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold must be in [0, 1], got {threshold}; 0.5 is the default.")
    result = Groundedness(round(score, 4), score < threshold, method, sentences)
    logger.info(
        "groundedness score=%.3f flagged=%s method=%s sentences=%d",
        result.score,
        result.flagged,
        method,
        len(sentences),
    )
    return result


class GroundednessScorer:
    """Offline groundedness: sentence-level support by embeddings and lexical overlap.

    Parameters
    ----------
    embed : callable, optional
        Maps texts to L2-normalised vectors, shape (n, d). Without it, only lexical
        features are used (with their own fitted weights).
    threshold : float
        Answers scoring below it are flagged.
    weights : SupportWeights, optional
        Overrides the shipped weights (``EMBEDDING_WEIGHTS`` or ``LEXICAL_WEIGHTS``).
        ``fit`` learns ``weights_``, which then takes precedence.

    Examples
    --------
    >>> scorer = GroundednessScorer()
    >>> ctx = ["Refunds are issued within 14 days of the return being received."]
    >>> scorer.score("Refunds are issued within 14 days [1].", ctx).flagged
    False
    >>> scorer.score("Refunds are issued within 90 days.", ctx).flagged
    True
    """

    def __init__(
        self,
        *,
        embed: Embed | None = None,
        threshold: float = 0.5,
        weights: SupportWeights | None = None,
        answer_threshold: float = ANSWER_RELEVANCE_FLOOR,
        context_threshold: float = CONTEXT_RELEVANCE_FLOOR,
    ) -> None:
        self.embed = embed
        self.threshold = threshold
        self.weights = weights
        self.answer_threshold = answer_threshold
        self.context_threshold = context_threshold

    def rate(
        self,
        grounded: Groundedness,
        question: str,
        answer: str,
        relevances: Sequence[float | None] = (),
        *,
        abstained: bool = False,
    ) -> Groundedness:
        """``grounded`` (offline or judged faithfulness) with the two relevance scores.

        The flag then uses all three: faithfulness below ``threshold``, answer relevance
        below ``answer_threshold``, or an answer given from context whose relevance is
        below ``context_threshold``. An abstention claims nothing from the context
        (faithfulness 1.0), answers no question (answer relevance None) and is not
        flagged: it is the right outcome for irrelevant context.
        """
        from prodline.monitor.answer_scores import answer_relevance, context_relevance

        context = context_relevance(relevances)
        if abstained:
            return replace(
                grounded,
                score=1.0,
                flagged=False,
                sentences=(),
                answer_relevance=None,
                context_relevance=context,
                reasons=(),
                abstained=True,
            )
        relevant = answer_relevance(question, answer, self.embed)
        reasons = []
        if grounded.score < self.threshold:
            reasons.append(f"faithfulness {grounded.score:.2f} < {self.threshold:.2f}")
        if relevant is not None and relevant < self.answer_threshold:
            reasons.append(f"answer relevance {relevant:.2f} < {self.answer_threshold:.2f}")
        if context is not None and context < self.context_threshold:
            reasons.append(f"context relevance {context:.2f} < {self.context_threshold:.2f}")
        return replace(
            grounded,
            flagged=bool(reasons),
            answer_relevance=relevant,
            context_relevance=context,
            reasons=tuple(reasons),
        )

    @property
    def method(self) -> str:
        """How support is measured, recorded with each score so results stay comparable.

        "offline" adds embedding similarity to word overlap; "offline-lexical" uses word
        features alone, when no ``embed`` was given.
        """
        return "offline" if self.embed is not None else "offline-lexical"

    def _weights(self) -> SupportWeights:
        fitted: SupportWeights | None = getattr(self, "weights_", None)
        if fitted is not None:
            return fitted
        if self.weights is not None:
            return self.weights
        return EMBEDDING_WEIGHTS if self.embed is not None else LEXICAL_WEIGHTS

    def sentence_features(
        self, answer: str, contexts: Sequence[str]
    ) -> tuple[list[str], np.ndarray, list[int | None]]:
        """Claim-bearing answer sentences, their features and best context (0-based).

        Features per sentence, in ``SupportWeights`` order: max cosine to a context
        sentence or whole context (0 without ``embed``); share of content words found in
        the best window of one or two consecutive context sentences; unmatched numbers
        and names (0, 0.5, or 1 for two or more); negation mismatch with the best single
        context sentence (0 or 1).
        """
        _check_input(answer, contexts)
        claims = [(s, t) for s in split_sentences(answer) if (t := _terms(s)).content]
        singles: list[tuple[int, _Terms]] = []  # (context index, terms) per context sentence
        targets: list[tuple[int, str]] = []  # (context index, text) to embed
        windows: list[tuple[int, frozenset[str]]] = []
        for index, context in enumerate(contexts):
            sentences = split_sentences(context)
            parsed = [_terms(s) for s in sentences]
            singles.extend((index, t) for t in parsed)
            targets.extend((index, s) for s in sentences)
            if len(sentences) > 1:
                targets.append((index, context))
            windows.extend((index, t.content) for t in parsed)
            windows.extend((index, a.content | b.content) for a, b in pairwise(parsed))
        known = frozenset().union(*(t.content for _, t in singles))
        cosines = self._cosines([s for s, _ in claims], [text for _, text in targets])
        features = np.zeros((len(claims), 4))
        best: list[int | None] = [None] * len(claims)
        for row, (_, terms) in enumerate(claims):
            features[row, 2] = min(len(terms.critical - known), 2) / 2
            if not windows:
                continue
            shares = [len(terms.content & w) / len(terms.content) for _, w in windows]
            top = int(np.argmax(shares))
            features[row, 1] = shares[top]
            best[row] = windows[top][0]
            closest = max(singles, key=lambda s: _overlap(terms.content, s[1].content))[1]
            features[row, 3] = float(_conflicts(terms, closest))
            if cosines is not None:
                features[row, 0] = float(cosines[row].max())
                best[row] = targets[int(cosines[row].argmax())][0]
        return [s for s, _ in claims], features, best

    def _cosines(self, claims: list[str], targets: list[str]) -> np.ndarray | None:
        if self.embed is None or not claims or not targets:
            return None
        vectors = np.asarray(self.embed([*claims, *targets]), dtype=np.float64)
        if vectors.shape[0] != len(claims) + len(targets):
            raise InvalidInput(
                f"embed returned {vectors.shape[0]} vectors for {len(claims) + len(targets)} "
                "texts; it must return one row per text."
            )
        return np.clip(vectors[: len(claims)] @ vectors[len(claims) :].T, 0.0, 1.0)

    def score(self, answer: str, contexts: Sequence[str]) -> Groundedness:
        """Score one answer against the contexts it was generated from."""
        sentences, features, best = self.sentence_features(answer, contexts)
        w = self._weights()
        if not sentences:
            return _result((), 1.0, self.threshold, self.method)
        if not any(c.strip() for c in contexts):
            supports = np.zeros(len(sentences))
        else:
            coef = np.array([w.embedding, w.lexical, w.missing, w.negation])
            supports = _sigmoid(w.intercept + features @ coef)
        details = tuple(
            SentenceSupport(s, round(float(p), 4), b)
            for s, p, b in zip(sentences, supports, best, strict=True)
        )
        return _result(details, _aggregate(supports, w.min_weight), self.threshold, self.method)

    def fit(
        self,
        answers: Sequence[str],
        contexts: Sequence[Sequence[str]],
        labels: Sequence[int],
        *,
        C: float = 10.0,
        min_weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    ) -> GroundednessScorer:
        """Learn ``weights_`` from labelled answers (1 grounded, 0 unsupported).

        A logistic regression over the features of each answer's weakest sentence (lowest
        cosine and share, highest missing and negation) gives the sentence weights, since
        labels are per answer and one unsupported sentence makes the answer unsupported;
        the aggregate's ``min_weight`` is the candidate with the best ROC AUC on the same
        data. Without ``embed`` the embedding weight stays 0. Returns ``self``.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        if not (len(answers) == len(contexts) == len(labels)) or len(set(labels)) != 2:
            raise InvalidInput("fit needs equally long answers, contexts and 0/1 labels.")
        rows = [self.sentence_features(a, c)[1] for a, c in zip(answers, contexts, strict=True)]
        weakest = np.array(
            [
                [f[:, 0].min(), f[:, 1].min(), f[:, 2].max(), f[:, 3].max()]
                if len(f)
                else [1, 1, 0, 0]
                for f in rows
            ]
        )
        used = slice(0, 4) if self.embed is not None else slice(1, 4)
        model = LogisticRegression(C=C).fit(weakest[:, used], labels)
        intercept, coef = float(model.intercept_[0]), np.zeros(4)
        coef[used] = model.coef_[0]

        def auc(min_weight: float) -> float:
            scores = [
                _aggregate(_sigmoid(intercept + f @ coef), min_weight) if len(f) else 1.0
                for f in rows
            ]
            return float(roc_auc_score(labels, scores))

        embedding, lexical, missing, negation = (round(float(c), 3) for c in coef)
        self.weights_ = SupportWeights(
            round(intercept, 3), embedding, lexical, missing, negation, max(min_weights, key=auc)
        )
        return self


_JUDGE_SYSTEM = (
    "You check whether an answer is supported by the retrieved context. For each numbered "
    "answer sentence, rate from 0 to 10 how fully the context supports it: 10 = stated in "
    "or directly implied by the context, 5 = partly supported, 0 = absent from the context "
    "or contradicted by it. Judge only against the context, never your own knowledge. "
    'Reply with JSON only: {"sentences": [{"index": 1, "score": 7, "context": 2}]}, where '
    '"context" is the number of the most supporting context, or null.'
)


def _json_values(reply: str) -> Iterator[Any]:
    """Every JSON object or array embedded in the reply, outermost first."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", reply):
        try:
            yield decoder.raw_decode(reply, match.start())[0]
        except ValueError:
            continue


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        value = value.strip().split("/")[0]
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(10.0, max(0.0, float(value)))


def _ratings(value: Any, n: int, n_contexts: int) -> list[tuple[float, int | None]] | None:
    """Per-sentence (rating 0-10, context index) from a parsed reply, or None."""
    if isinstance(value, dict):
        for key in ("sentences", "scores", "ratings", "results"):
            if isinstance(value.get(key), list):
                return _ratings(value[key], n, n_contexts)
        if all(k.strip().isdigit() for k in value) and value:
            value = [{"index": int(k), "score": v} for k, v in value.items()]
    if not isinstance(value, list) or len(value) != n:
        return None
    out: dict[int, tuple[float, int | None]] = {}
    for position, item in enumerate(value, start=1):
        context: int | None = None
        if isinstance(item, dict):
            rating = _number(
                next((item[k] for k in ("score", "rating", "support") if k in item), None)
            )
            index = item.get("index", item.get("sentence", position))
            if isinstance(index, str) and index.strip().isdigit():
                index = int(index)
            ctx = item.get("context")
            if isinstance(ctx, int) and not isinstance(ctx, bool) and 1 <= ctx <= n_contexts:
                context = ctx - 1
        else:
            rating, index = _number(item), position
        if rating is None or not isinstance(index, int) or not 1 <= index <= n:
            return None
        out[index] = (rating, context)
    return [out[i] for i in range(1, n + 1)] if len(out) == n else None


class LlmJudge:
    """Groundedness rated by a judge model, sentence by sentence.

    Parameters
    ----------
    complete : callable
        Takes chat messages (``[{"role", "content"}]``) and returns the judge's reply text;
        the caller wraps its LLM gateway.
    threshold : float
        Answers scoring below it are flagged.
    fallback : GroundednessScorer, optional
        Scores the answer when the judge's reply cannot be read or the call fails;
        defaults to the lexical offline scorer with the same threshold.
    min_weight : float
        Weight of the weakest sentence in the answer's score (1.0: the weakest decides,
        as in the offline scorer's fitted weights).

    Examples
    --------
    >>> judge = LlmJudge(lambda messages: '{"sentences": [{"index": 1, "score": 9}]}')
    >>> judge.score("Refunds take 14 days.", ["Refunds are issued within 14 days."]).score
    0.9
    """

    def __init__(
        self,
        complete: Complete,
        *,
        threshold: float = 0.5,
        fallback: GroundednessScorer | None = None,
        min_weight: float = 1.0,
    ) -> None:
        self.complete = complete
        self.threshold = threshold
        self.fallback = fallback
        self.min_weight = min_weight

    def messages(self, sentences: Sequence[str], contexts: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages sent to the judge."""
        context_block = "\n".join(f"[{i}] {c.strip()}" for i, c in enumerate(contexts, start=1))
        answer_block = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, start=1))
        user = f"Context:\n{context_block}\n\nAnswer sentences:\n{answer_block}"
        return [{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": user}]

    def score(self, answer: str, contexts: Sequence[str]) -> Groundedness:
        """Score one answer with the judge; fall back to the offline scorer if unreadable."""
        _check_input(answer, contexts)
        offline = self.fallback or GroundednessScorer(threshold=self.threshold)
        sentences = [s for s in split_sentences(answer) if _terms(s).content]
        if not sentences or not any(c.strip() for c in contexts):
            result = offline.score(answer, contexts)  # the defined 1.0 / 0.0 edge cases
            return _result(result.sentences, result.score, self.threshold, "llm-judge")
        try:
            reply = self.complete(self.messages(sentences, contexts))
        except Exception as exc:  # a judge outage must not break monitoring
            logger.warning("groundedness judge failed (%s); using the offline scorer", exc)
            return self._fallback(offline, answer, contexts, "offline (judge failed)")
        ratings = next(
            (
                r
                for v in _json_values(str(reply))
                if (r := _ratings(v, len(sentences), len(contexts)))
            ),
            None,
        )
        if ratings is None:
            logger.warning("groundedness judge reply unparseable; using the offline scorer")
            return self._fallback(offline, answer, contexts, "offline (judge unparseable)")
        details = tuple(
            SentenceSupport(s, round(r / 10, 4), c)
            for s, (r, c) in zip(sentences, ratings, strict=True)
        )
        score = _aggregate([d.support for d in details], self.min_weight)
        return _result(details, score, self.threshold, "llm-judge")

    def _fallback(
        self, offline: GroundednessScorer, answer: str, contexts: Sequence[str], method: str
    ) -> Groundedness:
        result = offline.score(answer, contexts)
        return _result(result.sentences, result.score, self.threshold, method)
