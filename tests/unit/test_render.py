"""Rendering: every format from one ReportData; JSON against the published schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from opsreport.collect import judge, series
from opsreport.model.figures import HEADLINES
from opsreport.model.report import Availability, DataGap, ReportData, RestartRow, Restarts
from opsreport.render.context import error_budgets, key_metrics, template_context
from opsreport.render.documents import render_documents
from opsreport.scheduling import Window
from opsreport.schema import report_json_schema
from tests.golden.scenario import full_report, sparse_report

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json"
TEMPLATES = ("daily", "monthly")
TEXT_FORMATS = ("markdown", "html")


def markdown(report: ReportData, template: str = "daily", top_n: int = 10) -> str:
    return render_documents(report, template, ("markdown",), top_n=top_n)[0].content


def test_status_and_reasons_head_the_report() -> None:
    report = full_report()
    assert report.status_reasons
    text = markdown(report)
    icon, label = {
        "ok": ("✅", "Operational"),
        "warning": ("⚠️", "Degraded"),
        "critical": ("❌", "Objectives missed"),
    }[report.status]
    assert f"**Status**: {icon} {label}" in text
    for reason in report.status_reasons:
        assert f"- {reason}" in text


def test_markdown_shows_measured_figures() -> None:
    text = markdown(full_report())
    assert "**Availability**: 99.5% (1,990 of 2,000 scrapes of `up` succeeded)" in text
    assert "| shop | api-7d9f-x2 | api | 4 | Error (exit 1) |" in text
    assert "| 200.0 MiB | 480.0 MiB | 256.0 MiB | 512.0 MiB | 94% |" in text
    assert "| 200m | 350m | 500m | 250m | none | 140% | — |" in text
    assert "| 10m | 20m | 50m | 50m | 100m | 40% | 12.5% |" in text
    assert "- **Latency**: p50 42 ms · p95 310 ms · p99 1.20 s" in text
    assert (
        "| shop/api | 2 | 6 | 4 | 6 (at max) | 2h 5m | 10m | 6 / 6 | yes (TooManyReplicas) |"
        in text
    )
    assert "| KubePodCrashLooping | warning | shop |" in text
    assert "| Orders | 8,412 | >= 8,000 | ✅ | ↑ +422 |" in text
    assert "None: every section was measured." in text


def test_times_are_in_the_schedules_zone_with_utc_alongside() -> None:
    text = markdown(full_report())
    assert (
        "**Period**: 2026-11-21 07:00 CET – 2026-11-22 07:00 CET"
        " (1d; UTC 2026-11-21 06:00 – 2026-11-22 06:00)"
    ) in text
    assert "| 2026-11-21 21:00 CET | 2026-11-21 21:30 CET | 30m | shop/api |" in text


def test_key_metrics_take_targets_only_from_objectives_and_thresholds() -> None:
    rows = {row.name: row for row in key_metrics(full_report())}
    assert rows["Availability"].target == "≥ 99.9%"
    assert rows["Availability"].status == "critical"  # the objective was missed
    assert rows["Availability"].trend == "↓ −0.45 pp"
    assert rows["Latency p95"].target == "≤ 250 ms"
    assert rows["Latency p95"].trend == "↑ +90 ms"
    assert rows["Container restarts"].target is None
    assert rows["Container restarts"].trend == "↑ +3"
    assert rows["Alerts fired"].target is None
    sparse = {row.name: row for row in key_metrics(sparse_report())}
    assert sparse["Availability"].actual == "no data"
    assert sparse["Availability"].status is None
    assert sparse["Sections not measured"].status == "warning"


def test_every_trend_the_judge_makes_reaches_its_key_metric_row() -> None:
    # The judge's own trends over every headline figure: a name the render layer looks up
    # differently from the collector leaves its row without a trend and fails here.
    report = full_report()
    report.objectives = []
    report.trends = judge.trends(
        {figure.name: 2.0 for figure in HEADLINES}, {figure.name: 1.0 for figure in HEADLINES}
    )
    rows = {row.name: row.trend for row in key_metrics(report)}
    assert rows["Availability"] == "↑ +1 pp"
    assert rows["Container restarts"] == "↑ +1"
    assert rows["Incidents"] == "↑ +1"
    assert rows["Alerts fired"] == "↑ +1"
    assert rows["Error rate"] == "↑ +100 pp"  # a ratio of 2 against 1: 100 points
    assert rows["Latency p95"] == "↑ +1,000 ms"
    assert rows["Autoscaler rescales"] == "↑ +1"


def test_error_budget_is_the_share_of_the_allowed_shortfall_used() -> None:
    budgets = {b.name: b for b in error_budgets(full_report())}
    assert budgets["Availability"].consumed_percent == pytest.approx(500)  # 0.5% of 0.1%
    assert budgets["Error rate"].consumed_percent == pytest.approx(30)  # 0.15 of 0.5
    assert "Latency p95" not in budgets  # a limit, not a budget


def test_missing_data_is_said_never_filled() -> None:
    report = full_report()
    report.availability = Availability()
    report.restarts = Restarts()
    report.data_gaps = [DataGap(section="availability", source="prometheus", reason="down")]
    text = markdown(report)
    assert "**Availability**: no data" in text
    assert "Not measured (see Data gaps)." in text
    assert "- **availability** (prometheus): down" in text


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_absent_section_says_so(template: str) -> None:
    text = markdown(sparse_report(), template)
    for heading in ("Nodes", "Workloads", "Warning events", "Scaling timeline", "Rollouts"):
        section = text.split(f"### {heading}\n", 1)[1].split("##", 1)[0]
        assert "Not measured (see Data gaps)." in section, heading
    assert "Not configured: `spec.traffic`" in text
    assert "None defined (`spec.kpis`)." in text
    assert "None: no rule found anything to change" in text
    # A figure not measured is never shown as a zero.
    assert "| Availability | ≥ 99.9% | no data | — |" in text
    assert "| Container restarts | — | no data | — |" in text


def test_monthly_adds_error_budgets_and_a_row_per_week() -> None:
    text = markdown(full_report(), "monthly")
    assert "## Weeks and error budgets" in text
    assert "| Availability | ≥ 99.9% | 99.5% | 500% | ❌ |" in text
    assert (
        "| 2026-W47 (partial) | 2026-11-21 07:00 CET | 2026-11-22 07:00 CET | 99.5% | 5 | 1 | 30m"
        " | 2 | 1,250,000 | 0.15% | 310 ms |"
    ) in text
    assert "## Weeks and error budgets" not in markdown(full_report(), "daily")
    sparse = markdown(sparse_report(), "monthly")
    assert "No objectives defined" in sparse
    # Nothing measured: every figure says so, with the reason, and no number is filled in.
    assert "| 2026-W47 (partial) |" in sparse
    assert sparse.count("| not available") == 5
    assert "- restarts: not measured (see Data gaps)" in sparse


def test_weeks_split_at_monday_midnight_in_the_schedules_zone() -> None:
    # Sunday 12:00 UTC to Tuesday 12:00 UTC; Monday 00:00 in Berlin is Sunday 23:00 UTC.
    start = datetime(2026, 11, 22, 12, tzinfo=UTC)
    spans = series.week_spans(Window(start, start + timedelta(days=2)), "Europe/Berlin")
    assert [(s.start, s.end, s.iso_week, s.partial) for s in spans] == [
        (start, datetime(2026, 11, 22, 23, tzinfo=UTC), 47, True),
        (datetime(2026, 11, 22, 23, tzinfo=UTC), start + timedelta(days=2), 48, True),
    ]
    # A whole ISO week in its zone is one week, not partial.
    monday = datetime(2026, 11, 22, 23, tzinfo=UTC)
    [week] = series.week_spans(Window(monday, monday + timedelta(days=7)), "Europe/Berlin")
    assert (week.start, week.end, week.partial) == (monday, monday + timedelta(days=7), False)


def test_tables_stop_at_top_n_and_say_how_many_more() -> None:
    report = full_report()
    report.restarts.top = [
        RestartRow(namespace="shop", pod=f"job-{i}", container="c", restarts=50 - i)
        for i in range(45)
    ]
    text = markdown(report, top_n=3)
    assert "| shop | job-2 | c | 48 |" in text
    assert "job-3 |" not in text
    assert "…and 42 more." in text


def test_recommendations_are_numbered_with_their_evidence() -> None:
    text = markdown(full_report())
    section = text.split("## Recommendations\n", 1)[1].split("\n## ", 1)[0]
    assert section.startswith("\n1. **High** · ")
    assert "Raise maxReplicas above 6" in section
    assert "stayed there for 2h 5m" in section


def test_summary_is_built_from_the_data() -> None:
    context = template_context(full_report(), template="daily", fmt="markdown", top_n=10)
    summary = " ".join(context["summary"])
    assert "2 of 3 objectives missed (Availability, Latency p95)." in summary
    assert "1 incident; the longest: shop/api down for 30m." in summary
    sparse = " ".join(
        template_context(sparse_report(), template="daily", fmt="markdown", top_n=10)["summary"]
    )
    assert "Availability was not measured" in sparse
    assert "objective" not in sparse


def test_markdown_has_no_runs_of_blank_lines() -> None:
    for report in (full_report(), sparse_report()):
        for template in TEMPLATES:
            assert "\n\n\n" not in markdown(report, template)


def test_html_is_self_contained_and_escaped() -> None:
    report = full_report()
    report.title = "<script>alert(1)</script>"
    (html,) = render_documents(report, "daily", ("html",))
    assert "<script" not in html.content
    assert "&lt;script&gt;" in html.content
    for forbidden in ("http://", "https://", "//cdn", "<link", "<img", "@import", "url("):
        assert forbidden not in html.content
    assert html.content.startswith("<!DOCTYPE html>")
    assert "@media print" in html.content
    assert "prefers-color-scheme: dark" in html.content


def test_html_inlines_every_chart() -> None:
    (html,) = render_documents(full_report(), "daily", ("html",))
    assert html.content.count('<svg class="chart') == 5
    # Availability, latency and replicas are lines of the collected series.
    assert html.content.count('class="chart chart-line"') == 3
    assert 'class="line line-0 dashed"' in html.content  # desired replicas next to current
    (sparse,) = render_documents(sparse_report(), "daily", ("html",))
    assert "No series collected" in sparse.content or "Not measured" in sparse.content


def test_json_matches_the_published_schema() -> None:
    (document,) = render_documents(full_report(), "daily", ("json",))
    data = json.loads(document.content)
    assert data["schema"] == "opsreport.dev/report/v1"
    assert data["window"]["start"] == "2026-11-21T06:00:00Z"
    assert data["restarts"]["top"][0]["lastReason"] == "Error"
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))


def test_json_carries_every_section() -> None:
    (document,) = render_documents(full_report(), "daily", ("json",))
    data = json.loads(document.content)
    sections = {field.alias or field_name for field_name, field in ReportData.model_fields.items()}
    assert sections <= set(data)
    assert data["scaling"]["hpas"][0]["secondsAtMax"] == 7500
    assert data["alerts"][0]["name"] == "KubePodCrashLooping"


def test_published_schema_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == report_json_schema(), "run `make schema`"


def test_schema_rejects_a_wrong_document() -> None:
    data = json.loads(render_documents(full_report(), "daily", ("json",))[0].content)
    data["restarts"]["total"] = "five"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_json_schema())


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_builtin_template_renders(template: str, fmt: str) -> None:
    (document,) = render_documents(full_report(), template, (fmt,))
    assert "Shop daily" in document.content
    for heading in (
        "Executive summary",
        "Key metrics",
        "Infrastructure health",
        "Resource utilization",
        "Application performance",
        "Scaling activity",
        "Alerts and incidents",
        "KPIs",
        "Recommendations",
        "Data gaps",
    ):
        assert heading in document.content, heading


def test_json_of_every_scenario_matches_the_models_schema() -> None:
    for report in (full_report(), sparse_report()):
        (document,) = render_documents(report, "daily", ("json",))
        jsonschema.validate(json.loads(document.content), report_json_schema())
