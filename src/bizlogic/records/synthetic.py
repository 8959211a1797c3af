"""Seeded synthetic annotation data with planted, documented ground truth.

``bizlogic demo-data`` writes records in the canonical schema (DESIGN §5) plus a
``<stem>.truth.json`` file that lists every regularity planted in them: keyword →
sentiment rules, keywords that carry no signal, a sentiment change point, a
volume trend with weekly seasonality, keyword → label rules and misbehaving
annotators. The mining tests check that the algorithms find exactly these, so
every planted parameter is derived in one place (:class:`SyntheticData`) and the
truth reports both the model's expectation and what the written sample shows.

Generation is vectorised with numpy in fixed blocks of :data:`BLOCK_RECORDS`
records, each drawn from its own child of ``SeedSequence(seed)``; memory stays
bounded by one block and the output is byte-identical for the same arguments.
See ``docs/demo-data.md`` for the model and the truth file's schema.
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bizlogic.records.schema import format_timestamp

TRUTH_SCHEMA_VERSION = 1
BLOCK_RECORDS = 50_000  # part of the model: changing it changes the output for a seed
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAY = 86_400

SENTIMENTS = ("negative", "neutral", "positive")
NEG = 0
BASE_SHARES = (0.18, 0.22, 0.60)  # negative, neutral, positive before the change point
NEGATIVE_SHARE_AFTER = 0.41
CHANGE_POINT_FRACTION = 70 / 120  # day 70 of a 120-day period

LABELS = ("product", "logistics", "service", "price")
LABEL_SHARES = (0.35, 0.25, 0.25, 0.15)

# Planted keyword → sentiment rules: (keyword, sentiment, probability of appearing in a
# record whose true sentiment is that one). Every Chinese word is one rjieba token.
SENTIMENT_KEYWORDS: tuple[tuple[str, str, float], ...] = (
    ("refund", "negative", 0.08),
    ("broken", "negative", 0.06),
    ("退款", "negative", 0.07),
    ("差评", "negative", 0.05),
    ("average", "neutral", 0.10),
    ("acceptable", "neutral", 0.08),
    ("一般", "neutral", 0.10),
    ("中评", "neutral", 0.08),
    ("excellent", "positive", 0.06),
    ("recommend", "positive", 0.05),
    ("满意", "positive", 0.08),
    ("好评", "positive", 0.05),
)
# P(true sentiment | keyword) in each period; the leak rate into other sentiments is
# solved per period from the base rates so the change point does not dilute it.
SENTIMENT_RULE_CONFIDENCE = 0.97

LABEL_KEYWORDS: tuple[tuple[str, str, float], ...] = (
    ("stitching", "product", 0.08),
    ("材质", "product", 0.08),
    ("courier", "logistics", 0.08),
    ("快递", "logistics", 0.08),
    ("staff", "service", 0.08),
    ("客服", "service", 0.08),
    ("discount", "price", 0.08),
    ("优惠", "price", 0.08),
)
LABEL_RULE_CONFIDENCE = 0.90

# Keywords that appear at one fixed rate whatever the sentiment, label, time or annotator.
NULL_KEYWORDS = (
    "weekend",
    "friend",
    "family",
    "online",
    "morning",
    "evening",
    "husband",
    "daughter",
    "今天",
    "朋友",
    "家里",
    "同事",
    "周末",
    "晚上",
    "孩子",
)
NULL_KEYWORD_RATE = 0.05


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated word lists keep the long vocabularies readable."""
    return tuple(text.split())


# Background vocabulary: sentiment-free review words, Zipf-distributed within each language.
BACKGROUND_EN = _words(
    """delivery box arrived package parcel seller shipping tracking tape wrap carton shelf
    colour size screen cable charger adapter plug socket switch remote speaker headphones earbuds
    keyboard mouse monitor laptop tablet camera lens tripod cover sleeve shoes boots sneakers socks
    shirt jacket hoodie dress skirt trousers jeans belt scarf gloves hat fabric cotton wool leather
    plastic metal glass wood steel rubber paper weight height diameter gasket inch design
    pattern logo
    print stripe button handle lid bottle cup nozzle kettle pan knife spoon fork plate bowl blender
    toaster oven fridge freezer microwave vacuum mop broom bucket towel blanket pillow mattress
    curtain rug lamp bulb candle mirror clock frame drawer cabinet wardrobe sofa chair desk table
    bench stool ladder hammer drill screw nail bolt wrench tool garden hose plant seeds soil bag
    backpack suitcase wallet purse strap pocket zipper collar pair kit bundle manual instructions
    receipt invoice shop app webshop account payment card address building apartment neighbour
    kitchen bathroom bedroom garage balcony car bike helmet tyre engine battery toy puzzle game
    console controller notebook pen pencil marker printer ink cartridge watch bracelet necklace
    earrings perfume shampoo soap lotion cream brush razor toothbrush vitamins tea coffee snack
    chocolate rice noodles sauce spice juice milk bread cheese unboxed unpacked purchased dial
    handled
    washed installed assembled charged tested checked measured wore carried cooked cleaned plugged
    stored shipped packed folded blue red black white grey green yellow pink brown silver compact
    sturdy medium heavy hinge buckle soft hard spout short curved square wide narrow tall plain dark
    model version colourway edition"""
)
BACKGROUND_ZH = _words(
    """包装 物流 颜色 尺寸 手感 屏幕 电池 充电器 耳机 键盘 鼠标 衣服 裤子 鞋子 袜子 外套 裙子 帽子
    围巾 手套 面料 皮革 塑料 金属 玻璃 木头 重量 高度 宽度 长度 设计 图案 按钮 把手 盖子 瓶子 杯子
    水壶 勺子 盘子 冰箱 微波炉 吸尘器 毛巾 被子 枕头 床垫 窗帘 地毯 台灯 灯泡 镜子 抽屉 柜子 沙发
    椅子 桌子 工具 花园 种子 背包 行李箱 钱包 口袋 拉链 说明书 发票 收据 商店 网站 账号 付款 地址
    门口 小区 楼下 厨房 卫生间 卧室 阳台 办公室 汽车 自行车 头盔 玩具 游戏 笔记本 打印机 墨盒 手表
    项链 戒指 香水 洗发水 肥皂 面霜 牙刷 茶叶 咖啡 零食 巧克力 大米 面条 酱油 果汁 牛奶 面包 蓝色
    红色 黑色 白色 灰色 绿色 黄色 粉色 尺码 型号 款式 标签 盒子 纸箱 胶带 签收 拆开 安装 组装 使用
    测试 清洗 收到"""
)
# Text shape, calibrated against two real review corpora (docs/demo-data.md has the
# measured figures side by side): content words per text are log-normal, vocabulary
# Zipf-like with a long tail, stop words and numbers as common as in real reviews.
ZIPF_EXPONENT = 0.8
CONTENT_WORDS_MEDIAN = 13.0  # background words per text (before planted keywords)
CONTENT_WORDS_SIGMA = 0.75  # of log(content words)
CONTENT_WORDS_MAX = 120
STOP_WORD_SHARE = {"zh": 0.40, "en": 0.62}  # share of a text's words that are stop words
NUMBER_RATE = {"zh": 0.36, "en": 0.70}  # share of texts with a number (price, date, dose)
LATIN_IN_CHINESE = 0.015  # per word of a Chinese text: an English word instead
# Share of tasks whose text repeats an earlier task's (a repost: same review, same truth),
# and of tasks that repeat one with a word added (a near duplicate).
REPOST_RATE = 0.35
NEAR_DUPLICATE_RATE = 0.01
REPOST_WINDOW = 500  # a repost copies one of the previous tasks of its block and period
TAIL_WORDS = {"en": 6_000, "zh": 8_000}  # generated rare words after the named vocabulary
STOP_WORDS = {
    "zh": _words(
        "的 了 是 我 也 很 都 就 在 有 这 还 和 又 被 把 吧 啊 呢 吗 给 让 去 来 上 下 里"
    ),
    "en": _words(
        "the and i it to a was of my is for this in that but with have on be so as at they "
        "had all me were after when just an or am been it's i've there from he she"
    ),
}

