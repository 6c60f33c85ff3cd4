"""Inline SVG charts: pure functions from figures to SVG text, for the HTML report.

No JavaScript and no external resources, so a chart draws from a ConfigMap dump opened as a file.
Colours come from CSS classes that the report's stylesheet defines for light and dark mode and
for print. Coordinates are rounded to one decimal, so the same figures give the same bytes.
Every label is escaped; a chart with nothing to draw says why instead of drawing empty axes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

WIDTH = 720
LABEL_WIDTH = 200
ROW_HEIGHT = 28
PLOT_HEIGHT = 180
MAX_LABEL = 30

Formatter = Callable[[float], str]


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _clip(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _svg(kind: str, title: str, height: float, body: list[str], description: str = "") -> str:
    desc = f"<desc>{escape(description)}</desc>" if description else ""
    return (
        f'<svg class="chart chart-{kind}" role="img"'
        f' viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" height="{_n(height)}">'
        f"<title>{escape(title)}</title>{desc}" + "".join(body) + "</svg>"
    )


def placeholder(title: str, message: str) -> str:
    """A framed note where a chart would be: what is missing and why."""
    return _svg(
        "empty",
        title,
        64,
        [
            f'<rect class="frame" x="0.5" y="0.5" width="{WIDTH - 1}" height="63" rx="4"/>',
            f'<text class="heading" x="12" y="24">{escape(title)}</text>',
            f'<text class="note" x="12" y="46">{escape(message)}</text>',
        ],
        message,
    )


@dataclass(frozen=True)
class UsageRow:
    """One container's usage against its request and limit, in one unit (cores or bytes)."""

    label: str
    avg: float | None
    p95: float | None
    peak: float | None
    request: float | None
    limit: float | None


def usage_bars(title: str, rows: Sequence[UsageRow], fmt: Formatter) -> str:
    """Horizontal bars of average and p95 usage, a tick at the peak, and the request (dashed)
    and limit (solid) as vertical marks, one row per container on a shared scale."""
    values = [
        v
        for row in rows
        for v in (row.avg, row.p95, row.peak, row.request, row.limit)
        if v is not None
    ]
    if not rows or not values or max(values) <= 0:
        return placeholder(title, "No usage was measured for these containers.")
    scale_max = max(values) * 1.05
    plot = WIDTH - LABEL_WIDTH - 150
    legend = [
        ("bar-avg", "avg"),
        ("bar-p95", "p95"),
        ("mark-peak", "peak"),
        ("mark-request", "request"),
        ("mark-limit", "limit"),
    ]
    if all(row.p95 is None for row in rows):
        legend.remove(("bar-p95", "p95"))
    body = [
        f'<text class="heading" x="0" y="16">{escape(title)}</text>',
        _legend(LABEL_WIDTH, 36, legend),
    ]

    def x(value: float) -> str:
        return _n(LABEL_WIDTH + plot * value / scale_max)

    top = 46
    for index, row in enumerate(rows):
        y = top + index * ROW_HEIGHT
        mid = y + ROW_HEIGHT / 2
        body.extend(_row_frame(_row_tooltip(row, fmt), row.label, mid, plot))
        if row.p95 is not None:
            body.append(
                f'<rect class="bar-p95" x="{LABEL_WIDTH}" y="{_n(y + 6)}"'
                f' width="{_n(float(x(row.p95)) - LABEL_WIDTH)}" height="{ROW_HEIGHT - 12}"/>'
            )
        if row.avg is not None:
            body.append(
                f'<rect class="bar-avg" x="{LABEL_WIDTH}" y="{_n(y + 9)}"'
                f' width="{_n(float(x(row.avg)) - LABEL_WIDTH)}" height="{ROW_HEIGHT - 18}"/>'
            )
        for value, cls in (
            (row.peak, "mark-peak"),
            (row.request, "mark-request"),
            (row.limit, "mark-limit"),
        ):
            if value is not None:
                body.append(
                    f'<line class="{cls}" x1="{x(value)}" y1="{_n(y + 3)}" x2="{x(value)}"'
                    f' y2="{_n(y + ROW_HEIGHT - 3)}"/>'
                )
        summary = f"{fmt(row.peak) if row.peak is not None else '–'}"
        bound = row.limit if row.limit is not None else row.request
        if bound:
            summary += f" / {fmt(bound)}"
        body.append(
            f'<text class="value" x="{WIDTH - 4}" y="{_n(mid + 4)}"'
            f' text-anchor="end">{escape(summary)}</text></g>'
        )
    height = top + len(rows) * ROW_HEIGHT + 4
    return _svg("usage", title, height, body, "Peak / limit (or request) at the right.")


