"""Write canonical records as a Label Studio full JSON export.

Used by ``bizlogic demo-data --format labelstudio`` so the Label Studio path
can be exercised at any size: one task per ``task_id`` with one annotation per
record, the sentiment as a ``choices`` control named ``sentiment``, the label
as a ``choices`` control named ``topic`` and the rating as a ``rating``
control named ``quality``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

_EMAIL_DOMAIN = "example.com"


def _annotation(record: dict[str, Any], annotation_id: int) -> dict[str, Any]:
    result: list[dict[str, Any]] = []
    if record.get("sentiment"):
        result.append(
            {
                "id": f"s{annotation_id}",
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [str(record["sentiment"]).capitalize()]},
            }
        )
    if record.get("label"):
        result.append(
            {
                "id": f"t{annotation_id}",
                "from_name": "topic",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [str(record["label"]).capitalize()]},
            }
        )
    if record.get("rating") is not None:
        result.append(
            {
                "id": f"q{annotation_id}",
                "from_name": "quality",
                "to_name": "text",
                "type": "rating",
                "value": {"rating": int(record["rating"])},
            }
        )
    annotator = record.get("annotator")
    return {
        "id": annotation_id,
        "completed_by": {"id": annotation_id, "email": f"{annotator}@{_EMAIL_DOMAIN}"}
        if annotator
        else None,
        "result": result,
        "was_cancelled": False,
        "created_at": record.get("created_at"),
        "lead_time": record.get("lead_time"),
    }


def write_labelstudio_export(chunks: Iterable[list[dict[str, Any]]], path: Path) -> int:
    """Stream record chunks into ``path`` as a JSON array of tasks; returns the task count.

    Records of one task must arrive in the same chunk (the generator's
    chunks never split a task).
    """
    tmp = path.with_name(path.name + ".tmp")
    tasks = 0
    annotation_id = 0
    with tmp.open("wb") as out:
        out.write(b"[\n")
        for chunk in chunks:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for record in chunk:
                grouped.setdefault(str(record.get("task_id") or record["id"]), []).append(record)
            for task_key, records in grouped.items():
                annotations = []
                for record in records:
                    annotation_id += 1
                    annotations.append(_annotation(record, annotation_id))
                task = {
                    "id": tasks + 1,
                    "data": {"text": records[0]["text"], "ref": task_key},
                    "annotations": annotations,
                }
                out.write((b",\n" if tasks else b"") + orjson.dumps(task))
                tasks += 1
        out.write(b"\n]\n")
    tmp.replace(path)
    return tasks
