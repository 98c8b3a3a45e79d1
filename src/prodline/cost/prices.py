"""Versioned price tables, reached as ``ws.costs.prices``.

A price table is a YAML file the user writes: USD per 1,000 tokens per ``provider/model``
and USD per hour of self-hosted compute::

    currency: USD
    tokens:
      cloud/gpt-4o-mini: {input: 0.00015, output: 0.0006}
      extractive/extractive: {input: 0, output: 0}
    compute:
      cpu_core_hour: 0.048
      gpu_hour: 2.50
      memory_gb_hour: 0.006

``PriceBook.set`` stores it as a NEW version (never editing an old one) in force from its
``effective_from``; each metered record is priced by the version in force at its ts, so a
new table never changes an old cost. A provider/model missing from the version in force
has an unknown cost (``None``), never zero.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
import yaml

from prodline.errors import InvalidInput, NotFound
from prodline.store.tables import price_versions

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "COMPUTE_KEYS",
    "PriceBook",
    "PriceVersion",
    "PriceIndex",
    "codes",
    "index_prices",
    "missing_prices",
    "parse_price_table",
]

COMPUTE_KEYS = ("cpu_core_hour", "gpu_hour", "memory_gb_hour")
"""Compute prices (USD per hour); ``cpu_core_hour`` and ``gpu_hour`` are required."""
_REQUIRED_COMPUTE = ("cpu_core_hour", "gpu_hour")
_MS_PER_HOUR = 3_600_000.0


@dataclass(frozen=True)
class PriceVersion:
    """One stored price table and when it came into force."""

    version: int
    effective_from: datetime
    tokens: dict[str, tuple[float, float]]  # "provider/model" -> (input, output) per 1k
    compute: dict[str, float]
    currency: str = "USD"
    source_sha256: str = ""
    created_by: str = ""
    created_at: datetime | None = field(default=None, compare=False)

    def token_price(self, provider: str, model: str) -> tuple[float, float] | None:
        """USD per 1,000 (input, output) tokens of ``provider/model``; None if not listed."""
        return self.tokens.get(f"{provider}/{model}")

    def token_cost(
        self, provider: str, model: str, input_tokens: int, output_tokens: int
    ) -> float | None:
        """USD for these tokens, or None when the table has no price for provider/model."""
        price = self.token_price(provider, model)
        if price is None:
            return None
        return input_tokens / 1000.0 * price[0] + output_tokens / 1000.0 * price[1]

    def compute_cost(self, *, cpu_ms: float = 0.0, gpu_ms: float = 0.0) -> float:
        """USD for ``cpu_ms`` of one CPU core and ``gpu_ms`` of one GPU."""
        return (
            cpu_ms / _MS_PER_HOUR * self.compute["cpu_core_hour"]
            + gpu_ms / _MS_PER_HOUR * self.compute["gpu_hour"]
        )

    def body(self) -> dict[str, Any]:
        """The parsed table, as stored (``price_versions.body``)."""
        return {
            "currency": self.currency,
            "tokens": {k: {"input": v[0], "output": v[1]} for k, v in sorted(self.tokens.items())},
            "compute": dict(self.compute),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for the CLI and API."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            **self.body(),
            "source_sha256": self.source_sha256,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{key} must be a number (USD), got {value!r}.", field=key)
    if value < 0:
        raise InvalidInput(f"{key} must not be negative, got {value!r}.", field=key)
    return float(value)


def parse_price_table(body: Any) -> tuple[str, dict[str, tuple[float, float]], dict[str, float]]:
    """Validate a parsed price table: (currency, tokens, compute).

    Raises
    ------
    InvalidInput
        A key is missing, unknown, negative or not a number; ``field`` names it, e.g.
        ``tokens.cloud/gpt-4o-mini.input``.
    """
    if not isinstance(body, dict):
        raise InvalidInput(
            "A price table must be a YAML mapping with tokens: and compute:.", field="tokens"
        )
    unknown = sorted(set(body) - {"currency", "tokens", "compute"})
    if unknown:
        raise InvalidInput(
            f"{unknown[0]} is not a known key; use currency, tokens and compute.",
            field=str(unknown[0]),
        )
    currency = body.get("currency", "USD")
    if currency != "USD":
        raise InvalidInput(f"currency must be USD, got {currency!r}.", field="currency")
    for section in ("tokens", "compute"):
        if not isinstance(body.get(section), dict):
            raise InvalidInput(f"{section} is missing or not a mapping.", field=section)
    tokens: dict[str, tuple[float, float]] = {}
    for route, prices in body["tokens"].items():
        where = f"tokens.{route}"
        provider, _, model = str(route).partition("/")
        if not provider or not model:
            raise InvalidInput(f"{where} must be named provider/model.", field=where)
        if not isinstance(prices, dict):
            raise InvalidInput(f"{where} must be {{input: N, output: N}}.", field=where)
        for side in ("input", "output"):
            if side not in prices:
                raise InvalidInput(f"{where}.{side} is missing.", field=f"{where}.{side}")
        extra = sorted(set(prices) - {"input", "output"})
        if extra:
            raise InvalidInput(
                f"{where}.{extra[0]} is not a known key; use input and output.",
                field=f"{where}.{extra[0]}",
            )
        tokens[str(route)] = (
            _number(prices["input"], f"{where}.input"),
            _number(prices["output"], f"{where}.output"),
        )
    compute: dict[str, float] = {"memory_gb_hour": 0.0}
    for key in _REQUIRED_COMPUTE:
        if key not in body["compute"]:
            raise InvalidInput(f"compute.{key} is missing.", field=f"compute.{key}")
    for key, value in body["compute"].items():
        if key not in COMPUTE_KEYS:
            raise InvalidInput(
                f"compute.{key} is not a known key; use {', '.join(COMPUTE_KEYS)}.",
                field=f"compute.{key}",
            )
        compute[str(key)] = _number(value, f"compute.{key}")
    return "USD", tokens, compute


def _read_text(text_or_path: str | Path) -> str:
    if isinstance(text_or_path, Path):
        if not text_or_path.is_file():
            raise InvalidInput(f"Price table file {text_or_path} does not exist.", field="file")
        return text_or_path.read_text(encoding="utf-8")
    if "\n" not in text_or_path and ":" not in text_or_path:
        path = Path(text_or_path)
        if not path.is_file():
            raise InvalidInput(f"Price table file {text_or_path} does not exist.", field="file")
        return path.read_text(encoding="utf-8")
    return text_or_path


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} must carry a timezone, e.g. 2026-12-01T00:00:00Z.", field=what)
    return moment.astimezone(UTC)


def _version(row: Any) -> PriceVersion:
    _, tokens, compute = parse_price_table(row.body)
    return PriceVersion(
        version=int(row.version),
        effective_from=row.effective_from,
        tokens=tokens,
        compute=compute,
        source_sha256=row.source_sha256,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class PriceBook:
    """Every price table ever set; the one in force at a moment prices that moment."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def set(self, text_or_path: str | Path, *, effective: datetime | None = None) -> PriceVersion:
        """Store a price table (YAML text or a file path) as a new version; audited.

        ``effective`` (default now) must not be before the latest version's.

        Raises
        ------
        InvalidInput
            The table is malformed (``field`` names the key) or ``effective`` is too early.
        """
        self._ws.authorize("cost.prices")
        text = _read_text(text_or_path)
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"The price table is not valid YAML: {exc}", field="file") from exc
        currency, tokens, compute = parse_price_table(body)
        now = datetime.now(UTC)
        start = now if effective is None else _utc(effective, "effective")
        with self._ws.tx() as conn:
            last = conn.execute(
                sa.select(price_versions.c.version, price_versions.c.effective_from)
                .order_by(price_versions.c.version.desc())
                .limit(1)
            ).first()
            if last is not None and start < last.effective_from:
                raise InvalidInput(
                    f"effective {start.isoformat()} is before price version {last.version}'s "
                    f"({last.effective_from.isoformat()}); a new version may only start later.",
                    field="effective",
                )
            version = PriceVersion(
                version=1 if last is None else int(last.version) + 1,
                effective_from=start,
                tokens=tokens,
                compute=compute,
                currency=currency,
                source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                created_by=self._ws.actor,
                created_at=now,
            )
            conn.execute(
                price_versions.insert().values(
                    version=version.version,
                    effective_from=start,
                    body=version.body(),
                    source_sha256=version.source_sha256,
                    created_by=version.created_by,
                    created_at=now,
                )
            )
            self._ws.audit.record(
                conn,
                "cost.prices_set",
                f"prices:{version.version}",
                {
                    "version": version.version,
                    "effective_from": start.isoformat(),
                    "sha256": version.source_sha256,
                    "routes": sorted(tokens),
                },
            )
        return version

    def versions(self) -> list[PriceVersion]:
        """Every version, oldest first."""
        with self._ws.db.read() as conn:
            rows = conn.execute(sa.select(price_versions).order_by(price_versions.c.version))
            return [_version(r) for r in rows]

    def get(self, version: int) -> PriceVersion:
        """Price version ``version``; NotFound naming ``version`` otherwise."""
        with self._ws.db.read() as conn:
            row = conn.execute(
                sa.select(price_versions).where(price_versions.c.version == version)
            ).first()
        if row is None:
            raise NotFound(
                f"Price version {version} does not exist; see prodline cost prices list.",
                field="version",
            )
        return _version(row)

    def latest(self) -> PriceVersion | None:
        """The newest version (whether or not it is in force yet); None without any."""
        found = self.versions()
        return found[-1] if found else None

    def at(self, ts: datetime) -> PriceVersion | None:
        """The version in force at ``ts`` (the latest whose effective_from ≤ ts), or None."""
        moment = _utc(ts, "ts")
        with self._ws.db.read() as conn:
            row = conn.execute(
                sa.select(price_versions)
                .where(price_versions.c.effective_from <= moment)
                .order_by(price_versions.c.version.desc())
                .limit(1)
            ).first()
        return None if row is None else _version(row)


