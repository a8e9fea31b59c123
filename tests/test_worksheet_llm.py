"""The LLM worksheet engine: prompt rendering and versions, answer parsing, field-by-field fallback to the rules engine,
the OpenAI-compatible backend against a real HTTP server on loopback, and the transformers backend with tiny models
built from a config (no download)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from service.settings import WorksheetSettings
from service.types import FinalSegment, SegmentRisk
from service.worksheet import WORKSHEET_FIELDS, RulesDrafter, make_drafter
from service.worksheet.devscore import load_calls, reference_inputs
from service.worksheet.llm import (
    LLM_CONFIDENCE,
    PROMPTS_DIR,
    AnswerError,
    LLMDrafter,
    extract_answer,
    load_prompt,
    read_field,
)
from service.worksheet.schema import worksheet_schema
from tests.conftest import FIXTURES, Server, free_port

ANSWER = json.loads((FIXTURES / "llm" / "dev-0010-answer.json").read_text(encoding="utf-8"))
MODEL = "qwen-test"
API_KEY = "sk-test-0001"


@pytest.fixture(scope="module")
def call() -> dict:
    """dev-0010: pills taken during the call, address given, 120/110 linked; the reference level is 紧急."""
    calls = {c["call_id"]: c for c in load_calls(FIXTURES / "worksheet" / "calls.jsonl")}
    return calls["dev-0010"]


@pytest.fixture(scope="module")
def rules() -> RulesDrafter:
    return RulesDrafter()


def turns(*pairs: tuple[str, str]) -> list[FinalSegment]:
    return [FinalSegment("t", i, speaker, 3.0 * i, 3.0 * i + 2.5, text) for i, (speaker, text) in enumerate(pairs)]


# --- the prompt --------------------------------------------------------------------------------------------------

def test_prompt_renders_numbered_speaker_lines_in_time_order_with_risk_hints():
    segs = turns(("counselor", "您好，心理援助热线。"), ("caller", "我想好了，\n今晚就吃药。"), ("mixed", "嗯  嗯"))
    segs = [segs[2], segs[0], segs[1]]  # out of order on purpose
    risks = [SegmentRisk(1, ["active_ideation", "suicide_plan"]), SegmentRisk(1, ["suicide_plan"]),
             SegmentRisk(2, []), SegmentRisk(99, ["suicide_attempt"])]
    system, user = load_prompt("worksheet-v1").render(segs, risks, "高")
    assert system == (PROMPTS_DIR / "worksheet-v1.system.md").read_text(encoding="utf-8").strip()
    assert "[0] 咨询师: 您好，心理援助热线。\n[1] 来电者: 我想好了， 今晚就吃药。\n[2] 混合: 嗯 嗯" in user
    assert "通话风险等级：高" in user
    assert "分段风险标签：\n[1] active_ideation, suicide_plan\n" in user
    assert "99" not in user and "suicide_attempt" not in user  # hints only for segments in the transcript
    _, quiet = load_prompt("worksheet-v1").render(segs, [], "无")
    assert "分段风险标签：\n无\n" in quiet


def test_prompt_version_is_name_and_content_hash(tmp_path):
    files = [PROMPTS_DIR / "worksheet-v1.system.md", PROMPTS_DIR / "worksheet-v1.user.md"]
    digest = hashlib.sha256(files[0].read_bytes() + b"\0" + files[1].read_bytes()).hexdigest()[:12]
    assert load_prompt("worksheet-v1").version == f"worksheet-v1@{digest}"
    assert load_prompt("worksheet-v1").version == load_prompt(str(PROMPTS_DIR / "worksheet-v1")).version
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    edited = tmp_path / "worksheet-v1.system.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "。", encoding="utf-8")
    moved = load_prompt(str(tmp_path / "worksheet-v1"))
    assert moved.name == "worksheet-v1" and moved.version != f"worksheet-v1@{digest}"


def test_prompt_names_every_field_and_every_enum_value_of_the_schema():
    system = load_prompt("worksheet-v1").system
    for name, spec in worksheet_schema()["properties"].items():
        assert f"- {name}：" in system
        for value in spec.get("enum", []) + spec.get("items", {}).get("enum", []):
            assert f'"{value}"' in system, (name, value)


def test_prompt_templates_are_checked_when_loaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="worksheet-v9"):
        load_prompt("worksheet-v9")
    (tmp_path / "p.system.md").write_text("系统", encoding="utf-8")
    (tmp_path / "p.user.md").write_text("$call_level $risk_hints $transcrip", encoding="utf-8")
    with pytest.raises(ValueError, match="placeholders"):
        load_prompt(str(tmp_path / "p"))


# --- reading the answer ------------------------------------------------------------------------------------------

GOOD = '{"caller_gender": {"value": "女", "evidence": [1]}}'


@pytest.mark.parametrize("text", [
    GOOD,
    f"```json\n{GOOD}\n```",
    f"好的，工单如下：\n{GOOD}\n以上。",
    f"<think>先想想 {{\"caller_gender\": 1}} 再答</think>{GOOD}",
    f'{{"note": "not the worksheet"}} {GOOD} {{"x": {{"y": 1}}}}',
    f'{{"broken": }} {GOOD}',
])
def test_answer_is_found_around_fences_reasoning_and_other_objects(text):
    assert extract_answer(text) == {"caller_gender": {"value": "女", "evidence": [1]}}


@pytest.mark.parametrize("text", ["", "对不起，我无法完成。", GOOD[:-3], '["caller_gender"]', '{"note": "无"}'])
def test_no_answer_without_a_worksheet_object(text):
    with pytest.raises(AnswerError):
        extract_answer(text)


@pytest.mark.parametrize("name, item, reason", [
    ("caller_gender", {"value": "女生", "evidence": []}, "is not one of"),
    ("caller_gender", "女", "not an object with value and evidence"),
    ("caller_gender", {"value": "女"}, "not an object with value and evidence"),
    ("emotions", {"value": ["孤独", "孤独"], "evidence": []}, "non-unique"),
    ("hopelessness", {"value": 11, "evidence": []}, "maximum"),
    ("suicide_plan", {"value": 1, "evidence": []}, "not of type"),
    ("risk_level", {"value": "高", "evidence": [3, 99]}, r"not in the transcript: \[99\]"),
    ("risk_level", {"value": "高", "evidence": ["3"]}, "not a list of segment ids"),
    ("risk_level", {"value": "高", "evidence": [True]}, "not a list of segment ids"),
    ("risk_level", {"value": "高", "evidence": 3}, "not a list of segment ids"),
])
def test_invalid_fields_are_refused_with_the_reason(name, item, reason):
    with pytest.raises(ValueError, match=reason):
        read_field(name, item, {0, 1, 2, 3})


def test_valid_field_keeps_its_evidence_sorted_and_unique():
    d = read_field("problem_categories", {"value": ["学业压力"], "evidence": [3, 1, 3], "note": "x"}, {1, 3})
    assert (d.value, d.evidence, d.confidence) == (["学业压力"], [1, 3], LLM_CONFIDENCE)


# --- the OpenAI-compatible backend against a loopback server ---------------------------------------------------

class FakeLLM:
    """What each test scripts the server to answer, and every request it received (headers and body)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: list[dict] = []
        self.respond = lambda body: completion(json.dumps(ANSWER, ensure_ascii=False))
        self.delay_s = 0.0