def _row_tooltip(row: UsageRow, fmt: Formatter) -> str:
    # Usage not measured is left out; a request or limit the container lacks says "none".
    usage = [
        f"{name} {fmt(value)}"
        for name, value in (("avg", row.avg), ("p95", row.p95), ("peak", row.peak))
        if value is not None
    ]
    bounds = [
        f"{name} {fmt(value) if value is not None else 'none'}"
        for name, value in (("request", row.request), ("limit", row.limit))
    ]
    return f"{row.label}: {', '.join([*usage, *bounds])}"


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> str:
    parts = []
    for cls, label in items:
        if cls.startswith("bar"):
            parts.append(
                f'<rect class="{cls}" x="{_n(x)}" y="{_n(y - 9)}" width="12" height="10"/>'
            )
        elif cls.startswith("dot"):
            parts.append(f'<circle class="{cls}" cx="{_n(x + 6)}" cy="{_n(y - 4)}" r="5"/>')
        else:
            parts.append(
                f'<line class="{cls}" x1="{_n(x + 6)}" y1="{_n(y - 10)}" x2="{_n(x + 6)}"'
                f' y2="{_n(y + 2)}"/>'
            )
        parts.append(f'<text class="legend" x="{_n(x + 16)}" y="{_n(y)}">{escape(label)}</text>')
        x += 22 + 7 * len(label)
    return '<g class="legend">' + "".join(parts) + "</g>"


@dataclass(frozen=True)
class RangeRow:
    """An autoscaler's bounds and the highest replica count it reached."""

    label: str
    low: int | None
    high: int | None
    peak: int | None


def range_bars(title: str, rows: Sequence[RangeRow], note: str = "") -> str:
    """One track per autoscaler from its minimum to its maximum replicas, a dot at the peak."""
    highs = [v for row in rows for v in (row.high, row.peak) if v is not None]
    if not rows or not highs:
        return placeholder(title, "No autoscaler bounds were measured.")
    scale_max = max(highs) * 1.05 or 1
    plot = WIDTH - LABEL_WIDTH - 150
    top = 46
    body = [
        f'<text class="heading" x="0" y="16">{escape(title)}</text>',
        _legend(LABEL_WIDTH, 36, [("bar-avg", "min–max"), ("dot-peak", "peak")]),
    ]

    def x(value: float) -> str:
        return _n(LABEL_WIDTH + plot * value / scale_max)

    for index, row in enumerate(rows):
        y = top + index * ROW_HEIGHT
        mid = y + ROW_HEIGHT / 2
        body.extend(_row_frame(row.label, row.label, mid, plot))
        if row.low is not None and row.high is not None:
            body.append(
                f'<rect class="bar-avg" x="{x(row.low)}" y="{_n(y + 9)}"'
                f' width="{_n(max(float(x(row.high)) - float(x(row.low)), 2))}"'
                f' height="{ROW_HEIGHT - 18}"/>'
            )
        if row.peak is not None:
            body.append(f'<circle class="dot-peak" cx="{x(row.peak)}" cy="{_n(mid)}" r="5"/>')
        text = f"peak {row.peak if row.peak is not None else '–'} of {row.high or '–'}"
        body.append(
            f'<text class="value" x="{WIDTH - 4}" y="{_n(mid + 4)}"'
            f' text-anchor="end">{escape(text)}</text></g>'
        )
    height = top + len(rows) * ROW_HEIGHT + (22 if note else 4)
    if note:
        body.append(f'<text class="note" x="0" y="{_n(height - 6)}">{escape(note)}</text>')
    return _svg("range", title, height, body, note)


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float | None]]
    colour: int | None = None  # line-0..3; None: by position
    dashed: bool = False  # a second figure of the same thing (desired next to current)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    fmt: Formatter,
    time_zone: str = "UTC",
    target: float | None = None,
    target_label: str = "target",
    step: bool = False,
    ceiling: float | None = None,
) -> str:
    """Lines over the window on shared axes; `None` breaks a line (a gap is not a zero); `step`
    draws a value as held until the next point (replica counts); `target` is a dashed line."""
    values = [v for s in series for _, v in s.points if v is not None]
    if not values or end <= start:
        return placeholder(title, "No series collected for this window.")
    low, high = min(values), max(values)
    if target is not None:
        low, high = min(low, target), max(high, target)
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    if ceiling is not None:  # no axis past what the figure can reach (100%)
        high = max(min(high, ceiling), max(values))
    left, right, top, bottom = 70.0, WIDTH - 10.0, 28.0, 28.0 + PLOT_HEIGHT
    span = (end - start).total_seconds()

    def px(at: datetime) -> float:
        return left + (right - left) * (at - start).total_seconds() / span

    def py(value: float) -> float:
        return bottom - (bottom - top) * (value - low) / (high - low)

    body = [f'<text class="heading" x="0" y="16">{escape(title)}</text>']
    for i in range(4):
        value = low + (high - low) * i / 3
        body.append(
            f'<line class="grid" x1="{_n(left)}" y1="{_n(py(value))}" x2="{_n(right)}"'
            f' y2="{_n(py(value))}"/><text class="axis" x="{_n(left - 6)}" y="{_n(py(value) + 4)}"'
            f' text-anchor="end">{escape(fmt(value))}</text>'
        )
    zone = ZoneInfo(time_zone)
    for i in range(5):
        at = start + (end - start) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        body.append(
            f'<text class="axis" x="{_n(px(at))}" y="{_n(bottom + 16)}" text-anchor="{anchor}">'
            f"{escape(at.astimezone(zone).strftime('%d %b %H:%M'))}</text>"
        )
    if target is not None:
        body.append(
            f'<line class="target" x1="{_n(left)}" y1="{_n(py(target))}" x2="{_n(right)}"'
            f' y2="{_n(py(target))}"><title>{escape(target_label)} {escape(fmt(target))}</title>'
            "</line>"
        )
    for index, s in enumerate(series):
        cls = _line_class(s, index)
        for segment in _segments(s.points, step, end):
            points = " ".join(f"{_n(px(at))},{_n(py(v))}" for at, v in segment)
            body.append(
                f'<polyline class="{cls}" points="{points}">'
                f"<title>{escape(s.name)}</title></polyline>"
            )
    legend_lines = 0
    if len(series) > 1 or target is not None:
        items = [(_line_class(s, i), s.name) for i, s in enumerate(series)]
        if target is not None:
            items.append(("target", target_label))
        legend, legend_lines = _line_legend(left, bottom + 34, items)
        body.append(legend)
    height = bottom + (24 + 20 * legend_lines if legend_lines else 24)
    return _svg("line", title, height, body)