@dataclass(frozen=True)
class PriceIndex:
    """Each record's price combination: the version in force at its ts and its
    provider/model, with the unit prices of every combination (vectorised).

    ``combo[i]`` is record i's combination; ``unit_*[c]`` are USD per input token, per
    output token, per CPU ms and per GPU ms of combination c (NaN: unknown — no token
    price for provider/model, or no version in force). Costs are linear in the counts,
    so a report sums the counts per (group, combination) and prices the sums.
    """

    combo: np.ndarray
    unit_in: np.ndarray
    unit_out: np.ndarray
    unit_cpu: np.ndarray
    unit_gpu: np.ndarray
    labels: list[tuple[str, int]]  # per combination: (provider/model or "", version or 0)

    @property
    def size(self) -> int:
        """The number of combinations."""
        return len(self.labels)

    def missing(self, present: np.ndarray) -> list[tuple[str, int]]:
        """(provider/model, version) of the present combinations lacking a token price."""
        bad = present & np.isnan(self.unit_in) & ~np.isnan(self.unit_cpu)
        return sorted(self.labels[int(c)] for c in np.flatnonzero(bad))

    def used(self, present: np.ndarray) -> list[int]:
        """The versions of the present combinations."""
        return sorted({self.labels[int(c)][1] for c in np.flatnonzero(present)} - {0})


def codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int32, one per row) and the dictionary of a string column."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = column.unify_dictionaries()
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), []
    parts = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
    return (
        np.concatenate(parts, dtype=np.int32),
        [str(x) for x in column.chunks[0].dictionary.to_pylist()],
    )


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def index_prices(
    table: pa.Table, versions: list[PriceVersion], *, version: int | None = None
) -> PriceIndex:
    """Join every record of ``table`` to the version in force at its ts (a vectorised
    search over the versions' ``effective_from``) and to its provider/model's prices.

    Columns used: ts (unless ``version``, the index into ``versions`` in force for every
    record, is given), provider, llm_model.
    """
    pcode, providers = codes(table["provider"])
    mcode, models = codes(table["llm_model"])
    npv, nm = max(len(providers), 1), max(len(models), 1)
    size = (len(versions) + 1) * npv * nm
    unit = np.full((4, size), np.nan)
    labels: list[tuple[str, int]] = []
    for s in range(len(versions) + 1):
        v = versions[s - 1] if s else None
        for p in range(npv):
            for m in range(nm):
                provider = providers[p] if providers else ""
                route = f"{provider}/{models[m]}" if provider else ""
                labels.append((route, v.version if v else 0))
                if v is None:
                    continue
                c = len(labels) - 1
                unit[2, c] = v.compute["cpu_core_hour"] / _MS_PER_HOUR
                unit[3, c] = v.compute["gpu_hour"] / _MS_PER_HOUR
                price = (0.0, 0.0) if not provider else v.token_price(provider, models[m])
                if price is not None:
                    unit[0, c], unit[1, c] = price[0] / 1000.0, price[1] / 1000.0
    combo = pcode * nm + mcode  # int32: the combinations are few
    if version is None:  # slot 0: no version in force; i + 1: versions[i]
        ts = table["ts"].cast(pa.int64()).to_numpy()
        starts = np.array([_micros(v.effective_from) for v in versions], dtype=np.int64)
        slot = np.searchsorted(starts, ts, side="right").astype(np.int32)
        combo += slot * np.int32(npv * nm)
    else:
        combo += np.int32((version + 1) * npv * nm)
    return PriceIndex(combo, unit[0], unit[1], unit[2], unit[3], labels)


def missing_prices(table: pa.Table, versions: list[PriceVersion]) -> list[tuple[str, int]]:
    """(provider/model, version) pairs of ``table``'s records that have no token price."""
    index = index_prices(table, versions)
    return index.missing(np.bincount(index.combo, minlength=index.size) > 0)
