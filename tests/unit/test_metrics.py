"""The operator's metrics: names, bounded labels, per-schedule state, the endpoint, and that the
shipped alert rules and dashboard use only metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from opsreport.metrics import OperatorMetrics, cron_period

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
RULES = REPO / "deploy" / "prometheus" / "rules.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "opsreport-dashboard.json"
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # a Friday
UTC_ZONE = ZoneInfo("UTC")


def body(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "shop",
            "name": name,
            "generation": 1,
            "creationTimestamp": "2026-03-01T00:00:00Z",
        },
        "status": status,
    }


def exported_names(metrics: OperatorMetrics) -> set[str]:
    """Every sample name the registry exports, suffixes (_total, _bucket, …) included."""
    metrics.observe_schedule(
        body(
            "x",
            lastSuccessfulTime="2026-03-06T11:00:00Z",
            conditions=[{"type": "Ready", "status": "True", "reason": "Scheduled"}],
        ),
        schedule="@daily",
        zone=UTC_ZONE,
        suspended=False,
        now=NOW,
    )
    metrics.count_run("shop", "x", "succeeded")
    metrics.observe_phase("collect", 1.0)
    metrics.observe_document("json", 100)
    metrics.observe_query("timeout")
    metrics.observe_api_request("GET", 200)
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def test_a_run_is_counted_by_schedule_and_result() -> None:
    metrics = OperatorMetrics()
    metrics.count_run("shop", "daily", "succeeded")
    metrics.count_run("shop", "daily", "skipped", 3)
    get = metrics.registry.get_sample_value
    labels = {"namespace": "shop", "schedule": "daily"}
    assert get("opsreport_reports_total", {**labels, "result": "succeeded"}) == 1
    assert get("opsreport_reports_total", {**labels, "result": "skipped"}) == 3


def test_queries_and_their_errors() -> None:
    metrics = OperatorMetrics()
    for outcome in (None, None, "timeout", "rejected"):
        metrics.observe_query(outcome)
    get = metrics.registry.get_sample_value
    assert get("opsreport_prometheus_queries_total") == 4
    assert get("opsreport_prometheus_query_errors_total", {"kind": "timeout"}) == 1
    assert get("opsreport_prometheus_query_errors_total", {"kind": "rejected"}) == 1


def test_schedule_state_comes_from_the_object() -> None:
    metrics = OperatorMetrics()
    conditions = [
        {"type": "Ready", "status": "True", "reason": "ReportDelivered"},
        {"type": "Degraded", "status": "True", "reason": "DataGaps"},
    ]
    for name in ("a", "b"):
        metrics.observe_schedule(
            body(name, conditions=conditions, lastSuccessfulTime="2026-03-06T07:00:00Z"),
            schedule="0 7 * * *",
            zone=UTC_ZONE,
            suspended=False,
            now=NOW,
        )
    metrics.observe_schedule(
        body("bad", conditions=[{"type": "Ready", "status": "False", "reason": "InvalidSchedule"}]),
        schedule=None,
        zone=None,
        suspended=False,
        now=NOW,
    )
    get = metrics.registry.get_sample_value
    ready = {"condition": "Ready", "status": "True", "reason": "ReportDelivered"}
    assert get("opsreport_schedules", ready) == 2
    invalid = {"condition": "Ready", "status": "False", "reason": "InvalidSchedule"}
    assert get("opsreport_schedules", invalid) == 1
    labels = {"namespace": "shop", "schedule": "a"}
    seven = datetime(2026, 3, 6, 7, 0, tzinfo=UTC).timestamp()
    assert get("opsreport_last_success_timestamp_seconds", labels) == seven
    assert get("opsreport_schedule_period_seconds", labels) == 86400
    assert (
        get("opsreport_schedule_period_seconds", {"namespace": "shop", "schedule": "bad"}) is None
    )
    created = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    assert get("opsreport_schedule_created_timestamp_seconds", labels) == created


def test_a_delivery_moves_last_success_before_the_next_tick() -> None:
    metrics = OperatorMetrics()
    metrics.delivered("shop", "daily", NOW)
    labels = {"namespace": "shop", "schedule": "daily"}
    assert (
        metrics.registry.get_sample_value("opsreport_last_success_timestamp_seconds", labels)
        == NOW.timestamp()
    )


def test_a_deleted_schedule_leaves_no_series() -> None:
    metrics = OperatorMetrics()
    metrics.observe_schedule(
        body("gone", conditions=[{"type": "Ready", "status": "True", "reason": "Scheduled"}]),
        schedule="@hourly",
        zone=UTC_ZONE,
        suspended=False,
        now=NOW,
    )
    metrics.count_run("shop", "gone", "failed")
    metrics.forget("shop", "gone")
    text = "\n".join(
        str(sample) for family in metrics.registry.collect() for sample in family.samples
    )
    assert "gone" not in text


@pytest.mark.parametrize(
    ("schedule", "days"),
    [
        ("@daily", 1),
        ("0 7 * * 1-5", 3),  # the weekend gap, not the next weekday's
        ("@monthly", 31),
        ("*/15 * * * *", 15 / 1440),
    ],
)
def test_the_period_is_the_longest_gap(schedule: str, days: float) -> None:
    period = cron_period(schedule, UTC_ZONE, NOW)
    assert period == pytest.approx(timedelta(days=days).total_seconds())


def test_a_suspended_schedule_has_no_period() -> None:
    metrics = OperatorMetrics()
    metrics.observe_schedule(
        body("paused"), schedule="@daily", zone=UTC_ZONE, suspended=True, now=NOW
    )
    labels = {"namespace": "shop", "schedule": "paused"}
    assert metrics.registry.get_sample_value("opsreport_schedule_period_seconds", labels) is None


def test_labels_are_bounded() -> None:
    """No label may carry a window, a time or a message: only these label names exist."""
    metrics = OperatorMetrics()
    exported_names(metrics)
    allowed = {
        "namespace", "schedule", "result", "phase", "format", "kind", "method", "code",
        "condition", "status", "reason", "version", "le",
    }  # fmt: skip
    for family in metrics.registry.collect():
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (sample.name, sample.labels)


def test_the_endpoint_serves_the_registry() -> None:
    metrics = OperatorMetrics()
    metrics.count_run("shop", "daily", "degraded")
    port = metrics.serve(0, addr="127.0.0.1")
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        metrics.close()
    assert (
        'opsreport_reports_total{namespace="shop",result="degraded",schedule="daily"} 1.0' in page
    )
    assert "opsreport_build_info" in page
    assert "python_gc" not in page  # our registry only, not the process-wide default


def _promql_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers starting `opsreport_`)."""
    return set(re.findall(r"\b(opsreport_[a-z_]+)\b", expression))


