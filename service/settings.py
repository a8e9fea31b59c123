"""Service configuration: one pydantic-settings ``Settings`` read from ``SCRIBE_*`` environment variables.

Nested groups use ``__``: ``SCRIBE_ASR__MODEL=large-v3``, ``SCRIBE_VAD__MIN_SILENCE_S=0.5``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["telephony", "counselor", "supervisor", "admin"]
ROLES: tuple[str, ...] = ("telephony", "counselor", "supervisor", "admin")
PLACEHOLDER_TOKENS = frozenset({"changeme", "change-me", "secret", "token", "dev", "test"})


class ASRSettings(BaseModel):
    """Speech recognition: which Whisper model, where it runs, how it decodes."""

    model: str = "base"
    """A model name from models/manifest.json or a path to a CTranslate2 Whisper model directory."""
    models_dir: Path | None = None
    """Where named models live on disk (default: DATA_DIR/models); an air-gapped server puts large-v3 here."""
    device: Literal["auto", "cuda", "cpu"] = "auto"
    """auto: CUDA when a GPU is visible to CTranslate2, else CPU."""
    compute_type: str = "auto"
    """CTranslate2 compute type; auto = float16 on CUDA, int8 on CPU."""
    language: str = "zh"
    """Decoding language."""
    beam_size: int = Field(5, ge=1, le=10)
    """Beam size for final segments."""
    partial_beam_size: int = Field(1, ge=1, le=10)
    """Beam size for partial (interim) hypotheses; greedy keeps them cheap."""
    initial_prompt: str | None = None
    """Text prompt before every utterance. None by default: on the 40 annotated 8 kHz calls the Simplified prompt
    "以下是普通话的句子，使用简体中文。" gave CER 0.198 against 0.195 without, and Whisper said it back on 17 of 1,594
    segments of unclear audio (those echoes are now dropped); OpenCC gives Simplified output anyway."""
    hotwords: str | None = None
    """Comma- or space-separated words to bias recognition towards (e.g. 12356,安眠药)."""
    workers: int = Field(2, ge=1, le=16)
    """Inference threads sharing the one model (CTranslate2 num_workers). With 2 or more, one worker is kept
    for final segments: partials never occupy every worker, so a final does not wait behind them."""
    partial_share: float = Field(0.2, ge=0.0, le=2.0)
    """The decoding time partials may always take, as a share of one worker's wall time over the last
    PARTIAL_SHARE_WINDOW_S (10 s; partial_fill may allow more); past it, and while a final waits in the queue, a
    partial is skipped (the next is tried on the next tick of the partial clock). Partials re-decode the whole
    utterance so far; unbounded, they took about 3× the CPU of the finals and put 4 streamed calls' final p95 at
    2.0 s instead of 1.3 s. 0 (with partial_fill 0) turns partials off in effect; 2 (two workers' worth) lifts the
    bound."""
    partial_fill: float = Field(0.4, ge=0.0, le=2.0)
    """Partials may also fill time the model would sit idle: up to this share of one worker over the same 10 s,
    less the share finals and recordings took (never below partial_share). With one or two calls that lifts the
    bound to about 0.2–0.3 of a worker; from four calls on, on two cores, finals take more and partials keep to
    partial_share. Equal to partial_share or lower: no filling."""
    cpu_threads: int = Field(0, ge=0, le=64)
    """Threads per inference worker on the CPU (0: the machine's cores divided among the workers)."""
    batch_size: int = Field(8, ge=1, le=64)
    """Most utterances decoded together in one batch (across calls)."""
    queue_size: int = Field(512, ge=1)
    """Bound of the inference queue; partials are dropped first when it is full."""
    recording_mode: Literal["windows", "live"] = "windows"
    """How a recorded call (POST /v1/calls, scribe transcribe) is decoded: "windows" packs each channel's speech
    into windows of up to 30 s and decodes them with timestamps (on the 40 annotated calls CER 0.151 against 0.193
    utterance by utterance); "live" runs it through the live segmenter, utterance by utterance, as a call would."""
    min_window_s: float = Field(8.0, ge=1.0, le=30.0)
    """Shortest encoder window: short utterances are padded to this many seconds (30 = Whisper's fixed window).
    On 8 of the annotated calls (6,594 reference characters) 8 s and 15 s gave the same CER (0.197) through the
    live path, and 8 s costs about a third less CPU; below that, repetition artefacts grow. A longer utterance gets
    its length plus 0.5 s, rounded up to 2 s steps, and finals are batched only with finals of the same window, so
    an utterance's text does not depend on what other calls say at the same time."""
    no_speech_threshold: float = Field(0.6, ge=0.0, le=1.0)
    """A segment whose no-speech probability is above this and whose log-probability is low is dropped."""
    log_prob_threshold: float = -1.0
    """Average log-probability below which (with high no-speech probability) a segment is treated as silence."""
    compression_ratio_threshold: float = 2.4
    """gzip compression ratio above which a hypothesis is a repetition loop and is repaired or dropped."""


class VADSettings(BaseModel):
    """Silero voice activity detection that cuts each channel into utterances."""

    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Speech probability at or above which a 32 ms window is speech."""
    neg_threshold: float = Field(0.35, gt=0.0, lt=1.0)
    """Probability below which a window counts as silence inside an utterance."""
    min_silence_s: float = Field(0.6, ge=0.1, le=5.0)
    """Silence that ends an utterance (a final is produced)."""
    speech_pad_s: float = Field(0.2, ge=0.0, le=1.0)
    """Audio kept before and after the detected speech."""
    min_speech_s: float = Field(0.25, ge=0.0, le=2.0)
    """Utterances with less detected speech than this are noise and are dropped."""
    max_segment_s: float = Field(15.0, ge=2.0, le=30.0)
    """Longest utterance: a longer stretch of speech is cut (at its quietest point near the end)."""


class StreamSettings(BaseModel):
    """Live call limits and partial results."""

    max_concurrent_calls: int = Field(32, ge=1)
    """Calls streamed at once; a call beyond this is refused with a fatal error."""
    max_call_duration_s: float = Field(4 * 3600, gt=0)
    """Longest call; audio beyond this ends the call."""
    partial_interval_s: float = Field(1.0, ge=0.2)
    """How often a partial hypothesis is computed while someone speaks (turn them off with partials=false)."""
    partials: bool = True
    """Send partial results."""
    max_frame_s: float = Field(10.0, gt=0)
    """Largest binary frame accepted (seconds of audio); larger frames are refused as bad_audio_frame."""
    max_concurrent_uploads: int = Field(2, ge=1, le=64)
    """Uploaded recordings (POST /v1/calls) transcribed at once. More are kept on disk (DATA_DIR/uploads) and
    wait their turn in order of arrival (status ``queued``), across a restart too. Uploads never take a live
    call's place: they do not count towards max_concurrent_calls, none starts while the live calls are at that
    limit, and the recognizer decodes their windows after live finals and partials. Each one being transcribed
    holds about 0.45 GB at its peak (a 600 s block, and Silero VAD over it), however long the call."""
    max_queued_uploads: int = Field(20, ge=0)
    """Uploads that may wait beyond those being transcribed; one more is refused with 503 and Retry-After (the
    telephony or archive side sends it again later)."""


class RiskSettings(BaseModel):
    """Call risk levels and supervisor alerts."""

    alert_threshold: Literal["中", "高", "紧急"] = "高"
    """The call risk level at which a supervisor alert is raised (and again at each higher level)."""
    webhook_urls: list[str] = []
    """HTTP(S) endpoints that receive every alert as a signed JSON POST (JSON list in the environment)."""
    webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key for the X-Scribe-Signature header of webhook bodies (empty: unsigned)."""
    webhook_timeout_s: float = Field(5.0, gt=0)
    """Timeout of one webhook delivery attempt."""
    webhook_max_attempts: int = Field(21, ge=1, le=100)
    """Delivery attempts per alert and endpoint before it is given up (and logged). With the default backoff, 21
    attempts retry after 1, 2, 4 … 256 s and then every 5 minutes: the last comes about 64 minutes (3,811 s, plus
    the attempts' own time) after the first, so an endpoint that is down for up to an hour (a restart, a
    deployment, a network change) still gets the alert; 8, the old default, gave up after about two minutes."""
    webhook_backoff_s: float = Field(1.0, gt=0)
    """First retry delay; it doubles after every failed attempt up to 5 minutes, then stays there (with 1 s: 1, 2,
    4 … 256 s, then 300 s from the tenth retry on)."""
    relisten: bool = False
    """Hear a live caller's speech again for risk once the call has any (a risk label in the caller's words, or
    the counselor naming suicide or self-harm): the caller's finals since then, and the RELISTEN_BACK_S before,
    packed into windows of up to ``relisten_window_s`` and decoded as recordings are (the long context hears
    telephone audio better than one utterance at a time). What it hears only adds risk to the segments it
    covers, and only labels its words carry (a ``risk`` message with ``relistened: true``, an alert when the
    level rises); the finals stay as sent. Off by default: on this 2-core CPU with the base model it took 4
    streamed calls from 1.40x to 1.85x the offline floor's CPU and caught no high-risk call in real time that the
    live path missed (eval/README.md); where the model has time to spare (a GPU), turn it on."""
    relisten_window_s: float = Field(25.0, ge=5.0, le=30.0)
    """Most caller speech per relistening window; a window is heard once it is this full, at the end of a caller
    turn with at least ``relisten_min_s`` in it, and at the end of the call."""
    relisten_min_s: float = Field(4.0, ge=0.5, le=30.0)
    """Least caller speech heard again at the end of a turn (shorter turns wait for the next)."""
    heard_forms: str = "shipped"
    """How the ASR model hears the lexicon's key words (液化气 as 夜话器, 上吊 as 上掉), matched as those words:
    ``shipped`` for the table learnt with the default model (``service/risk/data/heard_forms.json``), ``off`` for
    none, or the path of a table learnt with the model in use (``service/risk/heard/README.md``)."""

    classifier_dir: Path | None = None
    """A risk classifier directory written by ``python -m service.risk.train`` (default: the shipped
    ``models/risk/``): a hospital that trains one on its own annotated calls, or an A/B run of two models on the same
    saved finals (``python -m eval calls --finals``). Its id is part of the engine version every risk result carries."""

    @field_validator("webhook_urls")
    @classmethod
    def _one_delivery_per_url(cls, v: list[str]) -> list[str]:
        """An endpoint listed twice gets each alert once: deliveries are unique per alert and URL, and a second
        one would fail the alert's whole transaction."""
        return list(dict.fromkeys(v))

    def heard_forms_table(self) -> "bool | Path":
        """``heard_forms`` as :meth:`service.risk.RiskEngine.load` takes it."""
        if self.heard_forms == "shipped":
            return True
        if self.heard_forms == "off":
            return False
        return Path(self.heard_forms)


class WorksheetSettings(BaseModel):
    """Worksheet (工单) drafting."""

    engine: Literal["rules", "llm"] = "rules"
    """rules: the offline CPU engine; llm: a language model, falling back to rules field by field."""
    llm_backend: Literal["openai", "transformers"] = "openai"
    """openai: an OpenAI-compatible HTTP server (vLLM, SGLang, Ollama); transformers: a local model directory."""
    llm_url: str = "http://127.0.0.1:8001/v1"
    """Base URL of the OpenAI-compatible API (…/v1)."""
    llm_model: str = ""
    """Model name sent to the HTTP backend, or the local model directory for the transformers backend."""
    llm_api_key: SecretStr = SecretStr("")
    """Bearer key for the HTTP backend, if it needs one."""
    llm_timeout_s: float = Field(120.0, gt=0)
    """Timeout of one LLM request."""
    llm_max_new_tokens: int = Field(1024, ge=16, le=8192)
    """Most tokens the model may generate for one worksheet."""
    llm_prompt_max_chars: int = Field(24000, ge=1000)
    """Most characters of the prompt (system + user message); a longer call's transcript keeps the opening and
    closing turns, the risk segments and their neighbours and what the rules draft cites, and marks what it leaves
    out. About one token per Chinese character at worst: keep it under the model's context minus llm_max_new_tokens."""
    prompt: str = "worksheet-v1"
    """Prompt template name under prompts/ (versioned files)."""


class Settings(BaseSettings):
    """All settings of the service."""

    model_config = SettingsConfigDict(env_prefix="SCRIBE_", env_nested_delimiter="__", extra="ignore")

    mode: Literal["development", "production"] = "development"
    """production refuses placeholder tokens and an empty token list."""
    tokens: SecretStr = SecretStr("")
    """Comma-separated token:role pairs, e.g. t0k3n:telephony,s3cr3t:supervisor; ``token:role@name`` also names
    the person (recorded as who corrected a worksheet or acknowledged an alert)."""
    shared_counselor_tokens: bool = False
    """Allow, in production mode, counselor tokens that name nobody (a team's or a seat's: such a token reads every
    call). Development mode allows them; production refuses them unless this is set, so that each counselor's token
    opens that counselor's callers only (``token:counselor@c-017``)."""
    data_dir: Path = Path("var")
    """Where the SQLite database and assembled models live."""
    database_url: str | None = None
    """SQLAlchemy URL; default sqlite:///DATA_DIR/scribe.db; postgresql://… for PostgreSQL."""
    log_level: str = "INFO"
    """Python logging level."""
    asr: ASRSettings = ASRSettings()
    vad: VADSettings = VADSettings()
    stream: StreamSettings = StreamSettings()
    risk: RiskSettings = RiskSettings()
    worksheet: WorksheetSettings = WorksheetSettings()

    @field_validator("tokens")
    @classmethod
    def _parse_check(cls, v: SecretStr) -> SecretStr:
        parse_tokens(v.get_secret_value())
        return v

    @model_validator(mode="after")
    def _safe_in_production(self) -> "Settings":
        if self.mode == "production":
            tokens = parse_tokens(self.tokens.get_secret_value())
            if not tokens:
                raise ValueError("SCRIBE_TOKENS is empty: production mode needs at least one token")
            weak = [t for t in tokens if t.lower() in PLACEHOLDER_TOKENS or len(t) < 16]
            if weak:
                raise ValueError("production mode refuses placeholder or short tokens (fewer than 16 characters)")
            shared = [spec for spec in tokens.values() if split_role(spec) == ("counselor", None)]
            if shared and not self.shared_counselor_tokens:
                raise ValueError(f"production mode refuses {len(shared)} counselor token(s) that name nobody: such a "
                                 "token reads every caller's words; name the holder (token:counselor@c-017) or set "
                                 "SCRIBE_SHARED_COUNSELOR_TOKENS=true")
        return self

    @property
    def token_roles(self) -> dict[str, str]:
        """Token → role (``role`` or ``role@name``)."""
        return parse_tokens(self.tokens.get_secret_value())

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'scribe.db').resolve()}"

    @property
    def effective_models_dir(self) -> Path:
        return self.asr.models_dir or (self.data_dir / "models")


def parse_tokens(raw: str) -> dict[str, str]:
    """Parse ``token:role,token:role``; raise ValueError on a malformed pair or an unknown role."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        token, sep, role = pair.rpartition(":")
        if not sep or not token:
            raise ValueError("SCRIBE_TOKENS entries must be token:role or token:role@name")
        role_name, _, name = role.partition("@")
        if role_name not in ROLES:
            raise ValueError(f"unknown role {role_name!r} in SCRIBE_TOKENS (roles: {', '.join(ROLES)})")
        out[token] = role
    return out


def split_role(role: str) -> tuple[str, str | None]:
    """``counselor@c-017`` → (``counselor``, ``c-017``); a bare role has no name."""
    base, _, name = role.partition("@")
    return base, name or None
