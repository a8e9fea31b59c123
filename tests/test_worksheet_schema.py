"""Worksheet and correction validation against the annotation format's worksheet schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from service.worksheet import WORKSHEET_FIELDS, validate_correction, validate_worksheet

FIXTURES = Path(__file__).parent / "fixtures" / "worksheet" / "calls.jsonl"


@pytest.fixture()
def worksheet() -> dict:
    with FIXTURES.open(encoding="utf-8") as fh:
        return json.loads(fh.readline())["worksheet"]


def test_fields_are_the_spec_fields_in_order():
    assert WORKSHEET_FIELDS == (
        "caller_gender", "caller_age_group", "call_type", "problem_categories", "emotions", "risk_level",
        "suicidal_ideation", "suicide_plan", "suicide_method", "prior_attempt", "self_harm", "ideation_intensity",
        "hopelessness", "protective_factors", "location_disclosed", "police_linkage", "referral", "follow_up",
        "summary")


def test_reference_worksheets_are_valid():
    with FIXTURES.open(encoding="utf-8") as fh:
        for line in fh:
            validate_worksheet(json.loads(line)["worksheet"])


@pytest.mark.parametrize("field, value", [
    ("caller_gender", "男性"),
    ("caller_age_group", "18-30"),
    ("call_type", "自杀"),
    ("risk_level", "极高"),
    ("suicidal_ideation", "有"),
    ("prior_attempt", "上周"),
    ("problem_categories", ["婚姻家庭", "炒股"]),
    ("problem_categories", ["婚姻家庭", "婚姻家庭"]),
    ("emotions", "焦虑烦躁"),
    ("referral", ["医院"]),
    ("ideation_intensity", 11),
    ("hopelessness", -1),
    ("hopelessness", "7"),
    ("hopelessness", 6.5),
    ("ideation_intensity", True),
    ("suicide_plan", "true"),
    ("police_linkage", None),
    ("suicide_method", 3),
    ("protective_factors", "宠物"),
    ("summary", None),
])
def test_bad_value_is_named(worksheet, field, value):
    bad = copy.deepcopy(worksheet)
    bad[field] = value
    with pytest.raises(ValueError) as err:
        validate_worksheet(bad)
    assert field in str(err.value)
    others = [f for f in WORKSHEET_FIELDS if f != field and f"{f}:" in str(err.value)]
    assert not others


def test_every_bad_field_is_named_at_once(worksheet):
    bad = dict(worksheet, caller_gender="x", hopelessness=20, extra_field=1)
    del bad["summary"]
    with pytest.raises(ValueError) as err:
        validate_worksheet(bad)
    for name in ("caller_gender", "hopelessness", "extra_field", "summary"):
        assert name in str(err.value)


def test_nullable_fields_accept_null(worksheet):
    ok = dict(worksheet, suicide_method=None, location_disclosed=None, ideation_intensity=None, hopelessness=None)
    validate_worksheet(ok)


def test_half_filled_worksheet_is_refused(worksheet):
    half = {k: worksheet[k] for k in WORKSHEET_FIELDS[:9]}
    with pytest.raises(ValueError) as err:
        validate_worksheet(half)
    for name in WORKSHEET_FIELDS[9:]:
        assert f"{name}: missing" in str(err.value)


def test_not_an_object_is_refused():
    with pytest.raises(ValueError):
        validate_worksheet(["caller_gender"])
    with pytest.raises(ValueError):
        validate_correction("caller_gender=女")


@pytest.mark.parametrize("patch", [
    {"caller_gender": "女"},
    {"hopelessness": 0, "ideation_intensity": 10},
    {"location_disclosed": None},
    {"referral": ["精神科门诊", "法律援助"], "follow_up": True},
    {"summary": "来电者咨询安眠药。"},
])
def test_valid_correction_is_returned_in_spec_order(patch):
    out = validate_correction(dict(reversed(list(patch.items()))))
    assert out == patch
    assert list(out) == [f for f in WORKSHEET_FIELDS if f in patch]


@pytest.mark.parametrize("patch, named", [
    ({}, "no field"),
    ({"gender": "女"}, "gender: unknown field"),
    ({"caller_gender": "女", "mood": "好"}, "mood: unknown field"),
    ({"ideation_intensity": 12}, "ideation_intensity"),
    ({"call_type": None}, "call_type"),
    ({"caller_gender": "女", "emotions": ["开心"]}, "emotions"),
])
def test_bad_correction_is_refused(patch, named):
    with pytest.raises(ValueError) as err:
        validate_correction(patch)
    assert named in str(err.value)
    if "caller_gender" in patch and patch["caller_gender"] == "女":
        assert "caller_gender:" not in str(err.value)
