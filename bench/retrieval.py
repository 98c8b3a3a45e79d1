"""Vector retrieval: prodline's embedded index against raw FAISS HNSW and Chroma.

Data: ``--n`` (200k; 1M with ``--million``) random-but-clustered 384-d unit vectors
(``n/200`` Gaussian clusters) and ``--queries`` fresh queries drawn the same way; each
chunk gets a ``source_id`` in 0..99 and the filter keeps sources 0..9 (~10%).
Ground truth is exact inner-product search (numpy), with and without the filter.

Rows, one query at a time, one thread (``faiss.omp_set_num_threads(1)``):

* raw faiss: ``IndexHNSWFlat(M=32, efConstruction=200)``, inner product, searched with
  the efSearch prodline's policy picks for the same k and filter (printed as ``ef``);
  the filter as a prebuilt ``IDSelectorBitmap``: the floor for prodline's wrapper.
* prodline: ``EmbeddedIndex.upsert`` in 10k batches, ``EmbeddedIndex.search(q, 10, flt)``
  with a ``SearchFilter(source_ids=...)``: validation, the cached filter bitmap, the
  row -> id mapping and the result list included. Raw and prodline queries alternate,
  so machine noise hits both alike.
* usearch (``--usearch``): ``usearch.Index`` (connectivity 32, expansion_add 200,
  expansion_search 32); its Python binding has no filter predicate, so the filtered row
  over-fetches 20x and drops non-matching hits, the pattern the index exists to avoid.
* chroma: ``chromadb`` in its own venv (``bench/.out/chroma-venv``, made on first run),
  a ``PersistentClient`` collection with the same HNSW settings (space ip, M=32,
  ef_construction=200, ef_search=64), ``where={"source_id": {"$in": [...]}}`` for the
  filter; run as a subprocess that loads the same ``.npy`` files and prints JSON.

Targets (issue #3): prodline recall@10 >= 0.95 at >= 0.8x raw QPS, filter included.
Run: ``.venv/bin/python bench/retrieval.py [--n 20000] [--million] [--queries 1000]
[--skip-chroma] [--usearch] [--share-graph]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

from prodline.rag.index import embedded
from prodline.rag.index.embedded import EmbeddedIndex
from prodline.rag.types import ChunkMeta, SearchFilter

OUT = Path(__file__).resolve().parent / ".out" / "retrieval"
faiss: Any = _faiss  # a SWIG module: its stubs lack most of what we call
CHROMA_VENV = Path(__file__).resolve().parent / ".out" / "chroma-venv"
DIM = 384
K = 10
SOURCES = 100
KEPT = frozenset(range(10))  # sources 0..9: ~10% of the chunks

CHROMA_CHILD = r"""
import json, sys, tempfile, time
import numpy as np
import chromadb
from chromadb.config import Settings

xb, xq, src = (np.load(p) for p in sys.argv[1:4])
kept, k = json.loads(sys.argv[4]), int(sys.argv[5])
client = chromadb.PersistentClient(
    path=tempfile.mkdtemp(prefix="chroma-bench-"), settings=Settings(anonymized_telemetry=False)
)
col = client.create_collection(
    "bench",
    embedding_function=None,
    configuration={"hnsw": {"space": "ip", "max_neighbors": 32, "ef_construction": 200,
                            "ef_search": 64}},
)
step = min(5_000, client.get_max_batch_size())
t0 = time.perf_counter()
for s in range(0, len(xb), step):
    e = min(s + step, len(xb))
    col.add(ids=[str(i) for i in range(s, e)], embeddings=xb[s:e],
            metadatas=[{"source_id": int(v)} for v in src[s:e]])
build = time.perf_counter() - t0
out = {"build_s": build}
for label, where in (("none", None), ("10%", {"source_id": {"$in": kept}})):
    col.query(query_embeddings=xq[:1], n_results=k, where=where, include=[])  # warm
    ids, lat = [], []
    for q in xq:
        t = time.perf_counter()
        r = col.query(query_embeddings=q[None, :], n_results=k, where=where, include=[])
        lat.append(time.perf_counter() - t)
        ids.append([int(i) for i in r["ids"][0]])
    out[label] = {"ids": ids, "lat": lat}
