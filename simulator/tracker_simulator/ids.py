"""Deterministic identifiers.

Everything the simulator emits must be reproducible for a seed, so ids are derived from a cheap integer
hash rather than from ``os.urandom``. ObjectIds follow MongoDB's layout (4-byte seconds, 5-byte "machine",
3-byte counter) because consumers rely on two real properties: they are 24 hex digits, and within one
issue the changelog ids sort by time (the changelog ``id`` cursor depends on that).
"""

from __future__ import annotations

_MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """SplitMix64 over a few integers: a fast, well-spread, platform-independent hash."""
    acc = 0x9E3779B97F4A7C15
    for value in values:
        acc = (acc ^ (value & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        acc = (acc ^ (acc >> 27)) * 0x94D049BB133111EB & _MASK64
        acc ^= acc >> 31
    return acc


def object_id(ms: int, salt: int, counter: int) -> str:
    """A 24-hex ObjectId; ids with the same ``salt`` sort by ``(ms // 1000, counter)``."""
    return f"{(ms // 1000) & 0xFFFFFFFF:08x}{salt & 0xFFFFFFFFFF:010x}{counter & 0xFFFFFF:06x}"


def issue_id(seed: int, idx: int, created_ms: int) -> str:
    """The issue's ``id``; it never changes, also not when the issue moves to another queue."""
    return object_id(created_ms, mix(seed, idx, 1), idx)


def changelog_salt(seed: int, idx: int) -> int:
    """The constant middle part of every changelog id of one issue (keeps them time-ordered)."""
    return mix(seed, idx, 2)


def comment_id(idx: int, seq: int) -> int:
    """Comment ids are numbers in Tracker; encoding the issue lets ``/comments/{id}`` find it."""
    return (idx + 1) * 100_000 + seq


def split_comment_id(value: int) -> tuple[int, int]:
    """Inverse of :func:`comment_id`: ``(issue index, changelog sequence number)``."""
    return value // 100_000 - 1, value % 100_000
