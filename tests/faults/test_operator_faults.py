"""The operator as a process on the local stack, through faults: it never crashes, says what
happened in conditions, Events, logs and metrics, and delivers one report per window once the
fault clears. The last test runs 200 schedules at once and records the operator's peak memory.

(A SIGKILL mid-run and the restart after it: tests/e2e/test_scheduling.py.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.prometheus import prometheus_available
from tests.support.scenario import Scenario
from tests.support.slowproxy import SlowProxy
from tests.support.stack import LocalStack, OperatorProcess, wait_for

pytestmark = pytest.mark.e2e
NAMESPACE = "payments"  # every section of the scenario is measurable here
SPEC: dict[str, Any] = {
    "schedule": "@daily",
    "window": {"duration": "1h", "settleSeconds": 0},
    "formats": ["json"],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with LocalStack(Scenario.demo(end=end, extend_seconds=3600)) as local:
        yield local


@pytest.fixture(scope="module")
def proxy(stack: LocalStack) -> Iterator[SlowProxy]:
    assert stack.prometheus_url is not None
    with SlowProxy(stack.prometheus_url) as running:
        yield running


@pytest.fixture(scope="module")
def operator(stack: LocalStack, proxy: SlowProxy) -> Iterator[OperatorProcess]:
    process = stack.start_operator(prometheus_url=proxy.url)
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


def status_of(stack: LocalStack, name: str) -> dict[str, Any]:
    return dict((stack.schedule(NAMESPACE, name) or {}).get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def events(stack: LocalStack, name: str) -> list[tuple[str, str]]:
    return [(e["type"], e["reason"]) for e in stack.events_for(NAMESPACE, name)]


def wait_event(stack: LocalStack, name: str, event: tuple[str, str]) -> None:
    """Events are posted just after the status is written: wait for them."""
    wait_for(lambda: event in events(stack, name), timeout=30, what=f"{event} on {name}")


def run_now(stack: LocalStack, name: str, value: str) -> dict[str, Any]:
    stack.kube.patch_object(
        "opsreport.dev/v1alpha1",
        "reportschedules",
        NAMESPACE,
        name,
        {"metadata": {"annotations": {"opsreport.dev/run-now": value}}},
    )
    return wait_for(
        lambda: (s := status_of(stack, name)).get("runNow", {}).get("value") == value and s,
        timeout=60,
        what=f"run-now {value} of {name}",
    )


def metric(text: str, name: str, **labels: str) -> float | None:
    """The sum of a /metrics page's samples of `name` with these labels; None if there are none."""
    values = []
    for line in text.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            values.append(float(line.rsplit(" ", 1)[1]))
    return sum(values) if values else None


