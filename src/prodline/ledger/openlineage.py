"""Export the lineage tree as OpenLineage run events (``openlineage-python`` types).

Each model version becomes a COMPLETE run of job ``train/<model>`` whose inputs are the
dataset versions it was trained on; each alias becomes a run of ``promote/<model>``
whose input is the version it points at. Dataset facets carry schema, ownership and
sensitivity tags, which the caller supplies as plain facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import ownership_dataset, schema_dataset, tags_dataset
from openlineage.client.serde import Serde

from prodline.ledger.lineage import LineageNode

__all__ = ["NAMESPACE", "PRODUCER", "run_events", "to_json_lines"]

NAMESPACE = "prodline"
PRODUCER = "https://github.com/prodline/prodline"


def _dataset_facets(facts: Mapping[str, Any]) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if facts.get("schema"):
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=c["name"], type=c["type"])
                for c in facts["schema"]
            ]
        )
    if facts.get("owner"):
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=str(facts["owner"]), type="team")]
        )
    tags = [
        tags_dataset.TagsDatasetFacetFields(
            key="sensitivity", value=str(info["level"]), source="prodline", field=column
        )
        for column, info in (facts.get("sensitivity") or {}).items()
        if info.get("level", "none") != "none"
    ]
    if tags:
        facets["tags"] = tags_dataset.TagsDatasetFacet(tags=tags)
    return facets


def run_events(tree: LineageNode, facts: Mapping[str, Mapping[str, Any]]) -> list[RunEvent]:
    """One event per producing step (training, promotion) in ``tree``, sources first."""
    events: list[RunEvent] = []
    seen: set[str] = set()
    for item in reversed(list(tree.walk())):
        if item.id in seen or item.kind not in {"model", "alias", "deployment"}:
            continue
        seen.add(item.id)
        info = facts.get(item.id, {})
        job = {"model": "train", "alias": "promote", "deployment": "deploy"}[item.kind]
        inputs = [
            InputDataset(
                namespace=NAMESPACE, name=p.id, facets=_dataset_facets(facts.get(p.id, {}))
            )
            for p in item.parents
        ]
        events.append(
            RunEvent(
                eventType=RunState.COMPLETE,
                eventTime=str(info.get("created_at", "1970-01-01T00:00:00+00:00")),
                producer=PRODUCER,
                run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"prodline/{item.id}"))),
                job=Job(namespace=NAMESPACE, name=f"{job}/{item.name}"),
                inputs=inputs,
                outputs=[
                    OutputDataset(namespace=NAMESPACE, name=item.id, facets=_dataset_facets(info))
                ],
            )
        )
    return events


def to_json_lines(events: list[RunEvent]) -> str:
    return "\n".join(Serde.to_json(e) for e in events)
