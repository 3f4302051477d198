"""The tap caps glibc's malloc arenas unless the operator chose a number (`MALLOC_ARENA_MAX`)."""

from __future__ import annotations

import platform

import pytest

from tap_yandex_tracker.malloc_arenas import limit_malloc_arenas


def test_the_cap_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert platform.libc_ver()[0] == "glibc", "this machine's C library (the test assumes glibc, as CI has)"
    assert limit_malloc_arenas() is True


def test_an_operators_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert limit_malloc_arenas() is False