def test_prometheus_down_then_back(
    stack: LocalStack, proxy: SlowProxy, operator: OperatorProcess
) -> None:
    proxy.down()
    try:
        stack.apply_schedule("down", NAMESPACE, SPEC, annotations={"opsreport.dev/run-now": "1"})
        status = wait_for(
            lambda: (s := status_of(stack, "down")).get("runNow") and s,
            timeout=90,
            what="the report while Prometheus is down",
        )
    finally:
        proxy.up()
    degraded = condition(status, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "DataGaps")
    assert "Prometheus is unreachable" in degraded["message"]
    assert condition(status, "Ready")["reason"] == "ReportDelivered"
    wait_event(stack, "down", ("Warning", "RunDegraded"))

    first = status["lastReport"]["window"]["start"]
    status = run_now(stack, "down", "2")
    degraded = condition(status, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("False", "Complete")
    wait_event(stack, "down", ("Normal", "RunSucceeded"))
    # One report per window: the degraded one and the whole one are two windows, two reports.
    windows = {first, status["lastReport"]["window"]["start"]}
    assert len(windows) == 2
    assert len(stack.report_configmaps(NAMESPACE, "down")) == len(windows)

    page = operator.metrics()
    assert metric(page, "opsreport_reports_total", schedule="down", result="degraded") == 1
    assert metric(page, "opsreport_reports_total", schedule="down", result="succeeded") == 1
    assert (metric(page, "opsreport_prometheus_query_errors_total", kind="unreachable") or 0) > 0


def test_api_throttling_and_conflicts_cost_nothing(
    stack: LocalStack, operator: OperatorProcess
) -> None:
    stack.apply_schedule("busy", NAMESPACE, SPEC)
    # Judged first, so the faults below meet the run's status writes, not kopf's own.
    wait_for(lambda: status_of(stack, "busy").get("observedGeneration"), timeout=30, what="ok")
    path = rf"/namespaces/{NAMESPACE}/reportschedules/busy/status$"
    # Within the client's three tries of one request: throttled, then a conflict, then through.
    stack.kube.inject_fault("PATCH", path, 429, times=1, headers={"Retry-After": "1"})
    stack.kube.inject_fault("PATCH", path, 409, times=1)
    status = run_now(stack, "busy", "1")
    assert condition(status, "Ready")["reason"] == "ReportDelivered"
    assert len(stack.report_configmaps(NAMESPACE, "busy")) == 1
    wait_event(stack, "busy", ("Normal", "RunSucceeded"))
    assert not [e for e in events(stack, "busy") if e[0] == "Warning"]
    page = operator.metrics()
    assert (metric(page, "opsreport_kubernetes_api_requests_total", code="429") or 0) >= 1
    assert (metric(page, "opsreport_kubernetes_api_requests_total", code="409") or 0) >= 1


def test_each_line_of_a_run_names_the_schedule_and_run(
    stack: LocalStack, operator: OperatorProcess
) -> None:
    stack.apply_schedule("logged", NAMESPACE, SPEC, annotations={"opsreport.dev/run-now": "1"})
    wait_for(lambda: status_of(stack, "logged").get("runNow"), timeout=60, what="the report")
    lines = [line for line in operator.logs().splitlines() if "payments/logged" in line]
    started = next(line for line in lines if "RunStarted" in line)
    run_id = re.search(r"\[payments/logged run=([0-9a-f]{8})\]", started)
    assert run_id is not None, started
    finished = next(line for line in lines if "RunSucceeded" in line or "RunDegraded" in line)
    assert f"run={run_id.group(1)}]" in finished


def test_a_selector_matching_nothing_is_a_warning(
    stack: LocalStack, operator: OperatorProcess
) -> None:
    spec = {**SPEC, "scope": {"selector": {"matchLabels": {"app": "no-such-app"}}}}
    stack.apply_schedule("nothing", NAMESPACE, spec)
    warning = wait_for(
        lambda: condition(status_of(stack, "nothing"), "Warning") or None,
        timeout=30,
        what="the Warning condition",
    )
    assert (warning["status"], warning["reason"]) == ("True", "SelectorMatchesNothing")
    assert condition(status_of(stack, "nothing"), "Ready")["status"] == "True"  # it still runs
    wait_event(stack, "nothing", ("Warning", "SelectorMatchesNothing"))
    page = wait_for(
        lambda: (p := operator.metrics()) and 'reason="SelectorMatchesNothing"' in p and p,
        timeout=30,
        what="the schedules gauge",
    )
    assert metric(page, "opsreport_schedules", condition="Warning", status="True") == 1


LOAD = 200


def test_200_schedules_due_at_once(
    stack: LocalStack,
    proxy: SlowProxy,
    operator: OperatorProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert operator.alive(), "the operator survived every fault above"
    operator.stop()  # a fresh process, so its peak memory is this test's alone
    loaded = stack.start_operator(
        prometheus_url=proxy.url, extra_env={"OPSREPORT_MAX_CONCURRENT_REPORTS": "4"}
    )
    names = [f"load-{i:03d}" for i in range(LOAD)]
    started = time.monotonic()
    for name in names:
        stack.apply_schedule(name, "load", SPEC, annotations={"opsreport.dev/run-now": "1"})
    peak_running = 0
    peak_queued = 0

    def all_done() -> bool:
        nonlocal peak_running, peak_queued
        page = loaded.metrics()
        peak_running = max(peak_running, int(metric(page, "opsreport_reports_running") or 0))
        peak_queued = max(peak_queued, int(metric(page, "opsreport_reports_queued") or 0))
        delivered = sum(
            metric(page, "opsreport_reports_total", namespace="load", result=result) or 0
            for result in ("succeeded", "degraded")
        )
        return delivered == LOAD

    wait_for(all_done, timeout=180, interval=0.5, what=f"{LOAD} reports")
    elapsed = time.monotonic() - started
    reports = stack.kube.list("v1", "configmaps", "load", label_selector="opsreport.dev/schedule")
    assert len(reports) == LOAD  # every schedule, once
    assert {m["metadata"]["labels"]["opsreport.dev/schedule"] for m in reports} == set(names)
    assert peak_running <= 4, "the concurrency cap held"
    assert peak_queued > 0, "runs waited for a slot"
    peak_rss = loaded.peak_rss_bytes()
    assert loaded.alive()
    with capsys.disabled():
        print(
            f"\n{LOAD} schedules: {elapsed:.0f}s, peak running {peak_running}, "
            f"peak queued {peak_queued}, operator peak RSS {peak_rss / 2**20:.0f} MiB"
        )
    assert peak_rss < 400 * 2**20
    loaded.stop()
    assert "Traceback" not in loaded.logs()