# Annotators and their behaviour.
N_ANNOTATORS = 20
ANNOTATOR_WEIGHT_DECAY = 0.92  # weights ∝ decay**rank, ranks shuffled by the seed
ANNOTATOR_ACCURACY = 0.92  # honest annotators; errors split evenly over the other classes
BIASED_ANNOTATOR = "ann07"
BIAS_RATE = 0.40  # share of the biased annotator's non-negative answers turned negative
FAST_ANNOTATOR = "ann13"
FAST_FACTOR = 6.0
MISBEHAVING_RANKS = (8, 9)  # weight ranks of the biased and the fast annotator (~5 % each)
LEAD_TIME_MEDIAN = 45.0  # seconds
LEAD_TIME_SIGMA = 0.6  # of log(lead time)
ANNOTATIONS_PER_TASK = (0.75, 0.15, 0.10)  # P(1, 2, 3 annotators)
REANNOTATION_DELAY_MEAN = 1_200.0  # seconds between consecutive annotations of one task

RATING_PRESENT = 0.70
RATING_NOISE = 0.10
RATING_BANDS = ((1, 2), (3,), (4, 5))  # per sentiment code

# Volume profile.
TREND_END_FACTOR = 1.5  # daily volume grows linearly from 1.0 to this
WEEKDAY_FACTORS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6)  # index = datetime.weekday()


# --------------------------------------------------------------------------- truth types


@dataclass(frozen=True)
class PlantedRule:
    keyword: str
    sentiment: str
    language: str
    p_in: float
    expected_confidence: float  # vs annotated sentiment, what a miner sees
    true_confidence: float  # vs the true sentiment, by construction
    observed_confidence: float
    observed_support: int


@dataclass(frozen=True)
class PlantedLabelRule:
    keyword: str
    label: str
    language: str
    p_in: float
    expected_confidence: float
    observed_confidence: float
    observed_support: int


@dataclass(frozen=True)
class NullKeyword:
    keyword: str
    language: str
    rate: float
    observed_support: int


@dataclass(frozen=True)
class ChangePoint:
    date: str
    day: int
    sentiment: str
    kind: str
    share_before: float  # expected annotated share
    share_after: float
    true_share_before: float
    true_share_after: float
    observed_share_before: float
    observed_share_after: float


@dataclass(frozen=True)
class Trend:
    metric: str
    direction: str
    start_factor: float
    end_factor: float
    relative_change: float


@dataclass(frozen=True)
class Seasonality:
    metric: str
    period: str
    weekday_factors: list[float]  # index = datetime.weekday(), 0 = Monday, UTC days
    weekend_ratio: float


@dataclass(frozen=True)
class Annotator:
    annotator: str
    weight: float
    accuracy: float
    lead_time_median: float
    observed_records: int


@dataclass(frozen=True)
class BiasedAnnotator:
    annotator: str
    bias_to: str
    rate: float


@dataclass(frozen=True)
class FastAnnotator:
    annotator: str
    lead_time_factor: float
    lead_time_median: float


