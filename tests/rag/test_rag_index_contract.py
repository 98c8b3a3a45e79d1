"""One contract for every vector-index backend: embedded FAISS and Milvus (Milvus Lite).

Each test runs once per backend. Milvus Lite serves one ``.db`` file for the whole
module (a keeper index holds its server up); each test gets a fresh collection.
"""

from __future__ import annotations

import doctest
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from prodline.errors import InvalidInput, StoreUnavailable
from prodline.rag.index import EmbeddedIndex, MilvusIndex, VectorIndex, open_index
from prodline.rag.types import ChunkMeta, SearchFilter

DIM = 16
N = 3_000
K = 10


def _dataset() -> tuple[np.ndarray, np.ndarray, list[ChunkMeta]]:
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((30, DIM)).astype(np.float32)
    x = centers[rng.integers(0, 30, N)] + 0.3 * rng.standard_normal((N, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(1_000, 1_000 + N, dtype=np.int64)
    metas = [
        ChunkMeta(
            source_id=int(i % 10),
            owner_id=int(i % 7),
            modified_at=1_700_000_000.0 + 3_600.0 * int(i),
            sensitivity=int(i % 3),
        )
        for i in range(N)
    ]
    return ids, x, metas


IDS, X, METAS = _dataset()
META_OF = dict(zip(IDS.tolist(), METAS, strict=True))


def _passes(meta: ChunkMeta, flt: SearchFilter) -> bool:
    return (
        (flt.source_ids is None or meta.source_id in flt.source_ids)
        and (flt.owner_ids is None or meta.owner_id in flt.owner_ids)
        and (flt.modified_after is None or meta.modified_at >= flt.modified_after)
        and (flt.modified_before is None or meta.modified_at <= flt.modified_before)
        and (flt.max_sensitivity is None or meta.sensitivity <= flt.max_sensitivity)
    )


def _exact(q: np.ndarray, k: int, flt: SearchFilter | None = None) -> list[int]:
    keep = np.array([flt is None or _passes(m, flt) for m in METAS])
    scores = np.where(keep, X @ q, -np.inf)
    top = np.argsort(-scores, kind="stable")[:k]
    return [int(IDS[i]) for i in top if keep[i]]


@pytest.fixture(scope="module")
def milvus_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("milvus") / "milvus.db"
    keeper = MilvusIndex(str(path), dim=DIM, name="keeper")
    yield path
    keeper.close()
    from milvus_lite import server_manager_instance

    assert str(path.resolve()) not in server_manager_instance._servers, "Milvus Lite leaked"


BACKENDS = ["embedded", "milvus"]


def _url(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    if backend == "embedded":
        return directory.as_uri()
    return f"milvus://{request.getfixturevalue('milvus_db')}"


def _dispose(backend: str, request: pytest.FixtureRequest, name: str, opened: list) -> None:
    for index in opened:
        index.close()
    if backend == "milvus":
        MilvusIndex(str(request.getfixturevalue("milvus_db")), dim=DIM, name=name).drop()


@pytest.fixture(params=BACKENDS)
def make_index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], VectorIndex]]:
    """Opens (and reopens) one fresh, empty index of the backend under test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = _url(request.param, request, tmp_path)
    opened: list[VectorIndex] = []

    def make() -> VectorIndex:
        index = open_index(url, dim=DIM, name=name)
        opened.append(index)
        return index

    yield make
    _dispose(request.param, request, name, opened)


@pytest.fixture
def full(make_index: Callable[[], VectorIndex]) -> VectorIndex:
    """A fresh index holding the whole dataset, for tests that change it."""
    index = make_index()
    index.upsert(IDS.tolist(), X, METAS)
    return index


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorIndex]:
    """One index per backend holding the whole dataset, shared by read-only tests."""
    name = f"loaded_{uuid.uuid4().hex[:8]}"
    index = open_index(
        _url(request.param, request, tmp_path_factory.mktemp("loaded")), dim=DIM, name=name
    )
    index.upsert(IDS.tolist(), X, METAS)
    yield index
    _dispose(request.param, request, name, [index])


def test_backend_is_chosen_by_url(make_index: Callable[[], VectorIndex]) -> None:
    index = make_index()
    assert isinstance(index, VectorIndex)
    assert isinstance(index, EmbeddedIndex | MilvusIndex)
    assert index.dim == DIM
    assert index.count() == 0
    assert index.search(X[0], K) == []


def test_query_equal_to_a_stored_vector_finds_it_first(loaded: VectorIndex) -> None:
    for row in (0, 17, 1_234, N - 1):
        hits = loaded.search(X[row], K)
        assert hits[0][0] == IDS[row]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
        assert len(hits) == K
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_recall_against_exact_search(loaded: VectorIndex) -> None:
    rng = np.random.default_rng(1)
    found = 0
    for row in rng.integers(0, N, 20):  # queries near the data, as real questions are
        q = X[row] + 0.2 * rng.standard_normal(DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        found += len({i for i, _ in loaded.search(q, K)} & set(_exact(q, K)))
    assert found / (20 * K) >= 0.95


def test_upsert_replaces_vector_and_metadata(full: VectorIndex) -> None:
    target = int(IDS[5])
    new_vec = -X[5]
    full.upsert([target], new_vec[None, :], [ChunkMeta(99, 99, 0.0, 0)])
    assert full.count() == N
    assert full.search(new_vec, 1) == [(target, pytest.approx(1.0, abs=1e-4))]
    assert target not in {i for i, _ in full.search(X[5], K)}
    assert [i for i, _ in full.search(X[0], K, SearchFilter(source_ids=frozenset({99})))] == [
        target
    ]
    assert target not in {
        i for i, _ in full.search(X[5], K, SearchFilter(source_ids=frozenset({5})))
    }


def test_delete_removes_and_ignores_unknown_ids(full: VectorIndex) -> None:
    gone = [int(i) for i in IDS[:50]]
    full.delete([*gone, 10**12])
    assert full.count() == N - 50
    assert full.ids() == set(IDS.tolist()) - set(gone)
    for row in (0, 10, 49):
        assert int(IDS[row]) not in {i for i, _ in full.search(X[row], K)}
    full.delete(gone)  # idempotent
    assert full.count() == N - 50


FILTERS = {
    "source": SearchFilter(source_ids=frozenset({3})),
    "sources": SearchFilter(source_ids=frozenset({1, 4, 8})),
    "owner": SearchFilter(owner_ids=frozenset({2})),
    "after": SearchFilter(modified_after=1_700_000_000.0 + 3_600.0 * 2_500),
    "before": SearchFilter(modified_before=1_700_000_000.0 + 3_600.0 * 300),
    "range": SearchFilter(
        modified_after=1_700_000_000.0 + 3_600.0 * 1_000,
        modified_before=1_700_000_000.0 + 3_600.0 * 1_100,
    ),
    "clearance": SearchFilter(max_sensitivity=0),
    "combined": SearchFilter(
        source_ids=frozenset({2, 3}), owner_ids=frozenset({1, 2, 3}), max_sensitivity=1
    ),
    # 3 sources x 1 owner x sensitivity 0 x a date window: 12 of 3,000 chunks match.
    "selective": SearchFilter(
        source_ids=frozenset({0, 1, 2}),
        owner_ids=frozenset({0}),
        max_sensitivity=0,
        modified_before=1_700_000_000.0 + 3_600.0 * 2_520,
    ),
}


@pytest.mark.parametrize("which", list(FILTERS))
def test_filters_are_applied_inside_the_search(loaded: VectorIndex, which: str) -> None:
    flt = FILTERS[which]
    matching = sum(_passes(m, flt) for m in METAS)
    assert matching >= K  # so k hits are owed, however selective the filter
    rng = np.random.default_rng(2)
    found = 0
    for row in rng.integers(0, N, 5):
        hits = loaded.search(X[row], K, flt)
        assert all(_passes(META_OF[i], flt) for i, _ in hits), which
        assert len(hits) == K, f"{which}: {len(hits)} hits though {matching} chunks match"
        found += len({i for i, _ in hits} & set(_exact(X[row], K, flt)))
    assert found / (5 * K) >= 0.9


def test_filter_matching_nothing_returns_nothing(loaded: VectorIndex) -> None:
    assert loaded.search(X[0], K, SearchFilter(source_ids=frozenset())) == []
    assert loaded.search(X[0], K, SearchFilter(source_ids=frozenset({12345}))) == []
    few = SearchFilter(source_ids=frozenset({0}), owner_ids=frozenset({0}), max_sensitivity=0)
    expected = sum(_passes(m, few) for m in METAS)
    assert len(loaded.search(X[0], 1_000, few)) == expected


def test_close_and_reopen_gives_the_same_answers(
    make_index: Callable[[], VectorIndex],
) -> None:
    index = make_index()
    index.upsert(IDS[:500].tolist(), X[:500], METAS[:500])
    index.delete([int(IDS[0])])
    flt = FILTERS["sources"]
    before = [index.search(X[row], K, flt) for row in (1, 2, 3)]
    index.flush()
    index.close()
    with pytest.raises(StoreUnavailable):
        index.search(X[1], K)
    again = make_index()
    assert again.count() == 499
    assert again.ids() == set(IDS[1:500].tolist())
    after = [again.search(X[row], K, flt) for row in (1, 2, 3)]
    for b, a in zip(before, after, strict=True):
        assert [i for i, _ in a] == [i for i, _ in b]
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)


def test_count_and_ids(make_index: Callable[[], VectorIndex]) -> None:
    index = make_index()
    index.upsert([1, 2, 3], X[:3], METAS[:3])
    index.upsert([3, 4], X[3:5], METAS[3:5])
    assert index.count() == 4
    assert index.ids() == {1, 2, 3, 4}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix: ix.search(np.ones(DIM + 1, np.float32), K), "this index holds 16-d"),
        (lambda ix: ix.search(np.zeros(DIM, np.float32), K), "zero or not finite"),
        (lambda ix: ix.search(np.full(DIM, np.nan, np.float32), K), "zero or not finite"),
        (lambda ix: ix.search(X[0], 0), "k=0 is not valid"),
        (lambda ix: ix.upsert([1, 2], X[:1], METAS[:1]), "expected (2, 16)"),
        (lambda ix: ix.upsert([1], X[:1], METAS[:2]), "1 ids but 2 metas"),
        (lambda ix: ix.upsert([1, 1], X[:2], METAS[:2]), "repeat"),
        (lambda ix: ix.upsert([1], X[:1], [ChunkMeta(1, 1, 0.0, 300)]), "0..127"),
        (lambda ix: ix.upsert([1], np.zeros((1, DIM)), METAS[:1]), "zero or not finite"),
    ],
)
def test_bad_input_is_invalid_input(
    make_index: Callable[[], VectorIndex], call: Callable[[VectorIndex], object], message: str
) -> None:
    index = make_index()
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(index)
    assert index.count() == 0


def test_reopening_with_another_dimension_is_refused(
    make_index: Callable[[], VectorIndex], request: pytest.FixtureRequest
) -> None:
    index = make_index()
    index.upsert([1], X[:1], METAS[:1])
    index.close()
    url = (
        f"milvus://{request.getfixturevalue('milvus_db')}"
        if isinstance(index, MilvusIndex)
        else Path(str(index.directory)).parent.as_uri()  # type: ignore[attr-defined]
    )
    name = index.name if isinstance(index, MilvusIndex) else index.directory.name  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="16"):
        open_index(url, dim=DIM * 2, name=name)


# ---------------------------------------------------------------------- URL handling


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost:6379", "unknown scheme 'redis'"),
        ("file://relative/dir", "absolute path"),
        ("milvus://relative.db", "Milvus Lite file"),
        ("milvus:///abs/path/no-suffix", "Milvus Lite file"),
        ("http://", "no host"),
        ("", "empty"),
    ],
)
def test_unknown_urls_name_the_accepted_forms(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_index(url, dim=DIM, name="kb")


def test_unknown_scheme_message_lists_every_form() -> None:
    with pytest.raises(InvalidInput) as info:
        open_index("s3://bucket/x", dim=DIM, name="kb")
    for form in ("file:///", "milvus:///", "http"):
        assert form in info.value.message


@pytest.mark.parametrize("name", ["", "9lives", "has-dash", "white space", "x" * 256])
def test_bad_index_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="letters, digits and underscores"):
        open_index(str(tmp_path), dim=DIM, name=name)


def test_plain_path_and_file_url_open_the_same_index(tmp_path: Path) -> None:
    first = open_index(str(tmp_path), dim=DIM, name="kb")
    first.upsert([7], X[:1], METAS[:1])
    first.close()
    second = open_index(tmp_path.as_uri(), dim=DIM, name="kb")
    assert second.ids() == {7}
    second.close()
    assert (tmp_path / "kb" / "MANIFEST.json").exists()


def test_package_exports_are_sorted_and_importable() -> None:
    import prodline.rag.index as package

    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        _ = package.NoSuchIndex


def test_milvus_filter_expressions() -> None:
    from prodline.rag.index import milvus

    assert doctest.testmod(milvus, raise_on_error=True).attempted > 0
    assert milvus.filter_expression(None) == ""
    assert milvus.filter_expression(SearchFilter()) == ""
    assert milvus.filter_expression(SearchFilter(owner_ids=frozenset())) is None
    assert (
        milvus.filter_expression(
            SearchFilter(owner_ids=frozenset({2}), modified_after=1.5, modified_before=2e9)
        )
        == "owner_id in [2] and modified_at >= 1.5 and modified_at <= 2000000000.0"
    )
