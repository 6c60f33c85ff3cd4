"""The operator as a process against the local stack: emulated API, real Prometheus, ConfigMaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from opsreport.scheduling import parse_rfc3339
from tests.support.prometheus import prometheus_available
from tests.support.scenario import Scenario
from tests.support.stack import GROUP_VERSION, LocalStack, wait_for

pytestmark = pytest.mark.e2e
SCOPE = ["payments", "shop"]
SPEC: dict[str, Any] = {
    "schedule": "@daily",
    "window": {"duration": "24h", "settleSeconds": 0},
    "formats": ["markdown", "json"],
    "scope": {"namespaces": SCOPE},
}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    # History up to this minute and 30 minutes beyond, so reports "now" are fully covered.
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    return Scenario.demo(end=end, extend_seconds=1800)


@pytest.fixture(scope="module")
def stack(scenario: Scenario) -> Iterator[LocalStack]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    with LocalStack(scenario) as local:
        operator = local.start_operator()
        yield local
        assert "Traceback" not in operator.logs(), operator.logs()[-5000:]


def status_of(stack: LocalStack, name: str) -> dict[str, Any]:
    return dict((stack.schedule("shop", name) or {}).get("status") or {})


def report_json(stack: LocalStack, status: dict[str, Any]) -> dict[str, Any]:
    name = status["lastReport"]["outputs"][0]["location"].rsplit("/", 1)[-1]
    configmap = stack.kube.get("v1", "configmaps", "shop", name)
    assert configmap is not None
    return dict(json.loads(configmap["data"]["report.json"]))


def test_run_now_produces_a_true_report(stack: LocalStack, scenario: Scenario) -> None:
    stack.apply_schedule("now", "shop", SPEC, annotations={"opsreport.dev/run-now": "first"})
    status = wait_for(
        lambda: (s := status_of(stack, "now")).get("runNow") and s,
        timeout=60,
        what="the run-now report",
    )
    assert status["runNow"]["value"] == "first"
    report = report_json(stack, status)
    start, end = parse_rfc3339(report["window"]["start"]), parse_rfc3339(report["window"]["end"])
    expected = scenario.expected(start, end, set(SCOPE))
    assert report["restarts"]["total"] == expected.restarts_total
    assert report["availability"]["totalScrapes"] == expected.up_samples
    assert report["availability"]["successfulScrapes"] == expected.up_ones
    assert status["lastReport"]["summary"]["restarts"] == expected.restarts_total
    assert status["lastReport"]["summary"]["availabilityPercent"] == (
        f"{100 * expected.availability_ratio:.3f}"
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ReportDelivered")
    reasons = [e["reason"] for e in stack.events_for("shop", "now")]
    assert "RunStarted" in reasons
    assert "RunSucceeded" in reasons or "RunDegraded" in reasons


def test_the_same_run_now_value_runs_once(stack: LocalStack) -> None:
    stack.apply_schedule("once", "shop", SPEC, annotations={"opsreport.dev/run-now": "v1"})
    wait_for(lambda: status_of(stack, "once").get("runNow"), timeout=60, what="first run")
    # A GitOps tool re-applies the same manifest: the annotation is written again, unchanged.
    stack.kube.patch_object(
        GROUP_VERSION,
        "reportschedules",
        "shop",
        "once",
        {
            "metadata": {
                "annotations": {"opsreport.dev/run-now": "v1"},
                "labels": {"reapplied": "yes"},
            }
        },
    )
    stack.kube.patch_object(
        GROUP_VERSION,
        "reportschedules",
        "shop",
        "once",
        {"metadata": {"annotations": {"opsreport.dev/run-now": "v2"}}},
    )
    status = wait_for(
        lambda: (s := status_of(stack, "once"))["runNow"]["value"] == "v2" and s,
        timeout=60,
        what="the second value's run",
    )
    assert [entry["trigger"] for entry in status["history"]] in (["run-now"], ["run-now"] * 2)
    runs = [e for e in stack.events_for("shop", "once") if e["reason"] == "RunStarted"]
    assert len(runs) == 2


def test_a_scheduled_run_reports_its_window_exactly_once(
    stack: LocalStack, scenario: Scenario
) -> None:
    stack.apply_schedule("minutely", "shop", {**SPEC, "schedule": "* * * * *"})
    status = wait_for(
        lambda: (s := status_of(stack, "minutely")).get("lastScheduleTime") and s,
        timeout=90,
        interval=0.5,
        what="the first scheduled run",
    )
    scheduled = parse_rfc3339(status["lastScheduleTime"])
    assert scheduled.second == 0
    assert parse_rfc3339(status["nextScheduleTime"]) > scheduled
    report = report_json(stack, status)
    assert parse_rfc3339(report["window"]["end"]) == scheduled
    expected = scenario.expected(parse_rfc3339(report["window"]["start"]), scheduled, set(SCOPE))
    assert report["restarts"]["total"] == expected.restarts_total
    assert report["availability"]["percent"] == pytest.approx(100 * expected.availability_ratio)
    workloads = {
        (w["namespace"], w["name"], w["container"]) for w in report["resources"]["workloads"]
    }
    assert ("shop", "checkout", "checkout") in workloads
    # One report per window, labelled and owned.
    maps = stack.report_configmaps("shop", "minutely")
    windows = [m["metadata"]["labels"]["opsreport.dev/window-start"] for m in maps]
    assert len(windows) == len(set(windows))
    owner = maps[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("ReportSchedule", "minutely")


def test_an_invalid_spec_is_reported_and_recovers(stack: LocalStack) -> None:
    stack.apply_schedule("broken", "shop", {**SPEC, "schedule": "61 * * * *"})

    def ready(reason: str) -> dict[str, Any] | None:
        for condition in status_of(stack, "broken").get("conditions", []):
            if condition["type"] == "Ready" and condition["reason"] == reason:
                return dict(condition)
        return None

    condition = wait_for(lambda: ready("InvalidSchedule"), timeout=30, what="InvalidSchedule")
    assert condition["status"] == "False"
    assert condition["message"].startswith("spec.schedule:")
    assert any(
        e["reason"] == "InvalidSchedule" and e["type"] == "Warning"
        for e in stack.events_for("shop", "broken")
    )
    stack.kube.patch_object(
        GROUP_VERSION, "reportschedules", "shop", "broken", {"spec": {"schedule": "@daily"}}
    )
    wait_for(lambda: ready("Scheduled"), timeout=30, what="Ready after the fix")
    fixed = status_of(stack, "broken")
    assert fixed["observedGeneration"] == 2
    assert parse_rfc3339(fixed["nextScheduleTime"]) > datetime.now(UTC)  # recomputed at once
