"""``prodline feedback``: attach ground-truth labels to logged predictions."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import typer

from prodline.cli.common import console, open_workspace, print_json
from prodline.errors import InvalidInput

app = typer.Typer(
    help="Ground-truth labels for logged predictions (by their x-request-id).",
    no_args_is_help=True,
)


@app.command("add")
def add(
    request_id: str = typer.Argument(None, help="The x-request-id the server answered with."),
    label: str = typer.Argument(None, help="The true outcome (JSON: 1, 0.5, true, or text)."),
    row: int = typer.Option(0, "--row", min=0, help="Row of the request (0 for one row)."),
    file: Path = typer.Option(
        None,
        "--file",
        "-f",
        help="Labels from a .csv (request_id,label[,row]) or .jsonl file instead.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Attach labels to predictions; unknown request ids are reported (and kept as orphans).

    A later label for the same row replaces the earlier one (audited).

    Example: prodline feedback add 3f9a0c1d2e4b-17 1
    Example: prodline feedback add --file labels.csv
    """
    if file is not None:
        if request_id is not None or label is not None:
            raise InvalidInput("Give either REQUEST_ID LABEL or --file, not both.", field="file")
        records = read_labels(file)
    elif request_id is None or label is None:
        raise InvalidInput(
            "Give REQUEST_ID and LABEL (prodline feedback add 3f9a-17 1) or --file labels.csv.",
            field="label" if request_id is not None else "request_id",
        )
    else:
        records = [{"request_id": request_id, "label": _value(label), "row": row}]
    with open_workspace() as ws:
        result = ws.feedback.add_many(records)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"[green]accepted[/] {result.accepted}  unknown {result.unknown}  "
        f"replaced {result.duplicates}",
        highlight=False,
    )
    if result.unknown:
        shown = ", ".join(result.unknown_ids[:10])
        more = f" (+{len(result.unknown_ids) - 10} more)" if len(result.unknown_ids) > 10 else ""
        console.print(
            f"[yellow]no logged prediction for[/] {shown}{more}; kept as orphans until one is "
            "logged.",
            highlight=False,
        )


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Label records from a CSV file (header request_id,label[,row]) or JSON lines."""
    if not path.is_file():
        raise InvalidInput(f"No such labels file: {path}.", field="file")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix in (".jsonl", ".ndjson"):
        records: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"{path.name} line {number} is not JSON ({exc.msg}); one "
                    '{"request_id": ..., "label": ...} object per line.',
                    field="file",
                ) from exc
        return records
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = {"request_id", "label"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(
                f"{path.name} lacks the column(s) {sorted(missing)}; its header must be "
                "request_id,label[,row].",
                field="file",
            )
        out = []
        for record in reader:
            item: dict[str, Any] = {
                "request_id": record["request_id"],
                "label": _value(record["label"]) if record["label"] != "" else None,
            }
            if record.get("row") not in (None, ""):
                try:
                    item["row"] = int(record["row"])
                except ValueError:
                    item["row"] = record["row"]  # reported by add_many, naming the record
            out.append(item)
        return out
    raise InvalidInput(
        f"Cannot read labels from {path.name}: use a .csv (request_id,label[,row]) or a "
        ".jsonl file.",
        field="file",
    )


def _value(text: str) -> Any:
    """A label from the command line or a CSV cell: JSON when it parses, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