@dataclass(frozen=True)
class GroundTruth:
    """Everything planted in one generated file; serialised as ``<stem>.truth.json``."""

    schema_version: int
    seed: int
    project_id: str
    records_file: str
    n_records: int
    n_tasks: int
    period_start: str
    period_end: str
    days: int
    lang_mix: float
    sentiment_shares_before: dict[str, float]
    sentiment_shares_after: dict[str, float]
    label_shares: dict[str, float]
    change_point: ChangePoint
    planted_rules: list[PlantedRule]
    null_keywords: list[NullKeyword]
    planted_label_rules: list[PlantedLabelRule]
    trend: Trend
    seasonality: Seasonality
    annotators: list[Annotator]
    biased_annotators: list[BiasedAnnotator]
    fast_annotators: list[FastAnnotator]
    multi_annotation: dict[str, Any]
    lead_time: dict[str, Any]
    ratings: dict[str, Any]
    background: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroundTruth:
        nested: dict[str, Any] = dict(data)
        nested["change_point"] = ChangePoint(**data["change_point"])
        nested["planted_rules"] = [PlantedRule(**r) for r in data["planted_rules"]]
        nested["null_keywords"] = [NullKeyword(**r) for r in data["null_keywords"]]
        nested["planted_label_rules"] = [PlantedLabelRule(**r) for r in data["planted_label_rules"]]
        nested["trend"] = Trend(**data["trend"])
        nested["seasonality"] = Seasonality(**data["seasonality"])
        nested["annotators"] = [Annotator(**a) for a in data["annotators"]]
        nested["biased_annotators"] = [BiasedAnnotator(**a) for a in data["biased_annotators"]]
        nested["fast_annotators"] = [FastAnnotator(**a) for a in data["fast_annotators"]]
        return cls(**nested)


def truth_path(path: Path) -> Path:
    """``demo.jsonl`` → ``demo.truth.json`` in the same directory."""
    return path.with_name(f"{path.stem}.truth.json")


def load_truth(path: Path) -> GroundTruth:
    """Read a truth file (or the truth beside a records file)."""
    if not path.name.endswith(".truth.json"):
        path = truth_path(path)
    return GroundTruth.from_dict(orjson.loads(path.read_bytes()))


# --------------------------------------------------------------------------- the model


def _is_int(value: object) -> bool:
    """Python and numpy integers, but not bools (which are ints to Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _language(word: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in word) else "en"


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** ZIPF_EXPONENT
    return weights / weights.sum()


def _tail_words(lang: str, n: int, avoid: set[str]) -> tuple[str, ...]:
    """Rare made-up words: the long tail of a real vocabulary, fixed (seeded) for every run."""
    rng = np.random.default_rng(20261206 if lang == "en" else 20261207)
    if lang == "en":
        onsets = [*"bcdfghjklmnprstvwz", "br", "cl", "dr", "fl", "gr", "pl", "st", "tr"]
        vowels = ["a", "e", "i", "o", "u", "ai", "ea", "oo"]
        codas = ["", "n", "r", "l", "m", "x", "st", "nd", "ck", "sh"]
        shapes = [(onsets, vowels, codas, onsets, vowels, codas)]
    else:
        # Characters of no planted or null keyword, so a made-up word never contains one.
        pool = "宇宙星河山川湖海松柏竹梅兰菊桃李杏枣瓜豆米麦茶酒琴棋书画诗词歌舞鹿鹤燕雀鱼虾龟蛇"
        planted = "".join(avoid)
        chars = [c for c in pool if c not in planted]
        shapes = [(chars, chars), (chars, chars, chars)]
    words: dict[str, None] = {}
    while len(words) < n:
        parts = shapes[int(rng.integers(len(shapes)))]
        word = "".join(str(part[rng.integers(len(part))]) for part in parts)
        if word not in avoid and (lang == "zh" or len(word) >= 4):
            words[word] = None
    return tuple(words)


_NAMED = (
    [*BACKGROUND_EN, *BACKGROUND_ZH]
    + [k for k, _, _ in SENTIMENT_KEYWORDS]
    + list(NULL_KEYWORDS)
    + [k for k, _, _ in LABEL_KEYWORDS]
)
_AVOID = set(_NAMED) | set(STOP_WORDS["en"]) | set(STOP_WORDS["zh"])
TAIL_EN = _tail_words("en", TAIL_WORDS["en"], _AVOID)
TAIL_ZH = _tail_words("zh", TAIL_WORDS["zh"], _AVOID | set(TAIL_EN))
# One vocabulary array: background (en named + tail, zh named + tail), then the planted
# keyword columns, then the stop words (en, zh).
_BACKGROUND_EN_ALL = (*BACKGROUND_EN, *TAIL_EN)
_BACKGROUND_ZH_ALL = (*BACKGROUND_ZH, *TAIL_ZH)
_VOCAB = np.array(
    [*_BACKGROUND_EN_ALL, *_BACKGROUND_ZH_ALL]
    + [k for k, _, _ in SENTIMENT_KEYWORDS]
    + list(NULL_KEYWORDS)
    + [k for k, _, _ in LABEL_KEYWORDS]
    + [*STOP_WORDS["en"], *STOP_WORDS["zh"]],
    dtype=object,
)
_ZH_OFFSET = len(_BACKGROUND_EN_ALL)
_KW_OFFSET = len(_BACKGROUND_EN_ALL) + len(_BACKGROUND_ZH_ALL)
_N_SENT_KW = len(SENTIMENT_KEYWORDS)
_N_NULL_KW = len(NULL_KEYWORDS)
_N_KW = _N_SENT_KW + _N_NULL_KW + len(LABEL_KEYWORDS)
_STOP_OFFSET = _KW_OFFSET + _N_KW
_KW_IS_ZH = np.array([_language(w) == "zh" for w in _VOCAB[_KW_OFFSET:_STOP_OFFSET]])
_N_STOP_EN = len(STOP_WORDS["en"])
_CDF_EN = np.cumsum(_zipf(len(_BACKGROUND_EN_ALL)))
_CDF_ZH = np.cumsum(_zipf(len(_BACKGROUND_ZH_ALL)))
_CDF_STOP = {lang: np.cumsum(_zipf(len(words))) for lang, words in STOP_WORDS.items()}
_KW_SENT = np.array([SENTIMENTS.index(s) for _, s, _ in SENTIMENT_KEYWORDS])
_KW_SENT_PIN = np.array([p for _, _, p in SENTIMENT_KEYWORDS])
_KW_LABEL = np.array([LABELS.index(lab) for _, lab, _ in LABEL_KEYWORDS])
_KW_LABEL_PIN = np.array([p for _, _, p in LABEL_KEYWORDS])
# Out-of-band rating values per sentiment code, padded with -1, for rating noise.
_RATING_OUT = np.full((3, 4), -1, dtype=np.int64)
_RATING_OUT_N = np.zeros(3, dtype=np.int64)
for _code, _band in enumerate(RATING_BANDS):
    _out = [v for v in range(1, 6) if v not in _band]
    _RATING_OUT[_code, : len(_out)] = _out
    _RATING_OUT_N[_code] = len(_out)


def _number(rng: np.random.Generator, chinese: bool) -> str:
    """A price, date, time, dose or rating as reviews write them; never a keyword."""
    kind = int(rng.integers(5))
    a, b = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    if kind == 0:
        return f"{int(rng.integers(5, 3000))}元" if chinese else f"${int(rng.integers(5, 300))}"
    if kind == 1:
        return f"{a}月{b}日" if chinese else f"2026-{a:02d}-{b:02d}"
    if kind == 2:
        return f"{a}:{b + 10:02d}"
    if kind == 3:
        return f"{int(rng.integers(1, 100)) * 5}mg"
    return f"{a % 5 + 1}.{b % 10}"


def _leak(share: np.ndarray, p_in: np.ndarray, confidence: float) -> np.ndarray:
    """Appearance rate outside the keyword's class that makes P(class | keyword) = confidence."""
    return share * p_in * (1.0 - confidence) / (confidence * (1.0 - share))


