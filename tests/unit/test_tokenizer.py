import pytest

from bizlogic.records.tokenizer import Tokenizer, load_stopwords


def test_mixed_chinese_english_numbers():
    tokens = Tokenizer().tokenize(
        "Don't buy: the e-mail said 3.5 stars!! 质量很差，退货 iPhone15 ＡＢＣ café"
    )
    assert tokens == [
        "don't",
        "buy",
        "e-mail",
        "said",
        "3.5",
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
    assert Tokenizer(min_length=4).tokenize("box bags 12 1234") == ["bags", "1234"]
    assert Tokenizer(keep_numbers=False).tokenize("box 100") == ["box"]
    assert "not" not in load_stopwords("en")  # negations carry sentiment
    assert Tokenizer().tokenize("我们的 东西") == ["东西"]


def test_distinct_in_first_appearance_order_and_case_folding():
    assert Tokenizer().tokenize("Refund REFUND refund later") == ["refund", "later"]


def test_han_single_characters_kept_unless_stop_words():
    tokens = Tokenizer().tokenize("好")
    assert tokens == ["好"]
    assert Tokenizer(min_han_length=2).tokenize("好") == []


def test_keywords_override_tokenization():
    t = Tokenizer()
    assert t.record_tokens("anything here", ["x", "y"]) == ["x", "y"]
    assert t.record_tokens("anything here", None) == ["anything"]


def test_extra_stopwords_and_validation():
    assert Tokenizer(extra_stopwords=["Box"]).tokenize("box bag") == ["bag"]
    with pytest.raises(ValueError):
        Tokenizer(min_length=0)
