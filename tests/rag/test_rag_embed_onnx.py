"""The ONNX Runtime embedder: parity with the torch path, configuration, no mixing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from prodline.errors import Conflict, InvalidInput
from prodline.rag.embed import configured_embedder, default_embedder, embedder_named
from prodline.rag.embed_onnx import OnnxMiniLMEmbedder
from prodline.workspace import Workspace


def _sample() -> list[str]:
    """A fixed sample: 96 passages of CPython's pydoc topics, short and long."""
    import pydoc_data.topics as topics

    texts: list[str] = []
    for key in sorted(topics.topics)[:48]:
        words = topics.topics[key].split()
        texts.append(" ".join(words[:12]))
        texts.append(" ".join(words[:220]))
    return texts


@pytest.mark.slow
def test_onnx_vectors_match_torch_fp32() -> None:
    texts = _sample()
    reference = default_embedder().embed(texts)
    for precision, floor in (("fp32", 0.999), ("int8", 0.99)):
        vectors = OnnxMiniLMEmbedder(precision).embed(texts)
        assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosine = (vectors * reference).sum(axis=1)
        assert cosine.mean() >= floor, (precision, float(cosine.mean()))
        assert cosine.min() >= 0.95, (precision, float(cosine.min()))
    query = OnnxMiniLMEmbedder("int8").embed_query(texts[1])
    assert query.shape == (384,)


def test_configuration_picks_the_embedder_and_names_the_choices() -> None:
    assert configured_embedder("").name == "all-MiniLM-L6-v2"
    assert configured_embedder("torch") is default_embedder()
    int8 = configured_embedder("onnx-int8")
    assert int8.name == "all-MiniLM-L6-v2+onnx-int8" and int8 is embedder_named(int8.name)
    assert configured_embedder("ONNX-FP32").name == "all-MiniLM-L6-v2+onnx-fp32"
    with pytest.raises(InvalidInput, match="torch, onnx-fp32, onnx-int8"):
        configured_embedder("onnx-int4")
    with pytest.raises(InvalidInput, match="'bge-small'"):
        embedder_named("bge-small")
    with pytest.raises(InvalidInput, match="list of texts"):
        OnnxMiniLMEmbedder("int8").embed("one text")  # type: ignore[arg-type]
    assert OnnxMiniLMEmbedder("fp32").embed([]).shape == (0, 384)


def test_prodline_toml_rag_table_sets_the_embedder(
    make_ws: Callable[..., Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODLINE_EMBEDDER", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    (home / "prodline.toml").write_text('[rag]\nembedder = "onnx-int8"\n')
    ws = make_ws(home=home)
    assert ws.kbs.create("docs", owner="team").embedder == "all-MiniLM-L6-v2+onnx-int8"
    assert ws.kbs.embedder("docs").name == "all-MiniLM-L6-v2+onnx-int8"


def test_a_kb_refuses_a_second_embedder(
    make_ws: Callable[..., Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are paid within 14 days.\n")
    monkeypatch.setenv("PRODLINE_EMBEDDER", "onnx-fp32")
    first = make_ws(home=tmp_path / "home")
    first.kbs.create("docs", owner="team")
    monkeypatch.setenv("PRODLINE_EMBEDDER", "torch")
    ws = make_ws(home=tmp_path / "home")
    ws.kbs.ingest("docs", [docs])  # empty until now: adopts the configured embedder
    assert ws.kbs.get("docs").embedder == "all-MiniLM-L6-v2"
    monkeypatch.setenv("PRODLINE_EMBEDDER", "onnx-int8")
    other = make_ws(home=tmp_path / "home")
    (docs / "more.md").write_text("# Shipping\n\nParcels ship on weekdays.\n")
    with pytest.raises(Conflict) as caught:
        other.kbs.ingest("docs", [docs])
    message = str(caught.value)
    assert "'all-MiniLM-L6-v2'" in message and "'all-MiniLM-L6-v2+onnx-int8'" in message
    assert "set [rag] embedder (or PRODLINE_EMBEDDER) to 'torch'" in message
    assert other.kbs.get("docs").chunks == ws.kbs.get("docs").chunks
    hits = other.kbs.search("docs", "when are refunds paid")  # searches with the KB's own model
    assert hits and "14 days" in hits[0].text
