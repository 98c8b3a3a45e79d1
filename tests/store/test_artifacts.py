"""Artifact store: content addressing, de-duplication, atomicity, verified reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from prodline.errors import IntegrityError, InvalidInput, NotFound
from prodline.store.artifacts import ArtifactStore


def test_put_returns_sha256_and_dedupes(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    data = b"model bytes" * 1000
    sha = store.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    assert store.put_file(src) == sha
    blobs = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert store.read_bytes(sha) == data


def test_no_temp_files_left_behind(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    for i in range(5):
        store.put_bytes(f"blob {i}".encode())
    assert not list((tmp_path / "a").rglob(".incoming-*"))


def test_corrupted_blob_is_a_clear_error(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    sha = store.put_bytes(b"the real model")
    blob = tmp_path / "a" / sha[:2] / sha
    blob.write_bytes(b"the evil model")
    with pytest.raises(IntegrityError, match=rf"model v1.*corrupted.*{sha[:12]}"):
        store.path(sha, name="model v1")


def test_missing_blob_and_bad_ids(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "a"))
    with pytest.raises(NotFound, match="missing"):
        store.path("a" * 64)
    with pytest.raises(InvalidInput, match="not a sha256"):
        store.path("../../etc/passwd")
    with pytest.raises(InvalidInput, match="does not exist"):
        store.put_file(tmp_path / "nope.bin")


def test_fsspec_memory_backend(tmp_path: Path) -> None:
    store = ArtifactStore("memory://prodline-test-artifacts")
    sha = store.put_bytes(b"remote bytes")
    assert store.exists(sha)
    assert store.read_bytes(sha) == b"remote bytes"