def _shares_after() -> np.ndarray:
    before = np.array(BASE_SHARES)
    rest = before[1:] * (1.0 - NEGATIVE_SHARE_AFTER) / before[1:].sum()
    return np.concatenate([[NEGATIVE_SHARE_AFTER], rest])


@dataclass(frozen=True)
class _Block:
    """One block of generated records, columnar; tasks never straddle blocks."""

    first_record: int  # global 0-based index of the block's first record
    first_task: int  # global 0-based index of the block's first task
    texts: list[str]  # per task
    label: np.ndarray  # per task
    rating: np.ndarray  # per task, nan = missing
    present: np.ndarray  # per task × planted keyword column, bool
    rec_task: np.ndarray  # per record: task index within the block
    sentiment: np.ndarray  # per record: annotated sentiment code
    annotator: np.ndarray  # per record: annotator index
    lead_time: np.ndarray  # per record, seconds
    created_at: np.ndarray  # per record, epoch seconds

    @property
    def n_records(self) -> int:
        return int(self.rec_task.shape[0])

    @property
    def n_tasks(self) -> int:
        return len(self.texts)


@dataclass
class _Observed:
    """Counts accumulated while writing, for the truth's ``observed_*`` values."""

    n_tasks: int = 0
    period_sentiment: np.ndarray = field(default_factory=lambda: np.zeros((2, 3), np.int64))
    kw_sentiment: np.ndarray = field(default_factory=lambda: np.zeros((_N_KW, 3), np.int64))
    kw_label: np.ndarray = field(default_factory=lambda: np.zeros((_N_KW, 4), np.int64))
    annotator: np.ndarray = field(default_factory=lambda: np.zeros(N_ANNOTATORS, np.int64))

    def add(self, block: _Block, change_epoch: int) -> None:
        self.n_tasks += block.n_tasks
        after = (block.created_at >= change_epoch).astype(np.int64)
        self.period_sentiment += np.bincount(after * 3 + block.sentiment, minlength=6).reshape(2, 3)
        # Per-task answer counts, then keyword × class via a float matmul (exact, BLAS-fast).
        n = block.n_tasks
        answers = np.bincount(block.rec_task * 3 + block.sentiment, minlength=n * 3)
        present = block.present.T.astype(np.float64)
        self.kw_sentiment += np.rint(present @ answers.reshape(n, 3)).astype(np.int64)
        per_task = np.bincount(block.rec_task, minlength=n).astype(np.float64)
        labels = np.zeros((n, len(LABELS)))
        labels[np.arange(n), block.label] = per_task
        self.kw_label += np.rint(present @ labels).astype(np.int64)
        self.annotator += np.bincount(block.annotator, minlength=N_ANNOTATORS)


