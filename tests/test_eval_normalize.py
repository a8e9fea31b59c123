"""The CER normaliser: hand-checked cases, and the same result on both sides."""

import pytest

from eval.normalize import NORMALISER_NAME, normalize_zh

CASES = [
    ("幺二零", "120"),
    ("一二零", "120"),
    ("120", "120"),
    ("１２０", "120"),  # full-width digits
    ("打 一 二 零！", "打120"),  # spaces between numerals do not split the number
    ("我覺得很難過", "我觉得很难过"),  # Traditional → Simplified
    ("電話號碼", "电话号码"),
    ("你好，世界！", "你好世界"),
    ("“好的”……嗯。", "好的嗯"),
    ("ＯＫ吧", "ok吧"),  # full-width Latin, lower-cased
    ("十二点多", "12点多"),
    ("一点五", "1.5"),  # a decimal point between digits is kept
    ("三，五", "35"),  # other punctuation goes
    ("二零二四年", "2024年"),
    ("百分之五十", "50"),
    ("", ""),
    ("……", ""),
    ("　 ", ""),  # ideographic space
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalize_zh(text, expected):
    assert normalize_zh(text) == expected


@pytest.mark.parametrize(("text", "_"), CASES)
def test_normalize_zh_is_idempotent(text, _):
    assert normalize_zh(normalize_zh(text)) == normalize_zh(text)


@pytest.mark.parametrize("variant", ["幺二零", "一二零", "120", "１２０", "一 二 零"])
def test_emergency_number_spellings_agree(variant):
    assert normalize_zh(f"我要打{variant}了") == "我要打120了"


def test_words_that_only_look_numeric_stay():
    assert normalize_zh("万一出事") == "万一出事"


def test_name_is_versioned():
    assert NORMALISER_NAME.endswith("/1")