def _line_class(series: Series, index: int) -> str:
    colour = series.colour if series.colour is not None else index
    return f"line line-{colour % 4}" + (" dashed" if series.dashed else "")


def _segments(
    points: Sequence[tuple[datetime, float | None]], step: bool, end: datetime
) -> list[list[tuple[datetime, float]]]:
    segments: list[list[tuple[datetime, float]]] = []
    current: list[tuple[datetime, float]] = []
    for at, value in sorted(points, key=lambda p: p[0]):
        if value is None:
            if current:
                if step:  # the last value held until the gap began
                    current.append((at, current[-1][1]))
                segments.append(current)
            current = []
            continue
        if step and current:
            current.append((at, current[-1][1]))
        current.append((at, value))
    if current:
        if step:
            current.append((end, current[-1][1]))
        segments.append(current)
    # A single point draws as a short flat stroke, so it is still visible.
    return [s if len(s) > 1 else [s[0], s[0]] for s in segments]


def _line_legend(x: float, y: float, items: list[tuple[str, str]]) -> tuple[str, int]:
    """The legend, wrapped to the chart's width; returns it and its number of lines."""
    parts = []
    left, lines = x, 1
    for cls, label in items:
        width = 34 + 7 * len(label)
        if x > left and x + width > WIDTH:
            x, y, lines = left, y + 20, lines + 1
        parts.append(
            f'<line class="{cls}" x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}"'
            f' y2="{_n(y - 4)}"/>'
            f'<text class="legend" x="{_n(x + 24)}" y="{_n(y)}">{escape(label)}</text>'
        )
        x += width
    return '<g class="legend">' + "".join(parts) + "</g>", lines


def _row_frame(tooltip: str, label: str, mid: float, plot: float) -> list[str]:
    """A bar row's opening group, its label and its track, shared by the bar charts."""
    return [
        f'<g class="row"><title>{escape(tooltip)}</title>',
        f'<text class="label" x="{LABEL_WIDTH - 8}" y="{_n(mid + 4)}"'
        f' text-anchor="end">{escape(_clip(label))}</text>',
        f'<line class="track" x1="{LABEL_WIDTH}" y1="{_n(mid)}" x2="{LABEL_WIDTH + plot}"'
        f' y2="{_n(mid)}"/>',
    ]
