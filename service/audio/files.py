"""Recorded calls: decode an uploaded file (WAV, FLAC, MP3, Ogg/Opus … via PyAV/FFmpeg) to 16 kHz PCM.

An upload is checked once, whole, when it arrives (:func:`probe_audio`: decodable to its end, one or two channels,
not truncated, its length) and then decoded again block by block while it is transcribed (:class:`FileAudio`):
nothing but the block in hand is kept in memory, however long the call. :func:`read_audio` decodes a whole file at
once (the command line, tests, the evaluation). Both resample with the same FFmpeg resampler in the same order, so
the 16 kHz samples are the same either way."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TARGET_RATE = 16000
MAX_FILE_S = 6 * 3600
TRUNCATION_SLACK_S = 2.0
"""A file that decodes to this much (and 2 %) less than its header announces is truncated or damaged."""
WAV_UNKNOWN_SIZE = 0x7F000000
"""A WAV data size of 0, or this or more (0xFFFFFFFF, 0x7FFFFFFF …), is a streaming writer's "until the end"."""


class AudioFileError(ValueError):
    """The file is not decodable audio; the message says why."""


class AudioTooLong(AudioFileError):
    """The recording is longer than the limit it was checked against."""


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe_audio` found: the file's own rate, its channels and how many samples decode."""

    format: str
    codec: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - a dependency of faster-whisper
        raise RuntimeError("decoding recordings needs PyAV: pip install av") from e
    return av


def _audio_stream(container):
    streams = container.streams.audio
    if not streams:
        raise AudioFileError("the file has no audio stream")
    stream = streams[0]
    channels = stream.codec_context.channels or len(stream.layout.channels)
    if channels not in (1, 2):
        raise AudioFileError(f"{channels} audio channels: only mono or stereo calls are accepted")
    return stream, channels


def _decode_errors(av) -> tuple[type[BaseException], ...]:
    return (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError)


def _resampled(container, stream, channels: int, sample_rate: int) -> Iterator[np.ndarray]:
    """The stream decoded and resampled to ``sample_rate`` as int16 arrays (n, channels), in order."""
    av = _av()
    resampler = av.AudioResampler(format="s16", layout="mono" if channels == 1 else "stereo", rate=sample_rate)
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            yield out.to_ndarray().reshape(-1, channels)
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1, channels)


def read_audio(path: str | Path, sample_rate: int = TARGET_RATE) -> np.ndarray:
    """Decode to float32 shaped (n, channels) at ``sample_rate``; mono stays mono, stereo stays stereo.

    Files with more than two channels are refused. The whole file is in memory: an upload is read with
    :class:`FileAudio` instead."""
    av = _av()
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream, channels = _audio_stream(container)
            parts: list[np.ndarray] = []
            total = 0
            for a in _resampled(container, stream, channels, sample_rate):
                parts.append(a)
                total += len(a)
                if total > MAX_FILE_S * sample_rate:
                    raise AudioFileError(f"recording longer than {MAX_FILE_S // 3600} hours")
    except AudioFileError:
        raise
    except _decode_errors(av) as e:
        raise AudioFileError(f"not a decodable audio file ({type(e).__name__})") from e
    if not total:
        return np.zeros((0, 1), dtype=np.float32)
    # one float32 array, filled part by part (no int16 copy of the whole file, no second float32 one)
    out = np.empty((total, channels), dtype=np.float32)
    i = 0
    for a in parts:
        np.divide(a, 32768.0, out=out[i : i + len(a)], dtype=np.float32)
        i += len(a)
    return out


def probe_audio(path: str | Path, max_s: float = MAX_FILE_S) -> AudioInfo:
    """Check an uploaded file whole, keeping none of its audio: it opens, has a mono or stereo audio stream,
    decodes to its end, is not truncated (a WAV holds the data its header announces; any file decodes to about
    the length its header gives) and holds some audio, no more than ``max_s`` seconds. Raises AudioFileError,
    whose message says what is wrong."""
    av = _av()
    _check_wav_header(Path(path))
    frames = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream, channels = _audio_stream(container)
            rate = stream.rate or stream.codec_context.sample_rate or 0
            announced = _announced_s(container, stream)
            try:
                for frame in container.decode(stream):
                    frames += frame.samples
                    rate = rate or frame.sample_rate
                    if rate and frames > max_s * rate:
                        raise AudioTooLong(f"recording longer than {max_s:g} s")
            except AudioFileError:
                raise
            except _decode_errors(av) as e:
                if frames:
                    heard = f"after {frames / rate:.1f} s" if rate else "part way"
                    of = f" of the {announced:.1f} s its header announces" if announced else ""
                    raise AudioFileError(
                        f"the file is damaged or truncated: decoding failed {heard}{of} ({type(e).__name__})") from e
                raise
            info = AudioInfo(container.format.name, stream.codec_context.name, rate, channels, frames)
    except AudioFileError:
        raise
    except _decode_errors(av) as e:
        raise AudioFileError(f"not a decodable audio file ({type(e).__name__})") from e
    if not frames or not info.sample_rate:
        raise AudioFileError("the recording holds no audio")
    if announced and announced - info.duration_s > max(TRUNCATION_SLACK_S, 0.02 * announced):
        raise AudioFileError(f"the file is truncated or damaged: its header announces {announced:.1f} s, "
                             f"{info.duration_s:.1f} s decode")
    return info


def _announced_s(container, stream) -> float | None:
    """The length the file's header gives, if it gives one."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _chunk_id(cid: bytes) -> bool:
    return len(cid) == 4 and all(0x20 <= b <= 0x7E for b in cid)


def _check_wav_header(path: Path) -> None:
    """A RIFF/WAVE file whose data chunk size disagrees with the file: more than the file holds (truncated: FFmpeg
    would quietly decode what is there) or less, with audio after it (FFmpeg would stop at the announced size and
    the rest of the call would be lost without a word). Sizes of 0 and 0x7F000000 or more are streaming writers'
    "until the end of the file" and are decoded to the end. Other formats are left to FFmpeg."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return
            pos, byte_rate = 12, 0
            while pos + 8 <= size:
                f.seek(pos)
                cid, n = struct.unpack("<4sI", f.read(8))
                if cid == b"fmt " and n >= 16:
                    byte_rate = struct.unpack("<HHII", f.read(12))[3]
                if cid != b"data":
                    if not _chunk_id(cid):
                        return  # not a chunk list we understand: FFmpeg decides
                    pos += 8 + n + (n & 1)
                    continue
                held = size - (pos + 8)
                if n == 0 or n >= WAV_UNKNOWN_SIZE:
                    return
                secs = (lambda b: f" ({b / byte_rate:.1f} s)") if byte_rate else (lambda b: "")
                if n > held:
                    raise AudioFileError(f"the WAV file is truncated: its header announces {n} bytes of audio"
                                         f"{secs(n)}, the file holds {held}{secs(held)}")
                q = pos + 8 + n + (n & 1)
                while q + 8 <= size:  # what follows the data must be chunks (LIST, id3 …), not more audio
                    f.seek(q)
                    tid, tn = struct.unpack("<4sI", f.read(8))
                    if not _chunk_id(tid) or q + 8 + tn > size:
                        raise AudioFileError(
                            f"the WAV header is wrong: it announces {n} bytes of audio{secs(n)}, and "
                            f"{size - q} more bytes{secs(size - q)} follow that are not WAV chunks")
                    q += 8 + tn + (tn & 1)
                if size - q > 1:
                    raise AudioFileError(f"the WAV header is wrong: {size - q} bytes follow its last chunk")
                return
    except OSError as e:
        raise AudioFileError(f"cannot read the file ({type(e).__name__})") from e
    except struct.error:
        return


class FileAudio:
    """An uploaded recording, checked by :func:`probe_audio`, read block by block at 16 kHz (int16) while it is
    transcribed: only the block in hand is in memory."""

    def __init__(self, path: str | Path, info: AudioInfo, sample_rate: int = TARGET_RATE) -> None:
        self.path = Path(path)
        self.info = info
        self.sample_rate = sample_rate

    @property
    def channels(self) -> int:
        return self.info.channels

    @property
    def duration_s(self) -> float:
        return self.info.duration_s

    def blocks(self, frames: int) -> Iterator[tuple[np.ndarray, bool]]:
        """(int16 block (n, channels), is it the last) of ``frames`` samples each (the last one shorter, never
        empty unless the whole recording is), exactly the samples :func:`read_audio` gives, in order."""
        av = _av()
        try:
            with av.open(str(self.path), metadata_errors="ignore") as container:
                stream, channels = _audio_stream(container)
                if channels != self.channels:
                    raise AudioFileError(f"the file changed: {channels} channels, {self.channels} were checked")
                buf = np.empty((frames, channels), dtype=np.int16)
                n = 0
                for a in _resampled(container, stream, channels, self.sample_rate):
                    while len(a):
                        if n == frames:  # full, and more follows: not the last block
                            yield buf, False
                            buf = np.empty((frames, channels), dtype=np.int16)
                            n = 0
                        k = min(frames - n, len(a))
                        buf[n : n + k] = a[:k]
                        n += k
                        a = a[k:]
        except AudioFileError:
            raise
        except _decode_errors(av) as e:
            raise AudioFileError(f"not a decodable audio file ({type(e).__name__})") from e
        yield buf[:n], True
