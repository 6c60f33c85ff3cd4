"""Formatting filters: numbers for people. `None` (not measured) always renders as `NO_DATA`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from opsreport.model.numbers import NO_DATA, percent

__all__ = ["NO_DATA", "percent"]

_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def bytes_iec(value: float | None) -> str:
    if value is None:
        return NO_DATA
    size = float(value)
    for unit in _IEC:
        if abs(size) < 1024 or unit == _IEC[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def cores(value: float | None) -> str:
    """Kubernetes notation: `350m` below one core, `1.25` cores above."""
    if value is None:
        return NO_DATA
    if abs(value) < 1:
        millicores = value * 1000
        return f"{millicores:.0f}m" if millicores >= 1 or value == 0 else f"{millicores:.2f}m"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def ratio_percent(part: float | None, whole: float | None, digits: int = 0) -> str:
    if part is None or not whole:
        return NO_DATA
    return percent(100.0 * part / whole, digits)


def human_duration(seconds: float | None) -> str:
    """`2h 5m`, `3d 4h`, `45s`: the two largest units."""
    if seconds is None:
        return NO_DATA
    remaining = round(seconds)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def number(value: float | None) -> str:
    if value is None:
        return NO_DATA
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def latency(seconds: float | None) -> str:
    """A request duration: `120 ms` below a second, `1.25 s` above."""
    if seconds is None:
        return NO_DATA
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None:
        return NO_DATA
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def trend(current: float | None, previous: float | None, unit: str = "") -> str:
    """An arrow and the change against the previous window: `↑ +3`, `↓ −0.02 pp`, `→ 0`.

    `unit` is appended to the delta; use `pp` for percentages (a change of percentage points).
    """
    if current is None or previous is None:
        return NO_DATA
    delta = current - previous
    if abs(delta) < 1e-9:
        return "→ 0"
    arrow = "↑" if delta > 0 else "↓"
    text = (
        f"{abs(delta):,.3f}".rstrip("0").rstrip(".")
        if not float(delta).is_integer()
        else (f"{abs(int(delta)):,}")
    )
    sign = "+" if delta > 0 else "−"
    return f"{arrow} {sign}{text}{' ' + unit if unit else ''}"


FILTERS = {
    "bytes": bytes_iec,
    "cores": cores,
    "percent": percent,
    "ratio_percent": ratio_percent,
    "duration": human_duration,
    "number": number,
    "local": local_time,
    "trend": trend,
    "latency": latency,
}