class SyntheticData:
    """The generative model for one (size, seed, period) choice; iterate or write it."""

    def __init__(
        self,
        n_records: int,
        seed: int = 7,
        start: datetime = DEFAULT_START,
        days: int = 120,
        lang_mix: float = 0.3,
        project_id: str = "demo",
    ) -> None:
        if not _is_int(n_records) or n_records < 1:
            raise ValueError(f"n_records must be a positive integer, got {n_records!r}")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not _is_int(days) or days < 2:
            raise ValueError(f"days must be an integer ≥ 2, got {days!r}")
        if not 0.0 <= lang_mix <= 1.0:
            raise ValueError(f"lang_mix must be within [0, 1], got {lang_mix!r}")
        if not project_id:
            raise ValueError("project_id must not be empty")
        self.n_records = int(n_records)
        self.seed = int(seed)
        self.start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
        self.start_epoch = math.floor(self.start.timestamp())
        self.days = days = int(days)
        self.lang_mix = float(lang_mix)
        self.project_id = project_id
        self.end_epoch = self.start_epoch + days * DAY
        self.change_day = min(max(round(days * CHANGE_POINT_FRACTION), 1), days - 1)
        self.change_epoch = self.start_epoch + self.change_day * DAY

        plan_rng = self._rng(0)
        self.annotator_names = tuple(f"ann{i + 1:02d}" for i in range(N_ANNOTATORS))
        self.biased = self.annotator_names.index(BIASED_ANNOTATOR)
        self.fast = self.annotator_names.index(FAST_ANNOTATOR)
        # Annotator weights: a geometric profile over ranks shuffled by the seed. The two
        # misbehaving annotators keep fixed middle ranks so how much they distort the
        # data (and the planted rules' confidence) does not swing with the seed.
        ranks = np.empty(N_ANNOTATORS, dtype=np.int64)
        ranks[[self.biased, self.fast]] = MISBEHAVING_RANKS
        others = [i for i in range(N_ANNOTATORS) if i not in (self.biased, self.fast)]
        free = [r for r in range(N_ANNOTATORS) if r not in MISBEHAVING_RANKS]
        ranks[others] = plan_rng.permutation(free)
        weights = ANNOTATOR_WEIGHT_DECAY ** ranks.astype(np.float64)
        self.annotator_weights = weights / weights.sum()
        # Daily volume: linear trend × weekday factor, records split multinomially.
        self.day_weights = self._day_weights()
        self.day_counts = plan_rng.multinomial(n_records, self.day_weights / self.day_weights.sum())
        self.day_first = np.concatenate([[0], np.cumsum(self.day_counts)[:-1]])

        self.shares = np.vstack([BASE_SHARES, _shares_after()])  # [period, sentiment]
        self.share_cdf = np.cumsum(self.shares, axis=1)
        # Keyword appearance probability by [period, true class, keyword column].
        self.kw_prob = np.zeros((2, 3, _N_KW))
        for period in (0, 1):
            share = self.shares[period, _KW_SENT]
            leak = _leak(share, _KW_SENT_PIN, SENTIMENT_RULE_CONFIDENCE)
            for code in range(3):
                own = code == _KW_SENT
                self.kw_prob[period, code, :_N_SENT_KW] = np.where(own, _KW_SENT_PIN, leak)
        self.kw_prob[:, :, _N_SENT_KW : _N_SENT_KW + _N_NULL_KW] = NULL_KEYWORD_RATE
        label_shares = np.array(LABEL_SHARES)
        label_leak = _leak(label_shares[_KW_LABEL], _KW_LABEL_PIN, LABEL_RULE_CONFIDENCE)
        # Label keyword probability by [label, label keyword].
        self.label_kw_prob = np.where(
            _KW_LABEL[None, :] == np.arange(len(LABELS))[:, None], _KW_LABEL_PIN, label_leak
        )
        self.label_cdf = np.cumsum(LABEL_SHARES)
        self.n_blocks = -(-n_records // BLOCK_RECORDS)

    def _rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(stream,)))

    def _day_weights(self) -> np.ndarray:
        days = np.arange(self.days, dtype=np.float64)
        trend = 1.0 + (TREND_END_FACTOR - 1.0) * days / max(self.days - 1, 1)
        weekday = (self.start.astimezone(UTC).weekday() + np.arange(self.days)) % 7
        return trend * np.asarray(WEEKDAY_FACTORS)[weekday]

    # ------------------------------------------------------------------ block generation

    def _block(self, index: int, first_task: int) -> _Block:
        rng = self._rng(index + 1)
        lo = index * BLOCK_RECORDS
        m = min(BLOCK_RECORDS, self.n_records - lo)

        # Tasks: 1–3 annotations each, the last one cut so the block holds exactly m records.
        sizes = rng.choice(3, size=m, p=ANNOTATIONS_PER_TASK) + 1
        cum = np.cumsum(sizes)
        n_tasks = int(np.searchsorted(cum, m)) + 1
        sizes = sizes[:n_tasks]
        sizes[-1] -= int(cum[n_tasks - 1]) - m
        task_first = np.concatenate([[0], np.cumsum(sizes)[:-1]])

        # Task start times follow the daily volume (stratified within each day).
        glob = lo + task_first
        day = np.searchsorted(self.day_first, glob, side="right") - 1
        within = (glob - self.day_first[day] + rng.random(n_tasks)) / self.day_counts[day]
        t0 = self.start_epoch + day * DAY + np.floor(within * DAY).astype(np.int64)
        period = (t0 >= self.change_epoch).astype(np.int64)

        true = (rng.random(n_tasks)[:, None] > self.share_cdf[period, :2]).sum(axis=1)
        label = np.searchsorted(self.label_cdf, rng.random(n_tasks), side="right")
        label = np.minimum(label, len(LABELS) - 1)

        chinese = rng.random(n_tasks) < self.lang_mix
        prob = self.kw_prob[period, true]
        prob[:, _N_SENT_KW + _N_NULL_KW :] = self.label_kw_prob[label]
        # A keyword appears only in texts of its own language, as often overall as before:
        # scaling both its in-class and leak rates keeps P(class | keyword) unchanged.
        own_language = _KW_IS_ZH[None, :] == chinese[:, None]
        language_share = np.where(_KW_IS_ZH, self.lang_mix, 1.0 - self.lang_mix)
        prob = np.where(own_language, np.minimum(prob / np.maximum(language_share, 1e-9), 1.0), 0.0)
        present = rng.random((n_tasks, _N_KW)) < prob

        # Reposts and near duplicates carry their source's review: truth, label, keywords.
        source = self._repost_sources(rng, period)
        copied = source >= 0
        for column in (true, label, present, chinese):
            column[copied] = column[source[copied]]
        texts = self._texts(rng, present, chinese)
        near = copied & (rng.random(n_tasks) < NEAR_DUPLICATE_RATE / (REPOST_RATE + 1e-12))
        extra = self._background(rng, chinese[near])
        for t, original in zip(
            np.flatnonzero(copied).tolist(), source[copied].tolist(), strict=True
        ):
            texts[t] = texts[original]
        for t, word in zip(np.flatnonzero(near).tolist(), _VOCAB[extra].tolist(), strict=True):
            texts[t] = texts[t] + " " + word

        rating = self._ratings(rng, true)

        # Records: annotators drawn without replacement per task (Gumbel top-3).
        rec_task = np.repeat(np.arange(n_tasks), sizes)
        rank = np.arange(m) - task_first[rec_task]
        keys = np.log(self.annotator_weights) + rng.gumbel(size=(n_tasks, N_ANNOTATORS))
        top = np.argsort(-keys, axis=1)[:, :3]
        annotator = top[rec_task, rank]

        truth_rec = true[rec_task]
        correct = rng.random(m) < ANNOTATOR_ACCURACY
        wrong = (truth_rec + 1 + rng.integers(0, 2, size=m)) % 3
        sentiment = np.where(correct, truth_rec, wrong)
        flip = (annotator == self.biased) & (sentiment != NEG) & (rng.random(m) < BIAS_RATE)
        sentiment[flip] = NEG

        lead = LEAD_TIME_MEDIAN * np.exp(LEAD_TIME_SIGMA * rng.standard_normal(m))
        lead[annotator == self.fast] /= FAST_FACTOR
        lead = np.round(lead, 1)

        delay = rng.exponential(REANNOTATION_DELAY_MEAN, size=m)
        delay[rank == 0] = 0.0
        cum_delay = np.cumsum(delay)
        offset = cum_delay - cum_delay[task_first][rec_task]
        created = np.minimum(t0[rec_task] + offset.astype(np.int64), self.end_epoch - 1)

        return _Block(
            first_record=lo,
            first_task=first_task,
            texts=texts,
            label=label,
            rating=rating,
            present=present,
            rec_task=rec_task,
            sentiment=sentiment,
            annotator=annotator,
            lead_time=lead,
            created_at=created,
        )

    @staticmethod
    def _repost_sources(rng: np.random.Generator, period: np.ndarray) -> np.ndarray:
        """Per task: the earlier task (same block, same period) whose review it repeats, or −1.

        Chains are resolved to the first text, so a repost of a repost is a repost of it.
        """
        n = period.shape[0]
        back = rng.integers(1, REPOST_WINDOW + 1, size=n)
        source = np.arange(n) - back
        reposted = (rng.random(n) < REPOST_RATE + NEAR_DUPLICATE_RATE) & (source >= 0)
        reposted[reposted] &= period[source[reposted]] == period[reposted]
        source = np.where(reposted, source, -1)
        while True:
            inner = (source >= 0) & (source[np.maximum(source, 0)] >= 0)
            if not inner.any():
                return source
            source[inner] = source[source[inner]]

    @staticmethod
    def _background(rng: np.random.Generator, chinese: np.ndarray) -> np.ndarray:
        """One background word (vocabulary index) per slot, Zipf within its language."""
        draw = rng.random(chinese.shape[0])
        return np.where(
            chinese,
            _ZH_OFFSET + np.searchsorted(_CDF_ZH, draw * _CDF_ZH[-1], side="right"),
            np.searchsorted(_CDF_EN, draw * _CDF_EN[-1], side="right"),
        )

    def _texts(
        self, rng: np.random.Generator, present: np.ndarray, chinese: np.ndarray
    ) -> list[str]:
        """Background words, stop words and planted keywords, shuffled; sometimes a number."""
        n_tasks = present.shape[0]
        content = np.exp(
            np.log(CONTENT_WORDS_MEDIAN) + CONTENT_WORDS_SIGMA * rng.standard_normal(n_tasks)
        )
        n_content = np.clip(np.rint(content), 1, CONTENT_WORDS_MAX).astype(np.int64)
        owner = np.repeat(np.arange(n_tasks), n_content)
        # A Chinese text borrows an English word now and then; English texts stay English.
        in_chinese = chinese[owner] & (rng.random(owner.shape[0]) >= LATIN_IN_CHINESE)
        words = self._background(rng, in_chinese)
        # Stop words: share s of all words means s / (1 − s) per content word.
        share = np.where(chinese, STOP_WORD_SHARE["zh"], STOP_WORD_SHARE["en"])
        n_stop = rng.poisson(n_content * share / (1.0 - share))
        stop_owner = np.repeat(np.arange(n_tasks), n_stop)
        stop_zh = chinese[stop_owner]
        draw = rng.random(stop_owner.shape[0])
        stop = np.where(
            stop_zh,
            _STOP_OFFSET
            + _N_STOP_EN
            + np.searchsorted(_CDF_STOP["zh"], draw * _CDF_STOP["zh"][-1], side="right"),
            _STOP_OFFSET
            + np.searchsorted(_CDF_STOP["en"], draw * _CDF_STOP["en"][-1], side="right"),
        )
        kw_task, kw_col = np.nonzero(present)
        owner = np.concatenate([owner, stop_owner, kw_task])
        words = np.concatenate([words, stop, _KW_OFFSET + kw_col])
        order = np.lexsort((rng.random(owner.shape[0]), owner))
        tokens = _VOCAB[words[order]].tolist()
        bounds = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_tasks))]).tolist()
        texts = [" ".join(tokens[a:b]) for a, b in itertools.pairwise(bounds)]
        number_rate = np.where(chinese, NUMBER_RATE["zh"], NUMBER_RATE["en"])
        for t in np.flatnonzero(rng.random(n_tasks) < number_rate).tolist():
            texts[t] += " " + _number(rng, bool(chinese[t]))
        return texts

    @staticmethod
    def _ratings(rng: np.random.Generator, true: np.ndarray) -> np.ndarray:
        """Star ratings consistent with the true sentiment except for RATING_NOISE."""
        n = true.shape[0]
        band_low = np.array([b[0] for b in RATING_BANDS])[true]
        band_size = np.array([len(b) for b in RATING_BANDS])[true]
        in_band = band_low + np.floor(rng.random(n) * band_size).astype(np.int64)
        pick = np.floor(rng.random(n) * _RATING_OUT_N[true]).astype(np.int64)
        noisy = _RATING_OUT[true, pick]
        noise = rng.random(n) < RATING_NOISE
        present = rng.random(n) < RATING_PRESENT
        rating = np.where(noise, noisy, in_band).astype(np.float64)
        rating[~present] = np.nan
        return rating

    def _blocks(self) -> Iterator[_Block]:
        first_task = 0
        for index in range(self.n_blocks):
            block = self._block(index, first_task)
            first_task += block.n_tasks
            yield block

    # ------------------------------------------------------------------ output

    def _dicts(self, block: _Block) -> list[dict[str, Any]]:
        pid = self.project_id
        first = block.first_record + 1
        ids = [f"{pid}-{i:09d}" for i in range(first, first + block.n_records)]
        task_ids = [f"{pid}-task-{block.first_task + t + 1:09d}" for t in range(block.n_tasks)]
        rec_task = block.rec_task.tolist()
        texts = block.texts
        sentiments = [SENTIMENTS[s] for s in block.sentiment.tolist()]
        labels = [LABELS[c] for c in block.label.tolist()]
        ratings = [None if math.isnan(r) else r for r in block.rating.tolist()]
        names = self.annotator_names
        annotators = [names[a] for a in block.annotator.tolist()]
        created = np.datetime_as_string(block.created_at.astype("datetime64[s]"), timezone="UTC")
        return [
            {
                "id": rid,
                "project_id": pid,
                "text": texts[t],
                "sentiment": sentiment,
                "rating": ratings[t],
                "label": labels[t],
                "annotator": annotator,
                "task_id": task_ids[t],
                "lead_time": lead,
                "status": "completed",
                "created_at": ts,
            }
            for rid, t, sentiment, annotator, lead, ts in zip(
                ids,
                rec_task,
                sentiments,
                annotators,
                block.lead_time.tolist(),
                created.tolist(),
                strict=True,
            )
        ]

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        """Record dicts in blocks of at most BLOCK_RECORDS, in id order."""
        for block in self._blocks():
            yield self._dicts(block)

    def records(self) -> Iterator[dict[str, Any]]:
        for chunk in self.chunks():
            yield from chunk

    def write(self, path: Path, progress: Callable[[int], None] | None = None) -> GroundTruth:
        """Write JSONL records to ``path`` and the truth beside it; returns the truth.

        Both files are written to temporary names and renamed at the end, so a
        crash never leaves a half-written file under the final name.
        """
        path = Path(path)
        truth_file = truth_path(path)
        tmp = path.with_name(path.name + ".tmp")
        observed = _Observed()
        dumps = orjson.dumps
        newline = orjson.OPT_APPEND_NEWLINE
        written = 0
        try:
            with tmp.open("wb") as out:
                for block in self._blocks():
                    observed.add(block, self.change_epoch)
                    out.writelines(dumps(r, option=newline) for r in self._dicts(block))
                    written += block.n_records
                    if progress is not None:
                        progress(written)
            truth = self.truth(observed, path.name)
            truth_tmp = truth_file.with_name(truth_file.name + ".tmp")
            truth_tmp.write_bytes(
                orjson.dumps(truth.to_dict(), option=orjson.OPT_INDENT_2 | newline)
            )
            os.replace(tmp, path)
            os.replace(truth_tmp, truth_file)
        finally:
            for leftover in (tmp, truth_file.with_name(truth_file.name + ".tmp")):
                leftover.unlink(missing_ok=True)
        return truth

    # ------------------------------------------------------------------ ground truth

    def annotation_matrix(self) -> np.ndarray:
        """Q[a, r] = P(annotated sentiment a | true sentiment r), averaged over annotators.

        Uses the annotator weights as record shares; drawing distinct annotators for
        multi-annotated tasks flattens the shares slightly, a sub-percent effect.
        """
        honest = np.full((3, 3), (1.0 - ANNOTATOR_ACCURACY) / 2)
        np.fill_diagonal(honest, ANNOTATOR_ACCURACY)
        biased = honest * (1.0 - BIAS_RATE)
        biased[NEG] = honest[NEG] + BIAS_RATE * (1.0 - honest[NEG])
        w = float(self.annotator_weights[self.biased])
        return (1.0 - w) * honest + w * biased

    def period_volume(self) -> np.ndarray:
        """Expected share of records before / after the change point."""
        before = self.day_weights[: self.change_day].sum()
        return np.array([before, self.day_weights.sum() - before]) / self.day_weights.sum()

    def _expected_rule_confidence(self, column: int) -> float:
        s = int(_KW_SENT[column])
        q = self.annotation_matrix()
        volume = self.period_volume()
        total = weighted = 0.0
        for period in (0, 1):
            share = self.shares[period]
            posterior = (1.0 - SENTIMENT_RULE_CONFIDENCE) * share / (1.0 - share[s])
            posterior[s] = SENTIMENT_RULE_CONFIDENCE
            support = volume[period] * share[s] * _KW_SENT_PIN[column]
            weighted += support * float(posterior @ q[s])
            total += support
        return weighted / total

    def truth(self, observed: _Observed, records_file: str) -> GroundTruth:
        q = self.annotation_matrix()
        annotated = self.shares @ q.T  # [period, annotated sentiment]
        period_n = observed.period_sentiment.sum(axis=1)
        obs_share = observed.period_sentiment[:, NEG] / np.maximum(period_n, 1)

        def ratio(num: int, den: int) -> float:
            return round(num / den, 4) if den else 0.0

        kw_support = observed.kw_sentiment.sum(axis=1)
        planted = [
            PlantedRule(
                keyword=word,
                sentiment=sentiment,
                language=_language(word),
                p_in=p_in,
                expected_confidence=round(float(self._expected_rule_confidence(i)), 4),
                true_confidence=SENTIMENT_RULE_CONFIDENCE,
                observed_confidence=ratio(
                    int(observed.kw_sentiment[i, SENTIMENTS.index(sentiment)]), int(kw_support[i])
                ),
                observed_support=int(kw_support[i]),
            )
            for i, (word, sentiment, p_in) in enumerate(SENTIMENT_KEYWORDS)
        ]
        nulls = [
            NullKeyword(
                keyword=word,
                language=_language(word),
                rate=NULL_KEYWORD_RATE,
                observed_support=int(kw_support[_N_SENT_KW + i]),
            )
            for i, word in enumerate(NULL_KEYWORDS)
        ]
        label_offset = _N_SENT_KW + _N_NULL_KW
        label_rules = [
            PlantedLabelRule(
                keyword=word,
                label=label,
                language=_language(word),
                p_in=p_in,
                expected_confidence=LABEL_RULE_CONFIDENCE,
                observed_confidence=ratio(
                    int(observed.kw_label[label_offset + i, LABELS.index(label)]),
                    int(kw_support[label_offset + i]),
                ),
                observed_support=int(kw_support[label_offset + i]),
            )
            for i, (word, label, p_in) in enumerate(LABEL_KEYWORDS)
        ]
        names = self.annotator_names
        annotators = [
            Annotator(
                annotator=names[i],
                weight=round(float(self.annotator_weights[i]), 6),
                accuracy=ANNOTATOR_ACCURACY,
                lead_time_median=LEAD_TIME_MEDIAN / (FAST_FACTOR if i == self.fast else 1.0),
                observed_records=int(observed.annotator[i]),
            )
            for i in range(N_ANNOTATORS)
        ]
        weekday = [float(f) for f in WEEKDAY_FACTORS]
        return GroundTruth(
            schema_version=TRUTH_SCHEMA_VERSION,
            seed=self.seed,
            project_id=self.project_id,
            records_file=records_file,
            n_records=self.n_records,
            n_tasks=observed.n_tasks,
            period_start=format_timestamp(self.start),
            period_end=format_timestamp(self.start + timedelta(days=self.days)),
            days=self.days,
            lang_mix=self.lang_mix,
            sentiment_shares_before=dict(zip(SENTIMENTS, _rounded(self.shares[0]), strict=True)),
            sentiment_shares_after=dict(zip(SENTIMENTS, _rounded(self.shares[1]), strict=True)),
            label_shares=dict(zip(LABELS, LABEL_SHARES, strict=True)),
            change_point=ChangePoint(
                date=format_timestamp(self.start + timedelta(days=self.change_day)),
                day=self.change_day,
                sentiment="negative",
                kind="step",
                share_before=round(float(annotated[0, NEG]), 4),
                share_after=round(float(annotated[1, NEG]), 4),
                true_share_before=round(float(self.shares[0, NEG]), 4),
                true_share_after=round(float(self.shares[1, NEG]), 4),
                observed_share_before=round(float(obs_share[0]), 4),
                observed_share_after=round(float(obs_share[1]), 4),
            ),
            planted_rules=planted,
            null_keywords=nulls,
            planted_label_rules=label_rules,
            trend=Trend(
                metric="volume",
                direction="increasing",
                start_factor=1.0,
                end_factor=TREND_END_FACTOR,
                relative_change=round(TREND_END_FACTOR - 1.0, 4),
            ),
            seasonality=Seasonality(
                metric="volume",
                period="weekly",
                weekday_factors=weekday,
                weekend_ratio=round((weekday[5] + weekday[6]) / 2 / (sum(weekday[:5]) / 5), 4),
            ),
            annotators=annotators,
            biased_annotators=[
                BiasedAnnotator(annotator=BIASED_ANNOTATOR, bias_to="negative", rate=BIAS_RATE)
            ],
            fast_annotators=[
                FastAnnotator(
                    annotator=FAST_ANNOTATOR,
                    lead_time_factor=round(1.0 / FAST_FACTOR, 4),
                    lead_time_median=round(LEAD_TIME_MEDIAN / FAST_FACTOR, 2),
                )
            ],
            multi_annotation={
                "annotators_per_task": {str(k + 1): p for k, p in enumerate(ANNOTATIONS_PER_TASK)},
                "share_of_tasks": round(1.0 - ANNOTATIONS_PER_TASK[0], 4),
                "delay_mean_seconds": REANNOTATION_DELAY_MEAN,
            },
            lead_time={
                "distribution": "lognormal",
                "median_seconds": LEAD_TIME_MEDIAN,
                "sigma": LEAD_TIME_SIGMA,
            },
            ratings={
                "present_share": RATING_PRESENT,
                "noise": RATING_NOISE,
                "bands": {s: list(b) for s, b in zip(SENTIMENTS, RATING_BANDS, strict=True)},
            },
            background={
                "zipf_exponent": ZIPF_EXPONENT,
                "content_words": {
                    "distribution": "lognormal",
                    "median": CONTENT_WORDS_MEDIAN,
                    "sigma": CONTENT_WORDS_SIGMA,
                    "max": CONTENT_WORDS_MAX,
                },
                "stop_word_share": dict(STOP_WORD_SHARE),
                "number_rate": dict(NUMBER_RATE),
                "latin_in_chinese": LATIN_IN_CHINESE,
                "repost_rate": REPOST_RATE,
                "near_duplicate_rate": NEAR_DUPLICATE_RATE,
                "en": list(BACKGROUND_EN),
                "zh": list(BACKGROUND_ZH),
                "tail_words": {"en": len(TAIL_EN), "zh": len(TAIL_ZH)},
                "stop_words": {lang: list(words) for lang, words in STOP_WORDS.items()},
            },
        )


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