def test_every_metric_in_the_rules_and_dashboard_exists() -> None:
    names = exported_names(OperatorMetrics())
    used: set[str] = set()
    for path in (ALERTS, RULES):
        for doc in yaml.safe_load_all(path.read_text()):
            groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
            for group in groups:
                for rule in group["rules"]:
                    used |= _promql_names(rule["expr"])
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used |= _promql_names(target["expr"])
    assert used, "the rules and dashboard query our metrics"
    assert used <= names, sorted(used - names)


def test_the_prometheus_rule_and_the_plain_rules_agree() -> None:
    (rule,) = list(yaml.safe_load_all(ALERTS.read_text()))
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_the_no_success_alert_fires_after_two_periods(tmp_path: Path) -> None:
    """promtool's rule unit test: an hourly schedule whose last success stops moving."""
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'opsreport_schedule_period_seconds{namespace="shop",'
                        'schedule="hourly",job="opsreport"}',
                        "values": "3600x300",
                    },
                    {
                        # Last success at t=0 and never again.
                        "series": 'opsreport_last_success_timestamp_seconds{namespace="shop",'
                        'schedule="hourly",job="opsreport"}',
                        "values": "0x300",
                    },
                    {
                        # A schedule that never succeeded, created at t=0.
                        "series": 'opsreport_schedule_created_timestamp_seconds{namespace="shop",'
                        'schedule="new",job="opsreport"}',
                        "values": "0x300",
                    },
                    {
                        "series": 'opsreport_schedule_period_seconds{namespace="shop",'
                        'schedule="new",job="opsreport"}',
                        "values": "3600x300",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "100m",
                        "alertname": "OpsreportScheduleNoSuccess",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "140m",
                        "alertname": "OpsreportScheduleNoSuccess",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "namespace": "shop",
                                    "schedule": schedule,
                                },
                                "exp_annotations": {
                                    "summary": f"ReportSchedule shop/{schedule} has delivered no "
                                    "report for two periods",
                                    "description": "See the schedule's Ready condition and "
                                    f"Events: kubectl describe rsched -n shop {schedule}",
                                },
                            }
                            for schedule in ("hourly", "new")
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "tests.yaml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        ["promtool", "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
