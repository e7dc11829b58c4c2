"""Which stretches of a video were watched: one bit per 10-second bucket.

A bucket counts as watched when its middle lies inside a credited segment, so a segment
credits exactly the buckets it mostly spans, and watching a stretch twice sets the same bits.
"""

from __future__ import annotations

import math

BUCKET_SECONDS = 10


def bucket_count(duration_seconds: int) -> int:
    return max(1, math.ceil(duration_seconds / BUCKET_SECONDS))


def _middle(bucket: int, duration_seconds: int) -> float:
    start = bucket * BUCKET_SECONDS
    end = min(start + BUCKET_SECONDS, duration_seconds)
    return (start + end) / 2


def cover(bitmap: bytes, start: float, end: float, duration_seconds: int) -> bytes:
    """``bitmap`` with the buckets whose middle lies in ``[start, end)`` set."""
    buckets = bucket_count(duration_seconds)
    bits = bytearray(bitmap.ljust(math.ceil(buckets / 8), b"\0"))
    if end <= start:
        return bytes(bits)
    first = max(0, int((start - BUCKET_SECONDS / 2) // BUCKET_SECONDS))
    for bucket in range(first, buckets):
        middle = _middle(bucket, duration_seconds)
        if middle >= end:
            break
        if middle >= start:
            bits[bucket // 8] |= 1 << (bucket % 8)
    return bytes(bits)


def covered(bitmap: bytes) -> int:
    return sum(bin(byte).count("1") for byte in bitmap)
