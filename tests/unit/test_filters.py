from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsreport.render import filters


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "no data"), (512, "512 B"), (1536, "1.5 KiB"), (1.2 * 1024**3, "1.2 GiB")],
)
def test_bytes(value: float | None, text: str) -> None:
    assert filters.bytes_iec(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "no data"), (0.35, "350m"), (1.25, "1.25"), (2.0, "2"), (0, "0m"), (0.0004, "0.40m")],
)
def test_cores(value: float | None, text: str) -> None:
    assert filters.cores(value) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(99.95, 2, "99.95%"), (100.0, 2, "100%"), (99.3056, 3, "99.306%"), (None, 2, "no data")],
)
def test_percent(value: float | None, digits: int, text: str) -> None:
    assert filters.percent(value, digits) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (7500, "2h 5m"), (273600, "3d 4h"), (None, "no data")],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert filters.human_duration(seconds) == text


def test_local_time() -> None:
    instant = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert filters.local_time(instant, "Europe/Berlin") == "2026-07-01 14:00 CEST"
    assert filters.number(1598432) == "1,598,432"
