"""Columnar, in-memory view of a project's records for the mining core.

Records are streamed into a :class:`DatasetBuilder` which keeps only compact
columns (numpy arrays, one sparse record × keyword matrix), so a million
records fit in a few hundred MB and every algorithm reuses the same tokens.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from bizlogic.records.schema import Record
from bizlogic.records.tokenizer import Tokenizer

NAT = np.iinfo(np.int64).min  # created_at missing


@dataclass(frozen=True)
class Categorical:
    """Codes into ``categories``; -1 marks a missing value."""

    codes: np.ndarray
    categories: tuple[str, ...]

    def code_of(self, value: str) -> int:
        try:
            return self.categories.index(value)
        except ValueError:
            return -2  # matches nothing, not even missing values

    def take(self, index: np.ndarray) -> Categorical:
        return Categorical(self.codes[index], self.categories)

    def counts(self) -> np.ndarray:
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=len(self.categories))

    def values(self) -> list[str | None]:
        cats = self.categories
        return [cats[c] if c >= 0 else None for c in self.codes.tolist()]


@dataclass(frozen=True)
class Dataset:
    ids: np.ndarray  # object array of str
    sentiment: Categorical
    label: Categorical
    annotator: Categorical
    task: Categorical
    rating: np.ndarray  # float64, nan = missing
    lead_time: np.ndarray  # float64, nan = missing
    created_at: np.ndarray  # int64 epoch seconds, NAT = missing
    tokens: sp.csr_matrix  # n × len(vocab), 1 where the record contains the keyword
    vocab: tuple[str, ...]
    id_hash: np.ndarray = field(repr=False)  # uint32 crc32 of the id: deterministic splits
    # uint64 identity of the text (case and spacing folded): equal texts are one observation
    text_key: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.text_key is None:  # datasets built by hand: every record its own text
            object.__setattr__(self, "text_key", self.id_hash.astype(np.uint64) | (1 << 63))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    def keyword_index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.vocab)}

    def take(self, index: np.ndarray) -> Dataset:
        """Rows selected by a boolean mask or an index array; the vocabulary is kept."""
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Dataset(
            ids=self.ids[index],
            sentiment=self.sentiment.take(index),
            label=self.label.take(index),
            annotator=self.annotator.take(index),
            task=self.task.take(index),
            rating=self.rating[index],
            lead_time=self.lead_time[index],
            created_at=self.created_at[index],
            tokens=self.tokens[index],
            vocab=self.vocab,
            id_hash=self.id_hash[index],
            text_key=self.text_key[index],
        )

    def created_datetime(self, i: int) -> datetime | None:
        value = int(self.created_at[i])
        return None if value == NAT else datetime.fromtimestamp(value, tz=UTC)

    def class_column(self, name: str) -> Categorical:
        if name not in ("sentiment", "label", "annotator"):
            raise ValueError(f"not a class column: {name}")
        return getattr(self, name)


def text_key(text: str) -> int:
    """64-bit identity of a text, blind to case and spacing.

    The text alone decides it, not the keywords: a project read back from the
    database (stored tokens) must group and split exactly like the file it came from.
    """
    folded = " ".join(text.split()).casefold()
    digest = hashlib.blake2b(folded.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class _Interner:
    __slots__ = ("codes", "index", "values")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []
        self.codes: list[int] = []

    def add(self, value: str | None) -> None:
        if value is None:
            self.codes.append(-1)
            return
        code = self.index.get(value)
        if code is None:
            code = len(self.values)
            self.index[value] = code
            self.values.append(value)
        self.codes.append(code)

    def build(self) -> Categorical:
        # Categories sorted by name so codes do not depend on record order.
        order = sorted(range(len(self.values)), key=self.values.__getitem__)
        remap = np.empty(len(self.values) + 1, dtype=np.int32)
        remap[-1] = -1
        for new, old in enumerate(order):
            remap[old] = new
        codes = (
            remap[np.asarray(self.codes, dtype=np.int64)] if self.codes else np.empty(0, np.int32)
        )
        return Categorical(codes.astype(np.int32), tuple(self.values[i] for i in order))


class DatasetBuilder:
    """Accumulates records into columns; duplicate ids keep the last record."""

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._sentiment = _Interner()
        self._label = _Interner()
        self._annotator = _Interner()
        self._task = _Interner()
        self._rating: list[float] = []
        self._lead: list[float] = []
        self._created: list[int] = []
        self._vocab: dict[str, int] = {}
        self._token_rows: list[list[int]] = []
        self._replaced: set[int] = set()
        self._token_cache: dict[str, list[int]] = {}
        self._text_keys: list[int] = []

    def __len__(self) -> int:
        return len(self._ids) - len(self._replaced)

    def _token_ids(self, record: Record) -> list[int]:
        if record.keywords is None:
            cached = self._token_cache.get(record.text)
            if cached is not None:
                return cached
        vocab = self._vocab
        ids = []
        for word in self.tokenizer.record_tokens(record.text, record.keywords):
            code = vocab.get(word)
            if code is None:
                code = vocab[word] = len(vocab)
            ids.append(code)
        if record.keywords is None:
            # Tasks annotated by several people repeat the text; tokenize it once.
            if len(self._token_cache) > 200_000:
                self._token_cache.clear()
            self._token_cache[record.text] = ids
        return ids

    def add(self, record: Record) -> None:
        previous = self._position.get(record.id)
        if previous is not None:
            self._replaced.add(previous)
        self._position[record.id] = len(self._ids)
        self._ids.append(record.id)
        self._sentiment.add(record.sentiment)
        self._label.add(record.label)
        self._annotator.add(record.annotator)
        self._task.add(record.task_id)
        self._rating.append(np.nan if record.rating is None else record.rating)
        self._lead.append(np.nan if record.lead_time is None else record.lead_time)
        self._created.append(
            NAT if record.created_at is None else int(record.created_at.timestamp())
        )
        self._token_rows.append(self._token_ids(record))
        self._text_keys.append(text_key(record.text))

    def extend(self, records: Iterable[Record]) -> DatasetBuilder:
        for record in records:
            self.add(record)
        return self

    def build(self) -> Dataset:
        n = len(self._ids)
        lengths = np.fromiter((len(r) for r in self._token_rows), dtype=np.int64, count=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.fromiter(
            (c for row in self._token_rows for c in row), dtype=np.int32, count=int(indptr[-1])
        )
        # Vocabulary sorted alphabetically: results do not depend on record order.
        words = list(self._vocab)
        order = np.argsort(np.asarray(words, dtype=object), kind="stable")
        remap = np.empty(len(words), dtype=np.int32)
        remap[order] = np.arange(len(words), dtype=np.int32)
        matrix = sp.csr_matrix(
            (
                np.ones(indices.shape[0], dtype=np.int32),
                remap[indices] if len(words) else indices,
                indptr,
            ),
            shape=(n, len(words)),
        )
        matrix.sort_indices()
        ids = np.asarray(self._ids, dtype=object)
        dataset = Dataset(
            ids=ids,
            sentiment=self._sentiment.build(),
            label=self._label.build(),
            annotator=self._annotator.build(),
            task=self._task.build(),
            rating=np.asarray(self._rating, dtype=np.float64),
            lead_time=np.asarray(self._lead, dtype=np.float64),
            created_at=np.asarray(self._created, dtype=np.int64),
            tokens=matrix,
            vocab=tuple(words[i] for i in order),
            id_hash=np.fromiter((zlib.crc32(i.encode("utf-8")) for i in self._ids), np.uint32, n),
            text_key=np.asarray(self._text_keys, dtype=np.uint64),
        )
        if self._replaced:
            keep = np.ones(n, dtype=bool)
            keep[list(self._replaced)] = False
            dataset = dataset.take(keep)
        return dataset


def build_dataset(records: Iterable[Record], tokenizer: Tokenizer | None = None) -> Dataset:
    return DatasetBuilder(tokenizer).extend(records).build()