print(json.dumps(out))
"""


def make_data(n: int, nq: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered unit vectors (n/200 clusters), queries from the same mix, source ids."""
    rng = np.random.default_rng(seed)
    clusters = max(10, n // 200)
    centers = rng.standard_normal((clusters, DIM), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)

    def draw(m: int) -> np.ndarray:
        x = np.empty((m, DIM), np.float32)
        for s in range(0, m, 50_000):
            e = min(s + 50_000, m)
            c = rng.integers(0, clusters, e - s)
            x[s:e] = centers[c] + np.float32(0.06) * rng.standard_normal((e - s, DIM), np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x

    xb, xq = draw(n), draw(nq)
    return xb, xq, rng.integers(0, SOURCES, n)


def exact_top(xb: np.ndarray, xq: np.ndarray, k: int, mask: np.ndarray | None) -> np.ndarray:
    """Exact inner-product top-k row numbers, in blocks of queries."""
    out = np.empty((len(xq), k), np.int64)
    for s in range(0, len(xq), 64):
        scores = xq[s : s + 64] @ xb.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[s : s + 64] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def stats(lat: list[float]) -> tuple[float, float, float]:
    a = np.asarray(lat)
    return len(a) / a.sum(), float(np.percentile(a, 50) * 1e3), float(np.percentile(a, 99) * 1e3)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def build_raw(xb: np.ndarray) -> tuple[Any, float]:
    index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 200
    _, seconds = timed(lambda: index.add(xb))
    return index, seconds


def build_prodline(xb: np.ndarray, src: np.ndarray, where: Path) -> tuple[EmbeddedIndex, float]:
    metas = [ChunkMeta(int(s), 0, 0.0, 0) for s in src]
    index = EmbeddedIndex(where, dim=DIM)

    def load() -> None:
        for s in range(0, len(xb), 10_000):
            e = min(s + 10_000, len(xb))
            index.upsert(range(s, e), xb[s:e], metas[s:e])

    _, seconds = timed(load)
    return index, seconds


def race(
    raw: Any, ours: EmbeddedIndex, xq: np.ndarray, mask: np.ndarray | None
) -> dict[str, tuple[list[list[int]], list[float]]]:
    """Alternate raw and prodline query by query; return ids and latencies for each."""
    n = raw.ntotal
    count = int(mask.sum()) if mask is not None else n
    ef = embedded._ef_for(K, count, n)
    params = faiss.SearchParametersHNSW(efSearch=ef)
    bits = None
    if mask is not None:
        bits = np.packbits(mask, bitorder="little")
        params.sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    flt = SearchFilter(source_ids=KEPT) if mask is not None else None
    ours.search(xq[0], K, flt)  # build the cached bitmap outside the clock, as raw's is
    out: dict[str, tuple[list[list[int]], list[float]]] = {"raw": ([], []), "ours": ([], [])}
    for i, q in enumerate(xq):
        q2 = q[None, :]
        order = ("raw", "ours") if i % 2 else ("ours", "raw")
        for who in order:
            t = time.perf_counter()
            if who == "raw":
                _, labels = raw.search(q2, K, params=params)
                found = labels[0].tolist()
            else:
                found = [cid for cid, _ in ours.search(q, K, flt)]
            elapsed = time.perf_counter() - t
            out[who][0].append(found)
            out[who][1].append(elapsed)
    del bits
    return out


def run_usearch(xb: np.ndarray, xq: np.ndarray, mask: np.ndarray) -> dict[str, Any] | None:
    try:
        from usearch.index import Index
    except ImportError:
        print("usearch is not installed (.venv/bin/pip install usearch==2.26.6); skipped")
        return None
    index = Index(
        ndim=DIM, metric="ip", dtype="f32", connectivity=32, expansion_add=200, expansion_search=32
    )
    _, seconds = timed(lambda: index.add(np.arange(len(xb)), xb, threads=1))
    out: dict[str, Any] = {"build": seconds}
    for label, keep in (("none", None), ("10%", mask)):
        ids, lat = [], []
        for q in xq:
            t = time.perf_counter()
            if keep is None:
                found = index.search(q, K, threads=1).keys.tolist()
            else:  # no predicate in the Python binding: over-fetch 20x, drop, cut to k
                keys = index.search(q, 20 * K, threads=1).keys
                found = keys[keep[keys]][:K].tolist()
            lat.append(time.perf_counter() - t)
            ids.append(found)
        out[label] = (ids, lat)
    return out


def chroma_python(version: str) -> Path | None:
    py = CHROMA_VENV / "bin" / "python"
    marker = CHROMA_VENV / f".chromadb-{version}"
    if marker.exists():
        return py
    print(f"making {CHROMA_VENV} with chromadb=={version} (first run only) ...", flush=True)
    log = CHROMA_VENV.parent / "chroma-venv-install.log"
    with log.open("w") as f:
        ok = (
            subprocess.run([sys.executable, "-m", "venv", str(CHROMA_VENV)], stdout=f).returncode
            == 0
            and subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    f"chromadb=={version}",
                    f"numpy=={np.__version__}",
                ],
                stdout=f,
                stderr=subprocess.STDOUT,
            ).returncode
            == 0
        )
    if not ok:
        print(f"chroma venv install failed; see {log}")
        return None
    marker.touch()
    return py


