"""Loading and validating eval input: good fixtures load, every bad line is named with what is wrong."""

import hashlib
import json
from pathlib import Path

import pytest

from eval.data import (RISK_LABELS, RISK_LEVELS, SUICIDE_LABELS, WORKSHEET_FIELDS, DataError, file_sha256,
                       load_calls, load_schema, load_utterances)

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def test_good_calls_load():
    calls = load_calls(FIXTURES / "calls.jsonl")
    assert [c.call_id for c in calls] == ["dev-0001", "dev-0004", "dev-0010"]
    assert [c.risk_level for c in calls] == ["无", "低", "紧急"]
    for call in calls:
        assert call.audio is None
        starts = [s.start for s in call.segments]
        assert starts == sorted(starts)
        assert all(s.end >= s.start for s in call.segments)
        assert set(call.worksheet) == set(WORKSHEET_FIELDS)
    assert calls[1].segments[0].labels == frozenset()
    assert any("passive_ideation" in s.labels for s in calls[1].segments)


def test_audio_resolves_relative_to_the_jsonl_file():
    (call,) = load_calls(FIXTURES / "with_audio.jsonl", need_audio=True)
    assert call.audio == (FIXTURES / "audio" / "silence-8k-stereo.wav").resolve()
    assert call.channels == {"caller": 0, "counselor": 1}
    assert call.duration == 4.0


def test_need_audio_refuses_calls_without_it():
    with pytest.raises(DataError) as e:
        load_calls(FIXTURES / "calls.jsonl", need_audio=True)
    assert [(p.line, p.path) for p in e.value.problems] == [(1, "$"), (2, "$"), (3, "$")]
    assert "no 'audio'" in e.value.problems[0].message


# line, JSON path, part of the message: one row per broken line of bad_calls.jsonl (line 2 is blank, line 1 good)
BAD_CALLS = [
    (3, "$", "not valid JSON"),
    (4, "$.format", "'annotated-call/1' was expected"),
    (5, "$.segments[1].risk[0]", "'suicidal' is not one of"),
    (6, "$.worksheet", "'risk_level' is a required property"),
    (7, "$.segments[1].end", "end 1.0 is before start 2.0"),
    (8, "$.segments[1].start", "out of time order"),
    (9, "$.segments[1].start", "overlaps $.segments[0] of the same speaker (caller)"),
    (10, "$.segments[1].id", "segment id 0 repeats $.segments[0]"),
    (11, "$.call_id", "call_id 'c-ok' repeats line 1"),
    (12, "$.worksheet.hopelessness", "11 is greater than the maximum of 10"),
    (13, "$.segments[0]", "('emotion' was unexpected)"),
    (14, "$.segments[1].speaker", "'client' is not one of ['caller', 'counselor']"),
    (15, "$.audio", "audio file not found"),
    (16, "$", "expected object, got array"),
    (17, "$.channels", "caller and counselor share channel 0"),
    (18, "$.worksheet.emotions", "has non-unique elements"),
]


@pytest.fixture(scope="module")
def bad_calls_error() -> DataError:
    with pytest.raises(DataError) as e:
        load_calls(FIXTURES / "bad_calls.jsonl")
    return e.value


def test_every_bad_line_is_reported_once(bad_calls_error):
    assert [(p.line, p.path) for p in bad_calls_error.problems] == [(line, path) for line, path, _ in BAD_CALLS]


@pytest.mark.parametrize(("line", "path", "fragment"), BAD_CALLS)
def test_bad_call_line_message(bad_calls_error, line, path, fragment):
    assert f"bad_calls.jsonl:{line}: {path}: " in str(bad_calls_error)
    (problem,) = [p for p in bad_calls_error.problems if p.line == line]
    assert fragment in problem.message


def test_not_utf8_names_the_line():
    with pytest.raises(DataError) as e:
        load_calls(FIXTURES / "bad_utf8.jsonl")
    (problem,) = e.value.problems
    assert (problem.line, problem.path) == (2, "$")
    assert problem.message.startswith("not UTF-8")


def test_empty_file_is_an_error():
    with pytest.raises(DataError, match="no calls in file"):
        load_calls(FIXTURES / "empty.jsonl")


def test_missing_file_is_a_data_error():
    with pytest.raises(DataError, match="cannot read file"):
        load_calls(FIXTURES / "no-such-file.jsonl")


def test_utterances_load():
    utts = load_utterances(FIXTURES / "utterances.jsonl")
    assert [u.id for u in utts] == ["u1", "u2", "u3", "u4"]
    assert utts[0].labels == {"active_ideation", "suicide_preparation"}
    assert utts[2].labels == frozenset()
    assert utts[3].source == "synthetic"


BAD_UTTERANCES = [
    (2, "$.risk", "expected array, got string"),
    (3, "$.id", "id 'u1' repeats line 1"),
    (4, "$.text", "should be non-empty"),
    (5, "$", "'risk' is a required property"),
    (6, "$", "('labels' was unexpected)"),
]


def test_bad_utterances():
    with pytest.raises(DataError) as e:
        load_utterances(FIXTURES / "bad_utterances.jsonl")
    got = [(p.line, p.path, p.message) for p in e.value.problems]
    assert [(line, path) for line, path, _ in got] == [(line, path) for line, path, _ in BAD_UTTERANCES]
    for (_, _, message), (_, _, fragment) in zip(got, BAD_UTTERANCES):
        assert fragment in message


def test_constants_come_from_the_schema():
    schema = load_schema("annotation-format.schema.json")
    assert len(RISK_LABELS) == 10 and RISK_LABELS[0] == "passive_ideation"
    assert SUICIDE_LABELS == RISK_LABELS[:5]
    assert RISK_LEVELS == ("无", "低", "中", "高", "紧急")
    assert WORKSHEET_FIELDS == tuple(schema["$defs"]["worksheet"]["required"])
    utterance = load_schema("utterance.schema.json")
    assert tuple(utterance["$defs"]["risk_label"]["enum"]) == RISK_LABELS


def test_file_sha256():
    path = FIXTURES / "calls.jsonl"
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_fixture_calls_are_plain_jsonl():
    lines = (FIXTURES / "calls.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["format"] == "annotated-call/1" for line in lines)
