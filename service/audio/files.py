"""Recorded calls: decode an uploaded file (WAV, FLAC, MP3, Ogg/Opus … via PyAV/FFmpeg) to 16 kHz PCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TARGET_RATE = 16000
MAX_FILE_S = 6 * 3600


class AudioFileError(ValueError):
    """The file is not decodable audio; the message says why."""


def read_audio(path: str | Path, sample_rate: int = TARGET_RATE) -> np.ndarray:
    """Decode to float32 shaped (n, channels) at ``sample_rate``; mono stays mono, stereo stays stereo.

    Files with more than two channels are refused."""
    try:
        import av
    except ImportError as e:  # pragma: no cover - a dependency of faster-whisper
        raise RuntimeError("decoding recordings needs PyAV: pip install av") from e
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise AudioFileError("the file has no audio stream")
            stream = streams[0]
            channels = stream.codec_context.channels or len(stream.layout.channels)
            if channels not in (1, 2):
                raise AudioFileError(f"{channels} audio channels: only mono or stereo calls are accepted")
            layout = "mono" if channels == 1 else "stereo"
            resampler = av.AudioResampler(format="s16", layout=layout, rate=sample_rate)
            parts: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    a = out.to_ndarray().reshape(-1, channels)
                    parts.append(a)
                    total += len(a)
                    if total > MAX_FILE_S * sample_rate:
                        raise AudioFileError(f"recording longer than {MAX_FILE_S // 3600} hours")
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1, channels))
    except AudioFileError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as e:
        raise AudioFileError(f"not a decodable audio file ({type(e).__name__})") from e
    if not parts:
        return np.zeros((0, 1), dtype=np.float32)
    return (np.concatenate(parts).astype(np.float32) / 32768.0).reshape(-1, channels)