def run_chroma(py: Path, files: list[Path], timeout: float) -> dict[str, Any] | None:
    child = OUT / "chroma_child.py"
    child.write_text(CHROMA_CHILD)
    proc = subprocess.run(
        [str(py), str(child), *map(str, files), json.dumps(sorted(KEPT)), str(K)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    if proc.returncode != 0:
        print(f"chroma failed:\n{proc.stderr[-3000:]}")
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 vectors")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--skip-chroma", action="store_true")
    parser.add_argument("--chroma-version", default="1.5.9")
    parser.add_argument("--usearch", action="store_true", help="also measure usearch")
    parser.add_argument(
        "--share-graph",
        action="store_true",
        help="run the raw FAISS calls on prodline's own graph object instead of a second build: "
        "halves the run, and isolates the wrapper's cost from memory-layout luck (two copies of "
        "one graph can differ by 20%% in speed)",
    )
    args = parser.parse_args()
    n = 1_000_000 if args.million else args.n
    faiss.omp_set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f}; {n:,} x {DIM}-d vectors, {args.queries} queries")

    xb, xq, src = make_data(n, args.queries)
    mask = np.isin(src, np.fromiter(KEPT, np.int64))
    truth = {"none": exact_top(xb, xq, K, None), "10%": exact_top(xb, xq, K, mask)}
    print(f"filter keeps {mask.mean():.1%} of the chunks", flush=True)

    rows: list[tuple[str, str, float, float, float, float, float | None, str]] = []

    def add(
        system: str,
        label: str,
        ids: list[list[int]],
        lat: list[float],
        build: float | None,
        note: str = "",
    ) -> None:
        qps, p50, p99 = stats(lat)
        rows.append((system, label, recall(ids, truth[label]), qps, p50, p99, build, note))

    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        ours, ours_build = build_prodline(xb, src, Path(tmp) / "index")
        print(f"prodline built in {ours_build:.0f} s", flush=True)
        raw_build: float | None = None
        if args.share_graph:  # raw calls on prodline's own graph object: only the wrapper differs
            raw = ours._graph
        else:
            raw, raw_build = build_raw(xb)
            print(f"raw faiss built in {raw_build:.0f} s", flush=True)
        for label, keep in (("none", None), ("10%", mask)):
            ef = embedded._ef_for(K, int(keep.sum()) if keep is not None else n, n)
            result = race(raw, ours, xq, keep)
            add(
                "raw faiss HNSW",
                label,
                *result["raw"],
                raw_build if label == "none" else None,
                f"ef={ef}" + (", on prodline's graph" if args.share_graph else ""),
            )
            add(
                "prodline embedded",
                label,
                *result["ours"],
                ours_build if label == "none" else None,
                f"ef={ef}",
            )
        ours.close()
    del raw

    if args.usearch:
        res = run_usearch(xb, xq, mask)
        if res is not None:
            (u_ids, u_lat), (uf_ids, uf_lat) = res["none"], res["10%"]
            add("usearch HNSW", "none", u_ids, u_lat, res["build"], "ef=32")
            add("usearch HNSW", "10%", uf_ids, uf_lat, None, "over-fetch 20x")

    chroma_filtered_qps: float | None = None
    if not args.skip_chroma:
        py = chroma_python(args.chroma_version)
        if py is not None:
            files = [OUT / f"{name}.npy" for name in ("xb", "xq", "src")]
            for path, arr in zip(files, (xb, xq, src), strict=True):
                np.save(path, arr)
            res = run_chroma(py, files, timeout=4 * 3600)
            if res is not None:
                add(
                    "chroma " + args.chroma_version,
                    "none",
                    *_pair(res["none"]),
                    res["build_s"],
                    "ef=64",
                )
                add("chroma " + args.chroma_version, "10%", *_pair(res["10%"]), None, "where $in")
                chroma_filtered_qps = rows[-1][3]

    print()
    print(
        f"{'system':22} {'filter':6} {'recall@10':>9} {'QPS':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'build s':>8}  note"
    )
    for system, label, rec, qps, p50, p99, build, note in rows:
        b = f"{build:8.1f}" if build is not None else f"{'':8}"
        print(f"{system:22} {label:6} {rec:9.3f} {qps:8.0f} {p50:7.3f} {p99:7.3f} {b}  {note}")
    by = {(r[0], r[1]): r for r in rows}
    raw_u, raw_f = by[("raw faiss HNSW", "none")], by[("raw faiss HNSW", "10%")]
    our_u, our_f = by[("prodline embedded", "none")], by[("prodline embedded", "10%")]
    worst_recall = min(our_u[2], our_f[2])
    chroma = (
        f"{our_f[3] / chroma_filtered_qps:.1f}" if chroma_filtered_qps else "n/a (chroma skipped)"
    )
    print(
        f"ratio: prodline/raw QPS = {our_u[3] / raw_u[3]:.2f} (unfiltered), "
        f"{our_f[3] / raw_f[3]:.2f} (10% filter) (target >= 0.8); "
        f"recall@10 = {worst_recall:.3f} (target >= 0.95); prodline/chroma filtered QPS = {chroma}"
    )


def _pair(part: dict[str, Any]) -> tuple[list[list[int]], list[float]]:
    return part["ids"], part["lat"]


if __name__ == "__main__":
    main()
