"""What only the embedded index promises: crash-safe flush, compaction, the filter paths."""

from __future__ import annotations

import doctest
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from prodline.errors import IntegrityError, InvalidInput
from prodline.rag.index import _files, embedded
from prodline.rag.index.embedded import EmbeddedIndex
from prodline.rag.types import ChunkMeta, SearchFilter

DIM = 8


def _data(n: int, seed: int = 0) -> tuple[list[int], np.ndarray, list[ChunkMeta]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    metas = [ChunkMeta(i % 10, i % 4, float(i), i % 3) for i in range(n)]
    return list(range(n)), x, metas


def test_doctests_run() -> None:
    assert doctest.testmod(embedded, raise_on_error=True).attempted > 0


def test_crash_before_the_manifest_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, x, metas = _data(300)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids[:200], x[:200], metas[:200])
    index.flush()
    old = index.search(x[0], 5)
    index.upsert(ids[200:], x[200:], metas[200:])
    index.delete(ids[:50])

    real_replace = os.replace

    def crash(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == _files.MANIFEST:
            raise OSError("simulated crash between the data files and the manifest")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Exception, match="last saved state is intact"):
        index.flush()
    monkeypatch.undo()
    # the new generation's files are on disk but not committed
    assert any(p.name.startswith("index.00000002") for p in tmp_path.iterdir())

    again = EmbeddedIndex(tmp_path, dim=DIM)  # what a restarted process sees
    assert again.count() == 200
    assert again.ids() == set(ids[:200])
    assert again.search(x[0], 5) == old
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["MANIFEST.json", "index.00000001.faiss", "meta.00000001.npz"]


_CHILD = """
import sys
import numpy as np
from prodline.rag.index.embedded import EmbeddedIndex
from prodline.rag.types import ChunkMeta
index = EmbeddedIndex(sys.argv[1], dim=8)
rng = np.random.default_rng(0)
batch = index.count() // 50
while True:
    ids = list(range(batch * 50, batch * 50 + 50))
    index.upsert(ids, rng.standard_normal((50, 8)), [ChunkMeta(1, 1, 0.0, 0)] * 50)
    index.flush()
    print(index.count(), flush=True)
    batch += 1
"""


def test_kill_9_at_any_moment_leaves_a_whole_generation(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    committed = 0
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(3):  # let a few flushes commit, then kill mid-stream
            committed = int(child.stdout.readline())
        time.sleep(float(rng.uniform(0, 0.05)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        index = EmbeddedIndex(tmp_path, dim=DIM)
        count = index.count()
        assert count >= committed and count % 50 == 0
        assert index.ids() == set(range(count))
        index.close()


def test_compaction_after_many_deletes(tmp_path: Path) -> None:
    ids, x, metas = _data(1_000)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids, x, metas)
    index.delete(ids[:150])
    assert index.dead_rows == 150  # under 20%: only masked
    assert all(i >= 150 for i, _ in index.search(x[3], 20))
    index.delete(ids[150:250])  # 25% dead: the graph is rebuilt from live rows
    assert index.dead_rows == 0
    assert index.count() == 750
    assert index._graph.ntotal == 750
    assert index.search(x[500], 1)[0][0] == 500
    index.close()
    again = EmbeddedIndex(tmp_path, dim=DIM)
    assert again.search(x[999], 1)[0][0] == 999
    assert again.ids() == set(ids[250:])


def test_replacements_count_as_dead_rows_until_compaction(tmp_path: Path) -> None:
    ids, x, metas = _data(100)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids, x, metas)
    index.upsert(ids[:10], x[10:20], metas[:10])
    assert index.dead_rows == 10
    assert index.count() == 100
    index.compact()
    assert index.dead_rows == 0
    assert index.search(x[15], 2)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_graph_walk_with_a_bitmap_keeps_k_hits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the exact shortcut off, the filter runs inside the HNSW walk itself."""
    monkeypatch.setattr(embedded, "_EXACT_MAX", 0)
    monkeypatch.setattr(embedded, "_EXACT_SHARE", 0.0)
    ids, x, metas = _data(3_000)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids, x, metas)
    index.delete(ids[:100])  # dead rows must stay out too
    for flt in (
        SearchFilter(source_ids=frozenset({4})),
        SearchFilter(owner_ids=frozenset({1}), max_sensitivity=1),
        SearchFilter(modified_after=2_000.0),
    ):
        s = index._selection(flt)
        assert s.sel is not None and s.rows is None  # the bitmap path
        for row in (200, 1_500, 2_999):
            hits = index.search(x[row], 10, flt)
            assert len(hits) == 10
            for i, _ in hits:
                m = metas[i]
                assert i >= 100
                assert flt.source_ids is None or m.source_id in flt.source_ids
                assert flt.owner_ids is None or m.owner_id in flt.owner_ids
                assert flt.max_sensitivity is None or m.sensitivity <= flt.max_sensitivity
                assert flt.modified_after is None or m.modified_at >= flt.modified_after


def test_filter_selection_is_cached_until_a_change(tmp_path: Path) -> None:
    ids, x, metas = _data(500)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids, x, metas)
    flt = SearchFilter(source_ids=frozenset({1, 2}))
    index.search(x[0], 5, flt)
    first = index._selection(flt)
    assert index._selection(SearchFilter(source_ids=frozenset({2, 1}))) is first
    index.delete([1])
    assert index._selection(flt) is not first
    assert index._selection(flt).count == first.count - 1


def test_corrupted_files_are_reported(tmp_path: Path) -> None:
    ids, x, metas = _data(50)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids, x, metas)
    index.close()
    graph = next(tmp_path.glob("index.*.faiss"))
    graph.write_bytes(graph.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        EmbeddedIndex(tmp_path, dim=DIM)
    (tmp_path / "MANIFEST.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        EmbeddedIndex(tmp_path, dim=DIM)


def test_flush_without_changes_writes_nothing(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.flush()
    assert not (tmp_path / "MANIFEST.json").exists()
    ids, x, metas = _data(5)
    index.upsert(ids, x, metas)
    index.flush()
    stamp = (tmp_path / "MANIFEST.json").stat().st_mtime_ns
    index.flush()
    assert (tmp_path / "MANIFEST.json").stat().st_mtime_ns == stamp


def test_searches_run_while_another_thread_writes(tmp_path: Path) -> None:
    ids, x, metas = _data(2_000)
    index = EmbeddedIndex(tmp_path, dim=DIM)
    index.upsert(ids[:500], x[:500], metas[:500])
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert len(index.search(x[7], 5, SearchFilter(max_sensitivity=1))) == 5
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(500, 2_000, 100):
        index.upsert(ids[start : start + 100], x[start : start + 100], metas[start : start + 100])
        index.delete(ids[start - 50 : start - 40])
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert index.count() == 2_000 - 150


def test_unnormalized_vectors_are_normalized(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path, dim=DIM)
    v = np.arange(1, DIM + 1, dtype=np.float64)
    index.upsert([1], (v * 10)[None, :], [ChunkMeta(1, 1, 0.0, 0)])
    assert index.search(v, 1)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_bad_dimension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"1\.\.65536"):
        EmbeddedIndex(tmp_path, dim=0)