# --------------------------------------------------------------------------- public API


def generate(
    path: Path,
    n_records: int,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    days: int = 120,
    lang_mix: float = 0.3,
    *,
    project_id: str = "demo",
    progress: Callable[[int], None] | None = None,
) -> GroundTruth:
    """Write ``n_records`` JSONL records to ``path`` and ``<stem>.truth.json`` beside it.

    ``progress`` is called with the number of records written after each block,
    for a CLI progress bar.
    """
    model = SyntheticData(n_records, seed, start, days, lang_mix, project_id)
    return model.write(Path(path), progress)


def iter_records(
    n_records: int,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    days: int = 120,
    lang_mix: float = 0.3,
    *,
    project_id: str = "demo",
) -> Iterator[dict[str, Any]]:
    """The same records :func:`generate` writes, as dicts, in bounded memory."""
    return SyntheticData(n_records, seed, start, days, lang_mix, project_id).records()


def iter_record_chunks(
    n_records: int,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    days: int = 120,
    lang_mix: float = 0.3,
    *,
    project_id: str = "demo",
) -> Iterator[list[dict[str, Any]]]:
    """Like :func:`iter_records` but one list per block of ≤ BLOCK_RECORDS records."""
    return SyntheticData(n_records, seed, start, days, lang_mix, project_id).chunks()
