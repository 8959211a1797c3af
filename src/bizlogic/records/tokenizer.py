"""Keyword extraction for mixed Chinese / English / number text.

Han runs go to rjieba (jieba-rs, which ships its dictionary); everything else
is split by a Unicode-aware regex so accented Latin words and contractions
survive intact. Text is NFKC-normalised first so full-width forms (ＡＢＣ, １２)
match their ASCII spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

import rjieba

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A letter/digit that is not Han; words may contain inner apostrophes and hyphens.
_WORDCHAR = rf"[^\W_{_HAN}]"
_TOKEN_RE = re.compile(
    rf"(?P<han>[{_HAN}]+)"
    rf"|(?P<num>\d+(?:[.,]\d+)*(?![^\W_{_HAN}]))"
    rf"|(?P<word>{_WORDCHAR}+(?:['’\-]{_WORDCHAR}+)*)"
)


@cache
def load_stopwords(lang: str) -> frozenset[str]:
    """The shipped stop-word list for ``lang`` ("en" or "zh")."""
    text = resources.files("bizlogic.records").joinpath(f"stopwords/{lang}.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


class Tokenizer:
    """Turns a text into its distinct keywords, in order of first appearance."""

    def __init__(
        self,
        min_length: int = 2,
        min_han_length: int = 1,
        keep_numbers: bool = True,
        extra_stopwords: Iterable[str] = (),
    ) -> None:
        if min_length < 1 or min_han_length < 1:
            raise ValueError("minimum token lengths must be at least 1")
        self.min_length = min_length
        self.min_han_length = min_han_length
        self.keep_numbers = keep_numbers
        self.stopwords = (
            load_stopwords("en") | load_stopwords("zh") | {w.lower() for w in extra_stopwords}
        )

    def tokenize(self, text: str) -> list[str]:
        stop = self.stopwords
        seen: dict[str, None] = {}
        normalised = unicodedata.normalize("NFKC", text)
        for match in _TOKEN_RE.finditer(normalised):
            kind = match.lastgroup
            piece = match.group()
            if kind == "han":
                for word in rjieba.cut(piece):
                    if len(word) >= self.min_han_length and word not in stop:
                        seen.setdefault(word, None)
            elif kind == "num":
                if self.keep_numbers and len(piece) >= self.min_length:
                    seen.setdefault(piece, None)
            else:
                word = piece.lower().replace("’", "'")
                if len(word) >= self.min_length and word not in stop:
                    seen.setdefault(word, None)
        return list(seen)

    def record_tokens(self, text: str, keywords: list[str] | None) -> list[str]:
        """A record's explicit ``keywords`` override tokenization."""
        if keywords is not None:
            return keywords
        return self.tokenize(text)
