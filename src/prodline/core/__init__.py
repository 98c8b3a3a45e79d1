"""The shared floor: the vocabulary every part may use, with no I/O and no part imports.

* :mod:`~prodline.core.refs` — names, ``NAME@REF`` references, lineage node ids
* :mod:`~prodline.core.schema` — column types, ``Column`` and ``Signature``
* :mod:`~prodline.core.sensitivity` — levels none < pii < phi and the PII/PHI scanner
* :mod:`~prodline.core.text` — sentences, stems and stop words
* :mod:`~prodline.core.promotion` — what a promotion policy is asked and answers

Heavy libraries (pandas, Presidio) load only when a function needs them, so importing
this package stays cheap for the CLI.
"""

from prodline.core.promotion import (
    AllowAll,
    PolicyDecision,
    PromotionPolicy,
    PromotionRequest,
)
from prodline.core.refs import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    check_name,
    is_valid_name,
    node,
    parse_node,
    parse_ref,
    version_span,
)
from prodline.core.schema import (
    COLUMN_TYPES,
    NUMERIC_TYPES,
    Column,
    ColumnType,
    Signature,
    column_type_of,
    columns_from_schema,
)
from prodline.core.sensitivity import (
    KINDS,
    LEVEL_ORDER,
    LEVELS,
    MEDICAL_KINDS,
    ColumnSensitivity,
    Level,
    TextFinding,
    level_of,
    level_rank,
    scan_dataframe,
    scan_text,
    summarize,
    worst_level,
)
from prodline.core.text import (
    QUESTION_STOP_WORDS,
    STOP_WORDS,
    passage_blocks,
    passage_sentences,
    sentence_spans,
    split_sentences,
    stem,
    strip_bullet,
    strip_citations,
    terms,
    unwrap,
    words,
)

__all__ = [
    "AllowAll",
    "COLUMN_TYPES",
    "Column",
    "ColumnSensitivity",
    "ColumnType",
    "KINDS",
    "LEVELS",
    "LEVEL_ORDER",
    "Level",
    "MAX_NAME_LENGTH",
    "MEDICAL_KINDS",
    "NAME_PATTERN",
    "NUMERIC_TYPES",
    "PolicyDecision",
    "PromotionPolicy",
    "PromotionRequest",
    "QUESTION_STOP_WORDS",
    "STOP_WORDS",
    "Signature",
    "TextFinding",
    "check_name",
    "column_type_of",
    "columns_from_schema",
    "is_valid_name",
    "level_of",
    "level_rank",
    "node",
    "parse_node",
    "parse_ref",
    "passage_blocks",
    "passage_sentences",
    "scan_dataframe",
    "scan_text",
    "sentence_spans",
    "split_sentences",
    "stem",
    "strip_bullet",
    "strip_citations",
    "summarize",
    "terms",
    "unwrap",
    "version_span",
    "words",
    "worst_level",
]
