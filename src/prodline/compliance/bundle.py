"""Record-keeping bundles: a period's audit events and prediction logs, signed, checkable
offline.

A bundle is a folder:

``events.jsonl``
    The audit events of the period, oldest first, exactly as chained (hashes included).
``predictions.parquet``
    The prediction log's rows of the period (as ``ws.predictions.read`` returns them,
    after each model's minimisation policy).
``manifest.json``
    The period, the first event's previous hash and the last event's hash, the sha256 and
    size of each file, and an HMAC-SHA256 signature of all that under a key derived from
    the workspace key.

:func:`verify_bundle` needs only the folder and the workspace key (``PRODLINE_AUDIT_KEY``
or the key file), no database: it checks the signature, each file's hash, and
recomputes the event chain from the manifest's first previous hash to its last hash,
so an edited, removed, inserted or reordered event, an edited prediction row, or a
forged manifest is found.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BUNDLE_FORMAT", "BundleCheck", "verify_bundle", "write_bundle"]

BUNDLE_FORMAT = "prodline-bundle/1"
_KEY_LABEL = b"prodline record-keeping bundle v1"
_FILES = ("events.jsonl", "predictions.parquet")


def bundle_key(workspace_key: bytes) -> bytes:
    """The signing key of bundles, derived from (never equal to) the workspace key."""
    return hmac.new(workspace_key, _KEY_LABEL, hashlib.sha256).digest()


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _event_hash(e: Mapping[str, Any]) -> str:
    payload = orjson.dumps(e["payload"], option=orjson.OPT_SORT_KEYS, default=str).decode()
    fields = (str(e["seq"]), e["ts"], e["actor"], e["action"], e["subject"], payload)
    body = "\x1f".join((*fields, e["prev_hash"]))
    return hashlib.sha256(body.encode()).hexdigest()


def write_bundle(
    out: Path,
    events: Sequence[Mapping[str, Any]],
    predictions: pd.DataFrame,
    *,
    key: bytes,
    period: Mapping[str, Any],
) -> dict[str, Any]:
    """Write the bundle folder ``out`` (new or empty); returns the signed manifest.

    ``events`` must be consecutive audit events, oldest first.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"--out '{out}' exists and is not an empty folder; name a new one.")
    for earlier, later in itertools.pairwise(events):
        if later["seq"] != earlier["seq"] + 1 or later["prev_hash"] != earlier["hash"]:
            raise InvalidInput(f"Audit events #{earlier['seq']}-#{later['seq']} are not chained.")
    for e in events:
        if _event_hash(e) != e["hash"]:
            raise InvalidInput(
                f"Audit event #{e['seq']} does not match its hash; run prodline audit verify."
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "events.jsonl").write_bytes(b"".join(orjson.dumps(dict(e)) + b"\n" for e in events))
    frame = predictions.copy()
    for name in frame.columns:  # mixed-type object columns as JSON text (as the log does)
        if frame[name].dtype == object:
            try:
                pa.array(frame[name], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                frame[name] = [
                    None if v is None else json.dumps(v, default=str) for v in frame[name]
                ]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out / "predictions.parquet")
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        **dict(period),
        "events": {
            "count": len(events),
            "first_seq": events[0]["seq"] if events else None,
            "last_seq": events[-1]["seq"] if events else None,
            "prev_hash": events[0]["prev_hash"] if events else None,
            "last_hash": events[-1]["hash"] if events else None,
        },
        "predictions": {"rows": len(frame)},
        "files": {
            name: {
                "sha256": hashlib.sha256((out / name).read_bytes()).hexdigest(),
                "bytes": (out / name).stat().st_size,
            }
            for name in _FILES
        },
    }
    manifest["signature"] = hmac.new(
        bundle_key(key), _canonical(manifest), hashlib.sha256
    ).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass(frozen=True)
class BundleCheck:
    """Outcome of :func:`verify_bundle`; ``str()`` is the line the CLI prints."""

    ok: bool
    events: int
    predictions: int
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"bundle ok, {self.events} events, {self.predictions} prediction rows"
        return f"bundle tampered: {self.reason}"


def verify_bundle(path: Path, key: bytes) -> BundleCheck:
    """Check a bundle folder offline against the workspace ``key``."""
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise InvalidInput(f"'{path}' is not a bundle: it has no manifest.json.", field="bundle")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        return BundleCheck(False, 0, 0, "manifest.json is not valid JSON")
    if manifest.get("format") != BUNDLE_FORMAT:
        return BundleCheck(False, 0, 0, f"unknown bundle format {manifest.get('format')!r}")
    expected = hmac.new(bundle_key(key), _canonical(manifest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(str(manifest.get("signature", "")), expected):
        return BundleCheck(
            False, 0, 0, "the manifest's signature is invalid (edited, or another workspace key)"
        )
    for name, info in manifest["files"].items():
        file = path / name
        if not file.is_file():
            return BundleCheck(False, 0, 0, f"{name} is missing")
        if hashlib.sha256(file.read_bytes()).hexdigest() != info["sha256"]:
            return BundleCheck(False, 0, 0, f"{name} does not match its hash in the manifest")
    meta = manifest["events"]
    prev, count = meta["prev_hash"], 0
    for line in (path / "events.jsonl").read_bytes().splitlines():
        event = orjson.loads(line)
        if event["prev_hash"] != prev or _event_hash(event) != event["hash"]:
            return BundleCheck(False, count, 0, f"event #{event.get('seq')} breaks the chain")
        prev, count = event["hash"], count + 1
    if count != meta["count"] or (count and prev != meta["last_hash"]):
        return BundleCheck(False, count, 0, "the events end before the manifest's last event")
    import pyarrow.parquet as pq

    rows = pq.read_metadata(path / "predictions.parquet").num_rows
    if rows != manifest["predictions"]["rows"]:
        return BundleCheck(False, count, rows, "predictions.parquet has a different row count")
    return BundleCheck(True, count, rows)
