"""SVG charts: well-formed, drawn from the figures, escaped, and honest when empty."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from opsreport.render import charts
from opsreport.render.filters import bytes_iec, cores

START = datetime(2026, 11, 21, 6, tzinfo=UTC)
END = START + timedelta(days=1)


def parse(svg: str) -> ET.Element:
    # Inline SVG in HTML needs no namespace; a parser does, to tell it is SVG.
    # Our own output, parsed to check it is well-formed.
    svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return ET.fromstring(svg)  # noqa: S314


def count(root: ET.Element, tag: str, cls: str | None = None) -> int:
    return sum(
        1
        for element in root.iter(f"{{http://www.w3.org/2000/svg}}{tag}")
        if cls is None or cls in (element.get("class") or "").split()
    )


def rows() -> list[charts.UsageRow]:
    return [
        charts.UsageRow("shop/api:api", 0.2, 0.35, 0.5, 0.25, None),
        charts.UsageRow("shop/db:db", 0.1, 0.12, 0.3, 1.0, 2.0),
    ]


def test_usage_bars_draw_every_figure_on_one_scale() -> None:
    root = parse(charts.usage_bars("CPU", rows(), cores))
    assert count(root, "rect", "bar-avg") == 2 + 1  # one per row, one in the legend
    assert count(root, "rect", "bar-p95") == 2 + 1
    assert count(root, "line", "mark-request") == 2 + 1
    assert count(root, "line", "mark-limit") == 1 + 1  # api has no limit
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar-avg"]
    widths = [float(e.get("width", 0)) for e in bars[1:]]
    assert widths[0] == pytest.approx(2 * widths[1])  # 200m is twice 100m
    limit_x = [
        float(e.get("x1", 0))
        for e in root.iter("{http://www.w3.org/2000/svg}line")
        if e.get("class") == "mark-limit"
    ][-1]
    assert limit_x == pytest.approx(
        charts.LABEL_WIDTH + (charts.WIDTH - charts.LABEL_WIDTH - 150) / 1.05, abs=0.05
    )


def test_memory_bars_leave_out_p95_and_format_bytes() -> None:
    svg = charts.usage_bars(
        "Memory",
        [charts.UsageRow("a:b", 100 * 2**20, None, 200 * 2**20, None, 256 * 2**20)],
        bytes_iec,
    )
    assert "p95" not in svg
    assert "200.0 MiB / 256.0 MiB" in svg


def test_labels_are_escaped_and_clipped() -> None:
    svg = charts.usage_bars(
        "<b>", [charts.UsageRow("<script>x</script>" + "y" * 50, 1, 1, 1, 1, 1)], cores
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    parse(svg)
    assert "…</text>" in svg


def test_empty_inputs_give_a_placeholder_that_says_why() -> None:
    for svg in (
        charts.usage_bars("CPU", [], cores),
        charts.usage_bars("CPU", [charts.UsageRow("a", None, None, None, None, None)], cores),
        charts.line_chart("Replicas", [], start=START, end=END, fmt=str),
        charts.range_bars("HPA", []),
    ):
        root = parse(svg)
        assert "chart-empty" in (root.get("class") or "")
        assert count(root, "rect", "frame") == 1


def test_line_chart_breaks_at_gaps_and_draws_the_target() -> None:
    hour = timedelta(hours=1)
    series = charts.Series(
        "availability",
        [(START, 100.0), (START + hour, 99.0), (START + 2 * hour, None), (START + 3 * hour, 100.0)],
    )
    root = parse(
        charts.line_chart(
            "Availability", [series], start=START, end=END, fmt=lambda v: f"{v:.1f}%", target=99.9
        )
    )
    assert count(root, "polyline") == 2  # the gap splits the line: a gap is not a zero
    assert count(root, "line", "target") >= 1
    assert "21 Nov 06:00" in ET.tostring(root, encoding="unicode")  # axis in UTC by default


def test_step_chart_holds_each_value_until_the_next_point() -> None:
    series = charts.Series("shop/api", [(START, 2.0), (START + timedelta(hours=6), 6.0)])
    svg = charts.line_chart(
        "Replicas", [series], start=START, end=END, fmt=str, step=True, time_zone="Europe/Berlin"
    )
    points = parse(svg).find(".//{http://www.w3.org/2000/svg}polyline")
    assert points is not None
    coordinates = points.get("points", "").split()
    assert len(coordinates) == 4  # start, hold, step, held to the window's end
    assert coordinates[1].split(",")[1] == coordinates[0].split(",")[1]
    assert coordinates[-1].split(",")[0] == "710"
    assert "21 Nov 07:00" in svg  # ticks in the schedule's zone


def test_range_bars() -> None:
    root = parse(charts.range_bars("HPA", [charts.RangeRow("shop/api", 2, 6, 6)]))
    assert count(root, "circle", "dot-peak") == 2  # the row and the legend


def test_same_figures_same_bytes() -> None:
    assert charts.usage_bars("CPU", rows(), cores) == charts.usage_bars("CPU", rows(), cores)
