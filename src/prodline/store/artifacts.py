"""Content-addressed blob store: each blob is named by the sha256 of its bytes.

Writes are atomic (temp file in the same folder, fsync, rename), so a crash never
leaves a half-written blob under a real name. Identical content is stored once.
Every read re-hashes the bytes: a corrupted blob is an ``IntegrityError`` naming the
artifact, never a silently wrong model. The local folder is the default; any fsspec
URL (``s3://bucket/prefix``) selects a remote filesystem behind the same interface.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from prodline.errors import IntegrityError, InvalidInput, NotFound

__all__ = ["ArtifactStore", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hash a file in chunks (never loads it whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Blobs under ``root/ab/abcdef...``; ``root`` is a folder or an fsspec URL."""

    def __init__(self, root: str) -> None:
        self.url = root
        self._remote = "://" in root and not root.startswith("file://")
        if self._remote:
            import fsspec

            self._fs, self._root = fsspec.core.url_to_fs(root)
            self.root = Path(tempfile.gettempdir()) / "prodline-artifact-cache"
        else:
            self.root = Path(root.removeprefix("file://"))
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InvalidInput(f"'{sha}' is not a sha256 artifact id.")
        return self.root / sha[:2] / sha

    def put_file(self, src: Path) -> str:
        """Copy a file in; returns its sha256. Existing content is not copied twice."""
        try:
            with src.open("rb") as fh:
                return self._put_stream(fh)
        except FileNotFoundError as exc:
            raise InvalidInput(f"File '{src}' does not exist.") from exc
        except IsADirectoryError as exc:
            raise InvalidInput(f"'{src}' is a folder; give a file.") from exc

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` like ``put`` stores a file, and return its sha256."""
        return self._put_stream(io.BytesIO(data))

    def _put_stream(self, src: BinaryIO) -> str:
        digest = hashlib.sha256()
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self._path(sha)
            if final.exists():
                tmp.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                self._upload(sha, final)
            return sha
        finally:
            tmp.unlink(missing_ok=True)

    def _upload(self, sha: str, local: Path) -> None:
        if self._remote:
            self._fs.put_file(str(local), f"{self._root}/{sha[:2]}/{sha}")

    def exists(self, sha: str) -> bool:
        """Whether the blob is here or in the remote store (its bytes are not verified)."""
        if self._path(sha).exists():
            return True
        return bool(self._remote and self._fs.exists(f"{self._root}/{sha[:2]}/{sha}"))

    def path(self, sha: str, *, name: str = "") -> Path:
        """Local path of a verified blob; raises if missing or corrupted."""
        local = self._path(sha)
        label = f"artifact {sha[:12]}" + (f" ({name})" if name else "")
        if not local.exists() and self._remote:
            local.parent.mkdir(parents=True, exist_ok=True)
            self._fs.get_file(f"{self._root}/{sha[:2]}/{sha}", str(local))
        if not local.exists():
            raise NotFound(
                f"The {label} is missing from {self.url}; restore the artifact folder from backup."
            )
        actual = sha256_file(local)
        if actual != sha:
            raise IntegrityError(
                f"The {label} is corrupted: its bytes hash to {actual[:12]}, not "
                f"{sha[:12]}. Restore '{local}' from backup or re-register it.",
                artifact=sha,
            )
        return local

    def delete(self, sha: str) -> None:
        """Remove a blob (here and in the remote store); a missing one is not an error.

        Only for blobs that one record owns and that must not outlive it (a purged
        prediction-log segment): blobs are content-addressed, so the caller must know
        nothing else refers to the same bytes.
        """
        self._path(sha).unlink(missing_ok=True)
        remote = f"{self._root}/{sha[:2]}/{sha}" if self._remote else ""
        if remote and self._fs.exists(remote):
            self._fs.rm_file(remote)

    def read_bytes(self, sha: str, *, name: str = "") -> bytes:
        """The blob's verified bytes; ``name`` labels it in the error if it is missing."""
        return self.path(sha, name=name).read_bytes()

    def export(self, sha: str, dest: Path, *, name: str = "") -> Path:
        """Copy the verified blob to ``dest`` and return ``dest``."""
        shutil.copyfile(self.path(sha, name=name), dest)
        return dest
