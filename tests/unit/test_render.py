"""Rendering: every format from one ReportData; JSON against the published schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from opsreport.model.assessment import assess
from opsreport.model.report import (
    Availability,
    CpuUsage,
    DataGap,
    MemoryUsage,
    Meta,
    Pods,
    ReportData,
    Resources,
    RestartRow,
    Restarts,
    ScheduleRef,
    ScopeData,
    WaitingContainer,
    WindowData,
    WorkloadUsage,
)
from opsreport.render.report import render_documents
from opsreport.schema import report_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json"


def full_report() -> ReportData:
    report = ReportData(
        title="Shop daily",
        schedule=ScheduleRef(namespace="shop", name="daily"),
        window=WindowData(
            start=datetime(2026, 11, 21, 6, tzinfo=UTC),
            end=datetime(2026, 11, 22, 6, tzinfo=UTC),
            time_zone="Europe/Berlin",
        ),
        generated_at=datetime(2026, 11, 22, 6, 5, tzinfo=UTC),
        scope=ScopeData(namespaces=["shop"]),
        availability=Availability(percent=99.5, successful_scrapes=1990, total_scrapes=2000),
        restarts=Restarts(
            total=5,
            by_reason={"OOMKilled": 1, "Error": 4},
            top=[
                RestartRow(
                    namespace="shop", pod="api-1", container="api", restarts=4, last_reason="Error"
                ),
                RestartRow(
                    namespace="shop",
                    pod="db-0",
                    container="db",
                    restarts=1,
                    last_reason="OOMKilled",
                ),
            ],
        ),
        resources=Resources(
            workloads=[
                WorkloadUsage(
                    namespace="shop",
                    kind="Deployment",
                    name="api",
                    container="api",
                    pods=2,
                    cpu=CpuUsage(avg=0.2, p95=0.35, max=0.5, request=0.25, limit=None),
                    memory=MemoryUsage(
                        avg=200 * 2**20, max=480 * 2**20, request=256 * 2**20, limit=512 * 2**20
                    ),
                )
            ]
        ),
        pods=Pods(
            total=3,
            not_ready=1,
            waiting=[
                WaitingContainer(
                    namespace="shop", pod="api-1", container="api", reason="CrashLoopBackOff"
                )
            ],
        ),
        data_gaps=[],
        meta=Meta(prom_queries=13, api_requests=1),
    )
    report.status, report.status_reasons = assess(report)
    return report


def test_status_is_derived_with_reasons() -> None:
    report = full_report()
    assert report.status == "warning"
    assert any("99.5%" in reason for reason in report.status_reasons)
    assert any("OOMKill" in reason for reason in report.status_reasons)
    assert any("CrashLoopBackOff" in reason for reason in report.status_reasons)


def test_markdown_shows_measured_figures() -> None:
    (markdown,) = render_documents(full_report(), "daily", ("markdown",))
    text = markdown.content
    assert "**Availability**: 99.5% (1,990 of 2,000 scrapes of `up` succeeded)" in text
    assert "| shop | api-1 | api | 4 | Error |" in text
    assert "| 200.0 MiB | 480.0 MiB | 256.0 MiB | 512.0 MiB |" in text
    assert "| 200m | 350m | 500m | 250m | none |" in text
    assert "2026-11-21 07:00 CET" in text  # the schedule's zone, with UTC alongside
    assert "Memory peaked at 90% or more of its limit in shop/api:api." in text
    assert "None: every section was measured." in text


def test_missing_data_is_said_never_filled() -> None:
    report = full_report()
    report.availability = Availability()
    report.restarts = Restarts()
    report.data_gaps = [DataGap(section="availability", source="prometheus", reason="down")]
    (markdown,) = render_documents(report, "daily", ("markdown",))
    assert "**Availability**: no data" in markdown.content
    assert "Not measured (see Data gaps)." in markdown.content
    assert "- **availability** (prometheus): down" in markdown.content


def test_html_is_self_contained_and_escaped() -> None:
    report = full_report()
    report.title = "<script>alert(1)</script>"
    (html,) = render_documents(report, "daily", ("html",))
    assert "<script>" not in html.content
    assert "&lt;script&gt;" in html.content
    assert "http://" not in html.content
    assert "https://" not in html.content
    assert html.content.startswith("<!DOCTYPE html>")


def test_json_matches_the_published_schema() -> None:
    (document,) = render_documents(full_report(), "daily", ("json",))
    data = json.loads(document.content)
    assert data["schema"] == "opsreport.dev/report/v1"
    assert data["window"]["start"] == "2026-11-21T06:00:00Z"
    assert data["restarts"]["top"][0]["lastReason"] == "Error"
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))


def test_published_schema_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == report_json_schema(), "run `make schema`"


def test_schema_rejects_a_wrong_document() -> None:
    data = json.loads(render_documents(full_report(), "daily", ("json",))[0].content)
    data["restarts"]["total"] = "five"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_json_schema())


@pytest.mark.parametrize("template", ["daily", "monthly"])
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_every_builtin_template_renders(template: str, fmt: str) -> None:
    (document,) = render_documents(full_report(), template, (fmt,))
    assert "Shop daily" in document.content
    assert "no data" not in document.content.split("Sources")[0] or fmt == "html"
