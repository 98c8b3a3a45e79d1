"""The EU AI Act risk classification: an Annex III questionnaire and its verdict.

Each question names the provision it comes from. The verdict is the highest class any
"yes" leads to: *prohibited* (Art. 5), *high* (Art. 6(1): a safety component of a
product under Annex I legislation; Art. 6(2): an Annex III use, unless the Art. 6(3)
derogation applies, which it never does when the system profiles natural persons),
*limited* (the transparency duties of Art. 50) or *minimal*. The answers and the
verdict are stored as evidence by :class:`prodline.compliance.service.Compliance`; the
registry keeps only the resulting ``risk_level`` (a prohibited system is recorded as
``high`` and flagged: prodline will not pretend it may be placed on the market).

This is an aid to the provider's own assessment, not legal advice.

Examples
--------
>>> verdict = classify({"purpose": "score loan applicants", "essential_services": True})
>>> verdict.risk_class, verdict.risk_level, verdict.reasons[0]["article"]
('high', 'high', 'Art. 6(2), Annex III point 5(b)')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodline.errors import InvalidInput

__all__ = ["QUESTIONS", "QUESTIONNAIRE_VERSION", "Classification", "Question", "classify"]

QUESTIONNAIRE_VERSION = "annex-iii/2024-1689/v1"


@dataclass(frozen=True)
class Question:
    """One yes/no question, the provision it comes from, and what a "yes" means."""

    key: str
    text: str
    article: str
    effect: str  # prohibited | high | limited | derogation | profiling


QUESTIONS: tuple[Question, ...] = (
    Question(
        "manipulation",
        "Does it deploy subliminal, manipulative or deceptive techniques, or exploit "
        "vulnerabilities of age, disability or social situation, to distort behaviour?",
        "Art. 5(1)(a)-(b)",
        "prohibited",
    ),
    Question(
        "social_scoring",
        "Does it evaluate or classify people by social behaviour or personality for "
        "detrimental treatment out of context (social scoring)?",
        "Art. 5(1)(c)",
        "prohibited",
    ),
    Question(
        "predictive_policing",
        "Does it predict that a person will commit a crime based solely on profiling "
        "or personality traits?",
        "Art. 5(1)(d)",
        "prohibited",
    ),
    Question(
        "facial_scraping",
        "Does it build facial-recognition databases by untargeted scraping of images?",
        "Art. 5(1)(e)",
        "prohibited",
    ),
    Question(
        "workplace_emotion",
        "Does it infer emotions of people at work or in education (not for medical or "
        "safety reasons)?",
        "Art. 5(1)(f)",
        "prohibited",
    ),
    Question(
        "safety_component",
        "Is it a safety component of a product (or a product) covered by the Union "
        "harmonisation legislation of Annex I and subject to third-party conformity "
        "assessment?",
        "Art. 6(1), Annex I",
        "high",
    ),
    Question(
        "biometrics",
        "Is it used for remote biometric identification, biometric categorisation by "
        "sensitive attributes, or emotion recognition?",
        "Art. 6(2), Annex III point 1",
        "high",
    ),
    Question(
        "critical_infrastructure",
        "Is it a safety component in managing critical digital infrastructure, road "
        "traffic, or the supply of water, gas, heating or electricity?",
        "Art. 6(2), Annex III point 2",
        "high",
    ),
    Question(
        "education",
        "Does it decide admission to education, evaluate learning outcomes, assess the "
        "level of education a person receives, or monitor cheating in tests?",
        "Art. 6(2), Annex III point 3",
        "high",
    ),
    Question(
        "employment",
        "Is it used to recruit or select people, or to decide on promotion, termination, "
        "task allocation or the monitoring of workers?",
        "Art. 6(2), Annex III point 4",
        "high",
    ),
    Question(
        "essential_services",
        "Does it evaluate the creditworthiness or credit score of natural persons "
        "(fraud detection aside)?",
        "Art. 6(2), Annex III point 5(b)",
        "high",
    ),
    Question(
        "public_benefits",
        "Does it evaluate eligibility for public assistance benefits and services, or "
        "price life or health insurance, or triage emergency calls?",
        "Art. 6(2), Annex III point 5(a), (c), (d)",
        "high",
    ),
    Question(
        "law_enforcement",
        "Is it used by or for law enforcement (risk of victimisation or offending, "
        "polygraphs, evidence reliability, profiling in investigations)?",
        "Art. 6(2), Annex III point 6",
        "high",
    ),
    Question(
        "migration",
        "Is it used in migration, asylum or border control (risk assessment, "
        "examination of applications, identification)?",
        "Art. 6(2), Annex III point 7",
        "high",
    ),
    Question(
        "justice",
        "Does it assist judicial authorities in researching or applying the law, or is "
        "it intended to influence elections or voting behaviour?",
        "Art. 6(2), Annex III point 8",
        "high",
    ),
    Question(
        "narrow_task",
        "Does it only perform a narrow procedural task, improve the result of a "
        "completed human activity, or prepare an assessment, without replacing or "
        "influencing the human assessment?",
        "Art. 6(3)",
        "derogation",
    ),
    Question(
        "profiling",
        "Does it profile natural persons (automated processing of personal data to "
        "evaluate aspects of their life)?",
        "Art. 6(3), last subparagraph",
        "profiling",
    ),
    Question(
        "interacts_with_people",
        "Does it interact directly with people (a chatbot or assistant)?",
        "Art. 50(1)",
        "limited",
    ),
    Question(
        "synthetic_content",
        "Does it generate or manipulate images, audio, video or text shown to people "
        "(including deep fakes)?",
        "Art. 50(2), 50(4)",
        "limited",
    ),
)

_BY_KEY = {q.key: q for q in QUESTIONS}
_RANK = {"minimal": 0, "limited": 1, "high": 2, "prohibited": 3}


@dataclass(frozen=True)
class Classification:
    """The questionnaire's verdict: the class, what the registry stores, and why."""

    risk_class: str
    purpose: str
    answers: Mapping[str, bool] = field(hash=False)
    reasons: tuple[dict[str, str], ...] = ()

    @property
    def risk_level(self) -> str:
        """What the registered model records (``prohibited`` is kept as ``high``)."""
        return "high" if self.risk_class == "prohibited" else self.risk_class

    @property
    def prohibited(self) -> bool:
        """Whether an Art. 5 practice was declared."""
        return self.risk_class == "prohibited"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the evidence summary and the ``--json`` output."""
        return {
            "questionnaire": QUESTIONNAIRE_VERSION,
            "risk_class": self.risk_class,
            "risk_level": self.risk_level,
            "purpose": self.purpose,
            "answers": dict(self.answers),
            "reasons": [dict(r) for r in self.reasons],
        }


def classify(answers: Mapping[str, Any]) -> Classification:
    """Classify from ``answers``: ``purpose`` (text, required) and question keys → bool.

    Questions not answered count as "no"; unknown keys are refused, naming the known
    ones, so that a typo cannot silently lower the class.
    """
    purpose = str(answers.get("purpose") or "").strip()
    if not purpose:
        raise InvalidInput(
            "The classification needs the intended purpose: give purpose (e.g. "
            "--purpose 'score consumer loan applications').",
            field="purpose",
        )
    unknown = sorted(k for k in answers if k != "purpose" and k not in _BY_KEY)
    if unknown:
        raise InvalidInput(
            f"Unknown questionnaire key(s): {', '.join(unknown)}; the questions are "
            f"{', '.join(q.key for q in QUESTIONS)}.",
            field="answers",
        )
    given: dict[str, bool] = {}
    for question in QUESTIONS:
        value = answers.get(question.key, False)
        if not isinstance(value, bool):
            raise InvalidInput(
                f"Answer '{question.key}' must be true or false, got {value!r}.",
                field=question.key,
            )
        given[question.key] = value
    reasons: list[dict[str, str]] = []
    verdict = "minimal"
    derogation = given["narrow_task"] and not given["profiling"]
    for question in QUESTIONS:
        if not given[question.key] or question.effect in ("derogation", "profiling"):
            continue
        level = question.effect
        if level == "high" and question.key != "safety_component" and derogation:
            reasons.append(_reason(question, "Annex III use, but the Art. 6(3) derogation applies"))
            continue
        reasons.append(_reason(question, f"answered yes: {level}"))
        verdict = max(verdict, level, key=_RANK.__getitem__)
    return Classification(verdict, purpose, given, tuple(reasons))


def _reason(question: Question, why: str) -> dict[str, str]:
    return {"question": question.key, "article": question.article, "why": why}
