"""Keyword extraction for mixed Chinese / English / number text.

Han runs go to rjieba (jieba-rs, which ships its dictionary); everything else
is split by a Unicode-aware regex so accented Latin words and contractions
survive intact. Text is NFKC-normalised first so full-width forms (ＡＢＣ, １２)
match their ASCII spelling.

Only words that can carry business meaning become keywords: numbers (prices,
dates, doses such as ``4mg``) and stop words never do. The stop words are the
maintained stopwordsiso lists for English and Chinese plus the project's
additions (``stopwords/en.txt``, ``zh.txt``), minus the negations and
evaluative words in ``stopwords/keep.txt`` (not, 不, 没有, good, 好, 差…),
which decide a review's sentiment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

import rjieba
import stopwordsiso

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Han runs | decimal numbers | words (letters/digits, inner apostrophes and hyphens).
# No capture groups: findall without groups is about 3x faster, and the kind
# of each piece is read off its first character instead.
_TOKEN_RE = re.compile(
    rf"[{_HAN}]+"
    rf"|\d+(?:[.,]\d+)+"
    rf"|[^\W{_HAN}]+(?:['’\-][^\W{_HAN}]+)*"
)


# Links say nothing a rule could use, and their pieces (t.co/6X1rq3qwk2) look like words.
_URL_RE = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)

_HAN = object()  # marker: a Han run still to be segmented
_PIECE_CACHE_LIMIT = 500_000


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


# A number, possibly with a unit of up to three letters: 3.5, 2,999, 10:30, 4mg, 5th, 2pm.
_NUMBER_RE = re.compile(r"\d+(?:[.,:/\-]\d+)*[^\W\d_]{0,3}")


def _is_number(piece: str) -> bool:
    return _NUMBER_RE.fullmatch(piece) is not None


def _read_list(name: str) -> frozenset[str]:
    text = resources.files("bizlogic.records").joinpath(f"stopwords/{name}.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def load_stopwords(lang: str) -> frozenset[str]:
    """Stop words for ``lang`` ("en" or "zh"): stopwordsiso + additions − keep list."""
    maintained = frozenset(w.lower() for w in stopwordsiso.stopwords(lang))
    return (maintained | _read_list(lang)) - _read_list("keep")


class Tokenizer:
    """Turns a text into its distinct keywords, in order of first appearance."""

    def __init__(
        self,
        min_length: int = 2,
        min_han_length: int = 1,
        extra_stopwords: Iterable[str] = (),
    ) -> None:
        if min_length < 1 or min_han_length < 1:
            raise ValueError("minimum token lengths must be at least 1")
        self.min_length = min_length
        self.min_han_length = min_han_length
        self._piece_cache: dict[str, object] = {}
        self.stopwords = (
            load_stopwords("en") | load_stopwords("zh") | {w.lower() for w in extra_stopwords}
        )

    def _classify(self, piece: str) -> object:
        """What a regex piece becomes: a keyword, "" (dropped) or _HAN (segment it)."""
        if _is_han(piece[0]):
            return _HAN
        if _is_number(piece) or "_" in piece:
            return ""
        word = piece.lower().replace("’", "'")
        return word if len(word) >= self.min_length and word not in self.stopwords else ""

    def tokenize(self, text: str) -> list[str]:
        # Surface forms repeat endlessly across a corpus, so each distinct piece
        # is classified once; the cache is bounded by clearing it when full.
        cache = self._piece_cache
        if len(cache) > _PIECE_CACHE_LIMIT:
            cache.clear()
        kinds: list[object] = []
        han: list[str] = []
        text = unicodedata.normalize("NFKC", text)
        if "://" in text or "ww." in text or "WW." in text:  # no lower() copy per text
            text = _URL_RE.sub(" ", text)
        for piece in _TOKEN_RE.findall(text):
            kind = cache.get(piece)
            if kind is None:
                kind = cache[piece] = self._classify(piece)
            if kind is _HAN:
                han.append(piece)
            kinds.append(kind)
        if not han:
            return list(dict.fromkeys(k for k in kinds if k))
        # One rjieba call per text: Han runs joined by spaces, which jieba never
        # merges across, then split back into per-run groups.
        groups = iter(self._segment_han(han))
        stop, min_han = self.stopwords, self.min_han_length
        seen: dict[str, None] = {}
        for kind in kinds:
            if kind is _HAN:
                for word in next(groups):
                    if len(word) >= min_han and word not in stop:
                        seen[word] = None
            elif kind:
                seen[kind] = None  # type: ignore[index]
        return list(seen)

    @staticmethod
    def _segment_han(runs: list[str]) -> list[list[str]]:
        if not runs:
            return []
        if len(runs) == 1:
            return [rjieba.cut(runs[0])]
        groups: list[list[str]] = [[]]
        for word in rjieba.cut(" ".join(runs)):
            if word == " ":
                groups.append([])
            else:
                groups[-1].append(word)
        return groups

    def is_keyword(self, token: str) -> bool:
        """Whether a token kept by an earlier version still passes today's rules.

        Projects store their tokens at import; reading them back through this
        drops the numbers and stop words older versions let through.
        """
        if not token:
            return False
        if _is_han(token[0]):
            return len(token) >= self.min_han_length and token not in self.stopwords
        return self._classify(token) == token

    def record_tokens(self, text: str, keywords: list[str] | None) -> list[str]:
        """A record's explicit ``keywords`` override tokenization."""
        if keywords is not None:
            return keywords
        return self.tokenize(text)
