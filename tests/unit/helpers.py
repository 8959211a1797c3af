"""Small builders shared by the unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from bizlogic.records.dataset import Dataset, build_dataset
from bizlogic.records.schema import Record


def keyword_dataset(rows: list[tuple[list[str], str | None]], label: str | None = None) -> Dataset:
    """Records with explicit keyword lists (no tokenizer involved), each a text of its own."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return build_dataset(
        Record(
            id=f"r{i:05d}",
            text=f"review {i}: " + " ".join(words),
            sentiment=sentiment,
            label=label,
            keywords=words,
            created_at=start + timedelta(hours=i),
        )
        for i, (words, sentiment) in enumerate(rows)
    )


def all_rows(data: Dataset) -> np.ndarray:
    return np.ones(len(data), dtype=bool)
