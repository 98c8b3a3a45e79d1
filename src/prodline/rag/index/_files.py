"""Crash-safe files for on-disk indexes: generation files committed by one manifest.

Every save writes its data files under new, generation-numbered names, fsyncs them, and
only then replaces ``MANIFEST.json`` (temp file, fsync, ``os.replace``, fsync of the
directory). A reader follows the manifest, so a kill -9 at any point leaves either the
old generation or the new one, never a mix: files of an unfinished save are unreferenced
and removed by the next open.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from prodline.errors import IntegrityError, StoreUnavailable

__all__ = [
    "MANIFEST",
    "file_digest",
    "fsync_dir",
    "fsync_file",
    "read_manifest",
    "remove_unreferenced",
    "verify_files",
    "write_manifest",
]

MANIFEST = "MANIFEST.json"


def fsync_file(path: Path) -> None:
    """Flush one file's bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make renames inside ``directory`` durable (a no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_digest(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Atomically replace ``directory/MANIFEST.json``: the commit point of a save."""
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, directory / MANIFEST)
    fsync_dir(directory)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The committed manifest, or None when nothing was ever saved in ``directory``."""
    path = directory / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnavailable(
            f"Cannot read {path}: {exc}; check the directory's permissions."
        ) from exc
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntegrityError(
            f"{path} is not valid JSON ({exc}); restore the directory from a backup or "
            "delete it and rebuild the index from the knowledge base."
        ) from exc
    if not isinstance(manifest, dict):
        raise IntegrityError(f"{path} is not a manifest object; rebuild the index.")
    return manifest


def verify_files(directory: Path, files: dict[str, str]) -> None:
    """Check that each ``name -> sha256`` in the manifest matches the bytes on disk."""
    for name, digest in files.items():
        path = directory / name
        if not path.exists():
            raise IntegrityError(
                f"Index file {path} named by the manifest is missing; restore the directory "
                "from a backup or delete it and rebuild the index."
            )
        if file_digest(path) != digest:
            raise IntegrityError(
                f"Index file {path} does not match the sha256 in its manifest; restore the "
                "directory from a backup or delete it and rebuild the index."
            )


def remove_unreferenced(directory: Path, keep: set[str], prefixes: tuple[str, ...]) -> None:
    """Delete our files left by unfinished or superseded saves (best effort).

    Only names starting with one of ``prefixes`` (the save's own naming scheme) or the
    manifest's temp file are touched, so foreign files in the directory survive.
    """
    for entry in directory.iterdir():
        if entry.name == MANIFEST or entry.name in keep:
            continue
        if not entry.name.startswith((*prefixes, f".{MANIFEST}")):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
