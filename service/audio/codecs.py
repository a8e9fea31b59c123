"""Telephony audio decoding: PCM16 and G.711 (μ-law, A-law) to float32, channel split, streaming resampling."""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

Encoding = Literal["pcm_s16le", "mulaw", "alaw"]
MODEL_RATE = 16000
BYTES_PER_SAMPLE: dict[str, int] = {"pcm_s16le": 2, "mulaw": 1, "alaw": 1}


class FrameError(ValueError):
    """A binary frame that cannot be decoded (odd length, too large)."""


def _mulaw_table() -> np.ndarray:
    # ITU-T G.711 μ-law expansion to 16-bit linear.
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.float32) / 32768.0


def _alaw_table() -> np.ndarray:
    # ITU-T G.711 A-law expansion to 16-bit linear.
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.float32) / 32768.0


MULAW_TO_FLOAT = _mulaw_table()
ALAW_TO_FLOAT = _alaw_table()


_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.float64) * 32768.0, -32768, 32767).astype(np.int32)


def encode_mulaw(x: np.ndarray) -> bytes:
    """Float32 in [-1, 1] → G.711 μ-law bytes (the classic Sun/CCITT algorithm), for tests and tools."""
    pcm = _to_int16(x) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    pcm = np.minimum(np.abs(pcm), 8159) + 0x21
    seg = np.searchsorted(_SEG_UEND, pcm)
    over = seg >= 8
    seg = np.minimum(seg, 7)
    uval = np.where(over, 0x7F, (seg << 4) | ((pcm >> (seg + 1)) & 0x0F))
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def encode_alaw(x: np.ndarray) -> bytes:
    """Float32 in [-1, 1] → G.711 A-law bytes (the classic Sun/CCITT algorithm), for tests and tools."""
    pcm = _to_int16(x) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_SEG_AEND, pcm)
    over = seg >= 8
    seg = np.minimum(seg, 7)
    aval = (seg << 4) | (np.where(seg < 2, pcm >> 1, pcm >> seg) & 0x0F)
    aval = np.where(over, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def encode_frame(x: np.ndarray, encoding: Encoding) -> bytes:
    """(n, channels) float32 → interleaved bytes in ``encoding`` (the inverse of :func:`decode_frame`)."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if encoding == "pcm_s16le":
        return (np.clip(flat, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    return encode_mulaw(flat) if encoding == "mulaw" else encode_alaw(flat)


def decode_frame(data: bytes, encoding: Encoding, channels: int) -> np.ndarray:
    """Decode one binary frame into float32 samples shaped (n, channels).

    Raises FrameError when the byte count is not a whole number of multi-channel samples.
    """
    width = BYTES_PER_SAMPLE[encoding] * channels
    if len(data) % width:
        raise FrameError(
            f"frame of {len(data)} bytes is not a whole number of {channels}-channel {encoding} samples "
            f"({width} bytes each)"
        )
    if encoding == "pcm_s16le":
        x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    elif encoding == "mulaw":
        x = MULAW_TO_FLOAT[np.frombuffer(data, dtype=np.uint8)]
    else:
        x = ALAW_TO_FLOAT[np.frombuffer(data, dtype=np.uint8)]
    return x.reshape(-1, channels)


class StreamResampler:
    """Stateful resampler of one channel to 16 kHz (soxr, high quality); a pass-through at 16 kHz."""

    def __init__(self, in_rate: int, out_rate: int = MODEL_RATE) -> None:
        self.in_rate = in_rate
        self._stream = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32")

    def process(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return np.ascontiguousarray(x, dtype=np.float32)
        return self._stream.resample_chunk(np.ascontiguousarray(x, dtype=np.float32), last=last)
