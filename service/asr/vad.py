"""Streaming voice activity: Silero VAD (the ONNX model faster-whisper ships) run window by window with its
recurrent state kept per channel, and a segmenter that cuts each channel into utterances."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from service.settings import VADSettings

SAMPLE_RATE = 16000
WINDOW = 512  # samples per VAD decision (32 ms at 16 kHz)
CONTEXT = 64  # samples of the previous window the v5/v6 model looks at
CUT_SEARCH_S = 5.0  # a forced cut looks for the quietest window in the last this-many seconds


class VadModel:
    """The shared Silero model; per-channel state lives in :class:`VadState`. ``run`` is thread-safe."""

    def __init__(self) -> None:
        try:
            import onnxruntime
        except ImportError as e:  # pragma: no cover - dependency of faster-whisper
            raise RuntimeError("voice activity detection needs onnxruntime: pip install onnxruntime") from e
        from faster_whisper.utils import get_assets_path

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            f"{get_assets_path()}/silero_vad_v6.onnx", providers=["CPUExecutionProvider"], sess_options=opts
        )

    def run(self, state: "VadState", windows: np.ndarray) -> np.ndarray:
        """Speech probability for each row of ``windows`` (n, 512), advancing ``state``."""
        ctx = np.concatenate([state.context[None, :], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.ascontiguousarray(np.concatenate([ctx, windows], axis=1), dtype=np.float32)
        probs, state.h, state.c = self._session.run(None, {"input": batch, "h": state.h, "c": state.c})
        state.context = windows[-1, -CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(-1)


@dataclass
class VadState:
    h: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 128), dtype=np.float32))
    c: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, 128), dtype=np.float32))
    context: np.ndarray = field(default_factory=lambda: np.zeros(CONTEXT, dtype=np.float32))


@dataclass(frozen=True)
class Utterance:
    """A stretch of one channel's speech: absolute sample positions (16 kHz) and its audio."""

    start: int
    end: int
    audio: np.ndarray
    forced_cut: bool = False


class _Chunks:
    """Audio from ``start`` onwards, kept as a list of chunks (no per-frame reallocation)."""

    def __init__(self) -> None:
        self.start = 0
        self.chunks: list[np.ndarray] = []
        self.size = 0

    @property
    def end(self) -> int:
        return self.start + self.size

    def append(self, x: np.ndarray) -> None:
        if len(x):
            self.chunks.append(x)
            self.size += len(x)

    def slice(self, a: int, b: int) -> np.ndarray:
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        whole = np.concatenate(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks = [whole]
        return whole[a - self.start : b - self.start].copy()

    def drop_before(self, pos: int) -> None:
        pos = min(max(pos, self.start), self.end)
        if pos == self.start:
            return
        whole = np.concatenate(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        rest = whole[pos - self.start :]
        self.chunks = [rest] if len(rest) else []
        self.size = len(rest)
        self.start = pos


class Segmenter:
    """Cuts one channel's 16 kHz audio into utterances with VAD.

    An utterance starts at the first window whose probability reaches ``threshold`` (minus the pad),
    ends after ``min_silence_s`` below ``neg_threshold`` (plus the pad), and is cut at its quietest
    recent point when it reaches ``max_segment_s``. Memory is bounded by ``max_segment_s`` of audio.
    """

    def __init__(self, vad: VadModel, opts: VADSettings) -> None:
        self.vad = vad
        self.opts = opts
        self.state = VadState()
        self.audio = _Chunks()
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0  # samples already judged by the VAD
        self._pad = int(opts.speech_pad_s * SAMPLE_RATE)
        self._min_silence = int(opts.min_silence_s * SAMPLE_RATE)
        self._max_len = int(opts.max_segment_s * SAMPLE_RATE)
        self._min_speech = int(opts.min_speech_s * SAMPLE_RATE)
        self.utt_start: int | None = None
        self._last_speech_end = 0
        self._silence = 0
        self._speech = 0
        self._probs: list[float] = []  # per window of the utterance in progress

    @property
    def in_speech(self) -> bool:
        return self.utt_start is not None

    @property
    def position(self) -> int:
        """Samples received so far (end of the channel's timeline)."""
        return self.audio.end

    @property
    def trailing_silence(self) -> int:
        """Samples of silence at the end of the utterance in progress (0 while someone speaks)."""
        return self._silence if self.utt_start is not None else 0

    @property
    def speech(self) -> int:
        """Samples of the utterance in progress that the VAD judged speech."""
        return self._speech if self.utt_start is not None else 0

    def current(self) -> Utterance | None:
        """The utterance in progress so far (for partial hypotheses)."""
        if self.utt_start is None:
            return None
        return Utterance(self.utt_start, self._pos, self.audio.slice(self.utt_start, self._pos))

    def feed(self, x: np.ndarray) -> list[Utterance]:
        """Add samples; return the utterances that ended."""
        self.audio.append(x)
        buf = np.concatenate([self._pending, x]) if len(self._pending) else x
        n = len(buf) // WINDOW
        self._pending = buf[n * WINDOW :].copy()
        if n == 0:
            return []
        probs = self.vad.run(self.state, buf[: n * WINDOW].reshape(n, WINDOW))
        out: list[Utterance] = []
        for p in probs:
            done = self._step(float(p))
            if done is not None:
                out.append(done)
        if self.utt_start is None:
            self.audio.drop_before(self._pos - self._pad - WINDOW)
        return out

    def flush(self) -> list[Utterance]:
        """End of the channel: the utterance in progress ends where the audio ends."""
        if self.utt_start is None:
            return []
        end = self.audio.end
        utt = self._finish(end, forced=False)
        return [utt] if utt else []

    def _step(self, p: float) -> Utterance | None:
        w0 = self._pos
        self._pos += WINDOW
        o = self.opts
        if self.utt_start is None:
            if p >= o.threshold:
                self.utt_start = max(self.audio.start, w0 - self._pad)
                self._last_speech_end = self._pos
                self._silence = 0
                self._speech = WINDOW
                self._probs = [p]
            return None
        self._probs.append(p)
        if p >= o.threshold:
            self._speech += WINDOW
        if p < o.neg_threshold:
            self._silence += WINDOW
        else:
            self._silence = 0
            self._last_speech_end = self._pos
        if self._silence >= self._min_silence:
            return self._finish(min(self._last_speech_end + self._pad, self._pos), forced=False)
        if self._pos - self.utt_start >= self._max_len:
            return self._forced_cut()
        return None

    def _forced_cut(self) -> Utterance | None:
        n_search = int(CUT_SEARCH_S * SAMPLE_RATE) // WINDOW
        probs = self._probs[-n_search:]
        i = int(np.argmin(probs))
        cut = self._pos - (len(probs) - i - 1) * WINDOW
        utt = self._finish(cut, forced=True, keep_speaking=True)
        return utt

    def _finish(self, end: int, forced: bool, keep_speaking: bool = False) -> Utterance | None:
        start = self.utt_start
        assert start is not None
        enough = self._speech >= self._min_speech
        audio = self.audio.slice(start, end) if enough else None
        if keep_speaking:
            kept = (self._pos - end) // WINDOW
            self._probs = self._probs[len(self._probs) - kept :] if kept else []
            self.utt_start = end
            self._speech = sum(WINDOW for q in self._probs if q >= self.opts.threshold)
            self._silence = 0
            self.audio.drop_before(end)
        else:
            self.utt_start = None
            self._probs = []
            self._speech = 0
            self._silence = 0
            self.audio.drop_before(end - self._pad)
        if audio is None or len(audio) == 0:
            return None
        return Utterance(start, end, audio, forced_cut=forced)
