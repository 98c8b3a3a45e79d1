"""Price tables: validation naming the bad key, append-only versions, the version in force."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from meter_support import NOW, PRICES, PRICES_V2

from prodline.cost.prices import parse_price_table
from prodline.errors import InvalidInput, NotFound
from prodline.workspace import Workspace


def test_versions_are_appended_and_the_one_in_force_is_found(ws: Workspace) -> None:
    prices = ws.costs.prices
    assert prices.versions() == [] and prices.at(NOW) is None
    v1 = prices.set(PRICES, effective=NOW - timedelta(days=10))
    v2 = prices.set(PRICES_V2, effective=NOW - timedelta(days=1))
    assert (v1.version, v2.version) == (1, 2)
    assert [v.version for v in prices.versions()] == [1, 2]
    assert prices.at(NOW - timedelta(days=11)) is None
    in_force = prices.at(NOW - timedelta(days=5))
    assert in_force is not None and in_force.version == 1
    assert in_force.token_cost("cloud", "gpt", 1000, 500) == pytest.approx(2.0)
    latest = prices.at(NOW)
    assert latest is not None and latest.version == 2
    assert latest.token_cost("cloud", "gpt", 1000, 500) == pytest.approx(20.0)
    # an old version is never changed by a new one
    assert prices.get(1).tokens["cloud/gpt"] == (1.0, 2.0)
    assert prices.get(1).source_sha256 == v1.source_sha256 != v2.source_sha256
    events = [e for e in ws.audit.events() if e.action == "cost.prices_set"]
    assert sorted(e.subject for e in events) == ["prices:1", "prices:2"]
    with pytest.raises(InvalidInput) as err:
        prices.set(PRICES, effective=NOW - timedelta(days=2))
    assert err.value.details["field"] == "effective"
    with pytest.raises(NotFound):
        prices.get(9)


def test_unknown_price_is_none_and_compute_is_per_hour(tmp_path: Path, make_ws: Any) -> None:
    ws = make_ws()
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES)
    v = ws.costs.prices.set(path)
    assert v.token_cost("cloud", "gpt-5", 10, 10) is None  # unknown, not 0
    assert v.token_cost("local", "llama", 10**6, 10**6) == 0.0
    assert v.compute_cost(cpu_ms=1000, gpu_ms=100) == pytest.approx(0.001 + 0.001)
    assert v.to_dict()["tokens"]["cloud/gpt"] == {"input": 1.0, "output": 2.0}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "tokens: {cloud/gpt: {input: -1, output: 1}}\ncompute: {cpu_core_hour: 1, gpu_hour: 1}",
            "tokens.cloud/gpt.input",
        ),
        (
            "tokens: {cloud/gpt: {input: 1, output: lots}}\n"
            "compute: {cpu_core_hour: 1, gpu_hour: 1}",
            "tokens.cloud/gpt.output",
        ),
        (
            "tokens: {cloud/gpt: {input: 1}}\ncompute: {cpu_core_hour: 1, gpu_hour: 1}",
            "tokens.cloud/gpt.output",
        ),
        (
            "tokens: {gpt: {input: 1, output: 1}}\ncompute: {cpu_core_hour: 1, gpu_hour: 1}",
            "tokens.gpt",
        ),
        ("tokens: {}\ncompute: {cpu_core_hour: 1}", "compute.gpu_hour"),
        ("tokens: {}\ncompute: {cpu_core_hour: 1, gpu_hour: true}", "compute.gpu_hour"),
        ("tokens: {}\ncompute: {cpu_core_hour: 1, gpu_hour: 1, tpu_hour: 1}", "compute.tpu_hour"),
        ("compute: {cpu_core_hour: 1, gpu_hour: 1}", "tokens"),
        ("tokens: {}\ncompute: {cpu_core_hour: 1, gpu_hour: 1}\ncurrency: EUR", "currency"),
    ],
)
def test_bad_tables_name_the_key(text: str, field: str) -> None:
    import yaml

    with pytest.raises(InvalidInput) as err:
        parse_price_table(yaml.safe_load(text))
    assert err.value.details["field"] == field
    assert field in err.value.message


def test_a_bad_table_stores_nothing(make_ws: Any) -> None:
    ws = make_ws()
    with pytest.raises(InvalidInput, match=r"tokens\.cloud/gpt\.input must not be negative"):
        ws.costs.prices.set("tokens: {cloud/gpt: {input: -1, output: 1}}\ncompute: {}\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        ws.costs.prices.set("tokens: [\n")
    with pytest.raises(InvalidInput, match="does not exist"):
        ws.costs.prices.set("missing.yaml")
    assert ws.costs.prices.versions() == []
