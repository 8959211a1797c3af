import pytest

from bizlogic.records.tokenizer import Tokenizer, load_stopwords


def test_mixed_chinese_english_numbers():
    tokens = Tokenizer().tokenize(
        "Don't buy: the e-mail said 3.5 stars!! 质量很差，退货 iPhone15 ＡＢＣ café"
    )
    # "said" is a stop word (stopwordsiso); 3.5 is a number; "buy" is on the keep list.
    assert tokens == [
        "don't",
        "buy",
        "e-mail",
        "stars",
        "质量",
        "很差",
        "退货",
        "iphone15",
        "abc",
        "café",
    ]


def test_stop_words_and_min_length():
    assert Tokenizer().tokenize("The box and the bag a b") == ["box", "bag"]
    assert Tokenizer(min_length=4).tokenize("box bags mp3 boxes") == ["bags", "boxes"]
    assert Tokenizer().tokenize("我们的 东西") == ["东西"]


@pytest.mark.parametrize(
    "text",
    ["100", "3.5", "2,999", "2011-05-30", "10:30", "4mg", "16-24mg", "5th", "2pm", "１２", "a_b"],
)
def test_numbers_prices_dates_and_doses_are_never_keywords(text):
    assert Tokenizer().tokenize(text) == []


def test_links_are_not_keywords():
    text = "Delayed again http://t.co/6X1rq3qwk2 see www.Example.com/page?a=1 #fail"
    assert Tokenizer().tokenize(text) == ["delayed", "fail"]


def test_product_names_with_digits_stay():
    assert Tokenizer().tokenize("mp3 iPhone15 covid-19") == ["mp3", "iphone15", "covid-19"]


def test_maintained_stop_words_minus_the_keep_list():
    en, zh = load_stopwords("en"), load_stopwords("zh")
    assert {"the", "said", "later", "ok"} <= en  # stopwordsiso
    assert {"您", "月", "的"} <= zh  # the project's additions and stopwordsiso
    # Negations and evaluative words carry sentiment: kept although stopwordsiso lists them.
    assert not {"not", "no", "never", "good", "best", "worse", "buy"} & en
    assert not {"不", "没有", "好", "差", "一般"} & zh
    assert Tokenizer().tokenize("not good, 不 好 没有 差") == [
        "not",
        "good",
        "不",
        "好",
        "没有",
        "差",
    ]


def test_distinct_in_first_appearance_order_and_case_folding():
    assert Tokenizer().tokenize("Refund REFUND refund courier") == ["refund", "courier"]


def test_han_single_characters_kept_unless_stop_words():
    tokens = Tokenizer().tokenize("好")
    assert tokens == ["好"]
    assert Tokenizer(min_han_length=2).tokenize("好") == []


def test_keywords_override_tokenization():
    t = Tokenizer()
    assert t.record_tokens("anything here", ["x", "y"]) == ["x", "y"]
    assert t.record_tokens("parcel here", None) == ["parcel"]


def test_extra_stopwords_and_validation():
    assert Tokenizer(extra_stopwords=["Box"]).tokenize("box bag") == ["bag"]
    with pytest.raises(ValueError):
        Tokenizer(min_length=0)