def completion(content: str | None) -> Response:
    return JSONResponse({"id": "c-1", "object": "chat.completion", "model": MODEL,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def fake_app(fake: FakeLLM) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        fake.requests.append({"authorization": request.headers.get("authorization"), "body": body})
        await asyncio.sleep(fake.delay_s)
        return fake.respond(body)

    return app


@pytest.fixture(scope="module")
def llm_server():
    fake = FakeLLM()
    with Server(fake_app(fake), free_port()) as srv:
        yield srv, fake


@pytest.fixture
def fake(llm_server) -> FakeLLM:
    _, fake = llm_server
    fake.reset()
    return fake


def openai_drafter(url: str, **overrides) -> LLMDrafter:
    settings = {"engine": "llm", "llm_backend": "openai", "llm_url": url, "llm_model": MODEL, "llm_api_key": API_KEY,
                "llm_timeout_s": 2.0, "llm_max_new_tokens": 512, **overrides}
    return make_drafter(WorksheetSettings(**settings))


@pytest.fixture
def drafter(llm_server, fake) -> LLMDrafter:
    srv, _ = llm_server
    return openai_drafter(f"{srv.http}/v1")


def with_fields(**fields) -> str:
    """The fixture answer with some fields replaced (None: removed), as JSON."""
    answer = copy.deepcopy(ANSWER)
    for name, item in fields.items():
        if item is None:
            del answer[name]
        else:
            answer[name] = item
    return json.dumps(answer, ensure_ascii=False)


def test_valid_answer_drafts_every_field_from_the_llm(drafter, fake, call):
    d = drafter.draft(*reference_inputs(call))
    assert d.values() == call["worksheet"]
    assert d.fallbacks == {}
    assert {name: d.fields[name].evidence for name in WORKSHEET_FIELDS} == {n: ANSWER[n]["evidence"] for n in ANSWER}
    assert {f.confidence for f in d.fields.values()} == {LLM_CONFIDENCE}
    prompt = load_prompt("worksheet-v1").version
    assert (d.engine, d.version) == ("llm", f"{prompt}+{MODEL}")
    assert d.engine_versions["prompt"] == prompt
    assert (d.engine_versions["llm_backend"], d.engine_versions["llm_model"]) == ("openai", MODEL)
    assert {"worksheet_rules", "lexicon", "risk"} <= set(d.engine_versions)
    assert d.to_json()["fallbacks"] == {}


def test_the_server_gets_greedy_json_mode_the_model_and_the_bearer_key(drafter, fake, call):
    drafter.draft(*reference_inputs(call))
    (req,) = fake.requests
    body = req["body"]
    assert req["authorization"] == f"Bearer {API_KEY}"
    assert (body["model"], body["temperature"], body["max_tokens"]) == (MODEL, 0, 512)
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "[17] 来电者: 临泉县，县一中对面，阳光小区5号楼2单元301。" in body["messages"][1]["content"]
    assert "[13] suicide_attempt" in body["messages"][1]["content"]


def test_no_key_no_authorization_header(llm_server, fake, call):
    srv, _ = llm_server
    openai_drafter(f"{srv.http}/v1/", llm_api_key="").draft(*reference_inputs(call))
    assert [r["authorization"] for r in fake.requests] == [None]


def test_invalid_fields_fall_back_to_rules_one_by_one_with_reasons(drafter, fake, rules, call):
    inputs = reference_inputs(call)
    text = with_fields(caller_gender={"value": "男生", "evidence": []},
                       suicide_method={"value": "艾司唑仑", "evidence": [24, 99]},
                       summary=None, follow_up=True)
    fake.respond = lambda body: completion(f"```json\n{text}\n```")
    d = drafter.draft(*inputs)
    assert set(d.fallbacks) == {"caller_gender", "suicide_method", "summary", "follow_up"}
    assert "男生" in d.fallbacks["caller_gender"] and "is not one of" in d.fallbacks["caller_gender"]
    assert "[99]" in d.fallbacks["suicide_method"]
    assert d.fallbacks["summary"] == "missing from the model output"
    assert d.fallbacks["follow_up"] == "not an object with value and evidence"
    by_rules = rules.draft(*inputs)
    for name in WORKSHEET_FIELDS:
        if name in d.fallbacks:
            assert d.fields[name] == by_rules.fields[name], name
        else:
            assert d.fields[name].value == ANSWER[name]["value"], name
    d.values()
    assert d.to_json()["fallbacks"] == d.fallbacks


@pytest.mark.parametrize("llm_level, call_level, drafted, raised", [
    ("中", "紧急", "紧急", True),
    ("无", "高", "高", True),
    ("紧急", "紧急", "紧急", False),
    ("紧急", "高", "紧急", False),  # above the risk engine is the model's call to make
    ("低", "无", "低", False),
])
def test_risk_level_is_never_below_the_risk_engine(drafter, fake, call, llm_level, call_level, drafted, raised):
    text = with_fields(risk_level={"value": llm_level, "evidence": [13]})
    fake.respond = lambda body: completion(text)
    segs, risks, _ = reference_inputs(call)
    d = drafter.draft(segs, risks, call_level)
    assert d.fields["risk_level"].value == drafted
    assert set(d.fallbacks) == ({"risk_level"} if raised else set())
    if raised:
        assert llm_level in d.fallbacks["risk_level"] and call_level in d.fallbacks["risk_level"]


def test_server_refusing_response_format_is_asked_again_without_it_and_then_never(drafter, fake, call):
    def respond(body: dict) -> Response:
        if "response_format" in body:
            return JSONResponse({"error": {"message": "response_format is not supported"}}, status_code=400)
        return completion(json.dumps(ANSWER, ensure_ascii=False))
    fake.respond = respond
    assert drafter.draft(*reference_inputs(call)).fallbacks == {}
    assert ["response_format" in r["body"] for r in fake.requests] == [True, False]
    assert drafter.draft(*reference_inputs(call)).fallbacks == {}
    assert ["response_format" in r["body"] for r in fake.requests] == [True, False, False]


def test_a_400_without_response_format_is_not_retried_forever(drafter, fake, call):
    fake.respond = lambda body: JSONResponse({"error": {"message": "prompt too long"}}, status_code=400)
    d = drafter.draft(*reference_inputs(call))
    assert len(fake.requests) == 2
    assert set(d.fallbacks.values()) == {f"BackendError: HTTP 400 from {drafter.backend.endpoint}"}


@pytest.mark.parametrize("trouble, reason", [
    ("http_500", "BackendError: HTTP 500"),
    ("timeout", "BackendError: no answer within 1 s"),
    ("not_json", "BackendError: response is not a chat completion"),
    ("no_choices", "BackendError: response is not a chat completion"),
    ("null_content", "BackendError: response has no message content"),
    ("prose", "AnswerError: no JSON object with worksheet fields"),
    ("truncated", "AnswerError: no JSON object with worksheet fields"),
])
def test_backend_trouble_falls_back_to_rules_for_every_field(llm_server, fake, rules, call, trouble, reason):
    srv, _ = llm_server
    # only the timeout case waits that long (a busy machine must not turn another case into a timeout)
    drafter = openai_drafter(f"{srv.http}/v1", llm_timeout_s=1.0 if trouble == "timeout" else 30.0)
    fake.respond = {
        "http_500": lambda body: PlainTextResponse("Internal Server Error", status_code=500),
        "timeout": lambda body: completion(json.dumps(ANSWER)),
        "not_json": lambda body: PlainTextResponse("<html>bad gateway</html>"),
        "no_choices": lambda body: JSONResponse({"choices": []}),
        "null_content": lambda body: completion(None),
        "prose": lambda body: completion("对不起，我不能帮助完成这个请求。"),
        "truncated": lambda body: completion(json.dumps(ANSWER, ensure_ascii=False)[:400]),
    }[trouble]
    fake.delay_s = 3.0 if trouble == "timeout" else 0.0
    inputs = reference_inputs(call)
    d = drafter.draft(*inputs)
    assert set(d.fallbacks) == set(WORKSHEET_FIELDS)
    assert all(r.startswith(reason) for r in d.fallbacks.values()), d.fallbacks
    assert d.values() == rules.draft(*inputs).values()
    assert d.engine == "llm" and d.engine_versions["llm_model"] == MODEL


def test_server_down_falls_back_to_rules(rules, call):
    d = openai_drafter(f"http://127.0.0.1:{free_port()}/v1").draft(*reference_inputs(call))
    assert set(d.fallbacks) == set(WORKSHEET_FIELDS)
    assert all(r.startswith("BackendError: ConnectError") for r in d.fallbacks.values())
    assert d.values() == rules.draft(*reference_inputs(call)).values()


class RaisingBackend:
    """A backend with a bug: LLMDrafter must still hand back a draft (and log the traceback)."""

    name = "broken"
    model_id = "broken-model"

    def complete(self, system: str, user: str) -> str:
        raise RuntimeError("CUDA out of memory")


def test_a_backend_bug_still_yields_the_rules_draft(rules, call, caplog):
    inputs = reference_inputs(call)
    with caplog.at_level(logging.ERROR, logger="service.worksheet"):
        d = LLMDrafter(RaisingBackend(), fallback=rules).draft(*inputs)
    assert set(d.fallbacks.values()) == {"backend raised RuntimeError"}
    assert d.values() == rules.draft(*inputs).values()
    assert [r.exc_info[0] for r in caplog.records] == [RuntimeError]


def test_empty_call_is_not_sent_to_the_model(drafter, fake):
    d = drafter.draft([], [], "无")
    assert fake.requests == []
    assert set(d.fallbacks) == set(WORKSHEET_FIELDS)
    d.values()


def test_logs_carry_no_transcript_prompt_or_key(drafter, fake, call, caplog):
    text = with_fields(caller_gender={"value": "男生", "evidence": []})
    fake.respond = lambda body: completion(text)
    with caplog.at_level(logging.DEBUG, logger="service.worksheet"):
        drafter.draft(*reference_inputs(call))
    assert caplog.records, "the call should be logged (sizes, timing, status)"
    logged = caplog.text
    for secret in [API_KEY, "男生", "风险引擎", *(s["text"][:6] for s in call["segments"] if len(s["text"]) >= 6)]:
        assert secret not in logged


def test_make_drafter_is_rules_by_default_and_refuses_an_llm_without_a_model(tmp_path):
    assert isinstance(make_drafter(WorksheetSettings()), RulesDrafter)
    with pytest.raises(ValueError, match="LLM_MODEL"):
        make_drafter(WorksheetSettings(engine="llm"))
    with pytest.raises(FileNotFoundError):
        make_drafter(WorksheetSettings(engine="llm", llm_backend="transformers", llm_model=str(tmp_path / "none")))


# --- the transformers backend with tiny models built from a config -----------------------------------------------

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<assistant>{% endif %}")
TINY_CALL = turns(("counselor", "您好，心理援助热线，请讲。"), ("caller", "我是女生，在外地上班，最近天天睡不着。"),
                  ("counselor", "能说说发生了什么吗？"), ("caller", "活着没意思，睡过去别醒来就好了。"))
TINY_RISKS = [SegmentRisk(3, ["passive_ideation"], engine_version="test-risk")]
TINY_LEVEL = "低"
TINY_ANSWER = "```json\n" + json.dumps({"caller_gender": {"value": "女", "evidence": [1]},
                                       "risk_level": {"value": "无", "evidence": []}}, ensure_ascii=False) + "\n```"
EOS = 2


def save_tiny_model(directory: Path, chat_template: str | None) -> LlamaForCausalLM:
    """A char-level tokenizer over the prompt's characters and a 2-layer Llama with seeded random weights."""
    system, user = load_prompt("worksheet-v1").render(TINY_CALL, TINY_RISKS, TINY_LEVEL)
    chars = sorted(set(system + user + TINY_ANSWER + (chat_template or "") + "\n"))
    vocab = {"<pad>": 0, "<unk>": 1, "<eos>": EOS, **{c: i + 3 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = chat_template
    torch.manual_seed(12356)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=128, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         bos_token_id=None, eos_token_id=EOS, pad_token_id=0, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    fast.save_pretrained(directory)
    model.save_pretrained(directory)
    return model


def teach_answer(directory: Path, model: LlamaForCausalLM, answer: str) -> None:
    """Make the model answer ``answer`` to the tiny call's prompt by solving its output layer (least squares).

    The hidden states of the answer's positions are fixed by the layers below, so an output layer that maps each one
    to the next answer token (hidden size ≥ answer length: an exact solution) makes greedy decoding say ``answer``.
    """
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    system, user = load_prompt("worksheet-v1").render(TINY_CALL, TINY_RISKS, TINY_LEVEL)
    if tokenizer.chat_template:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        prompt_ids = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
                               add_special_tokens=False)["input_ids"]
    else:
        prompt_ids = tokenizer(f"{system}\n\n{user}\n\n")["input_ids"]
    target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [EOS]
    assert len(target) <= model.config.hidden_size
    ids = torch.tensor([prompt_ids + target])
    with torch.no_grad():
        hidden = model.model(input_ids=ids).last_hidden_state[0, len(prompt_ids) - 1:-1].double()
        logits = torch.zeros(len(target), model.config.vocab_size, dtype=torch.float64)
        logits[torch.arange(len(target)), torch.tensor(target)] = 50.0
        model.lm_head.weight.copy_(torch.linalg.lstsq(hidden, logits).solution.T.float())
    model.save_pretrained(directory)


def transformers_drafter(directory: Path, max_new_tokens: int) -> LLMDrafter:
    return make_drafter(WorksheetSettings(engine="llm", llm_backend="transformers", llm_model=str(directory),
                                          llm_max_new_tokens=max_new_tokens))


def test_tiny_random_model_output_falls_back_for_every_field(tmp_path):
    directory = tmp_path / "tiny-llama"
    save_tiny_model(directory, chat_template=None)
    d = transformers_drafter(directory, max_new_tokens=16).draft(TINY_CALL, TINY_RISKS, TINY_LEVEL)
    assert set(d.fallbacks) == set(WORKSHEET_FIELDS)
    assert all(r.startswith("AnswerError") for r in d.fallbacks.values())
    assert d.values() == RulesDrafter().draft(TINY_CALL, TINY_RISKS, TINY_LEVEL).values()
    assert (d.engine, d.version) == ("llm", f"{load_prompt('worksheet-v1').version}+tiny-llama")
    assert (d.engine_versions["llm_backend"], d.engine_versions["llm_model"]) == ("transformers", "tiny-llama")


@pytest.mark.parametrize("chat_template", [None, CHAT_TEMPLATE], ids=["plain", "chat-template"])
def test_tiny_model_answer_is_parsed_validated_and_merged(tmp_path, chat_template):
    directory = tmp_path / "tiny-llama"
    teach_answer(directory, save_tiny_model(directory, chat_template), TINY_ANSWER)
    drafter = transformers_drafter(directory, max_new_tokens=len(TINY_ANSWER) + 8)
    d = drafter.draft(TINY_CALL, TINY_RISKS, TINY_LEVEL)
    d.values()
    gender = d.fields["caller_gender"]
    assert (gender.value, gender.evidence, gender.confidence) == ("女", [1], LLM_CONFIDENCE)
    assert d.fields["risk_level"].value == TINY_LEVEL
    assert "below the risk engine's call level" in d.fallbacks["risk_level"]
    missing = set(WORKSHEET_FIELDS) - {"caller_gender", "risk_level"}
    assert {n: d.fallbacks[n] for n in missing} == {n: "missing from the model output" for n in missing}
    assert "caller_gender" not in d.fallbacks
