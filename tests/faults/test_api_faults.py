"""The Kubernetes API failing under a run: 409 and 429 are absorbed by bounded retries, anything
else costs one attempt (Ready=False, a Warning Event, retried with backoff), and the window's
report arrives exactly once when the API is well again. An over-large report fails the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from opsreport.deliver import configmap
from tests.faults.conftest import NAMESPACE, Harness

pytestmark = pytest.mark.stack
BACKOFF = timedelta(seconds=31)  # just past the first retry's notBefore


def status_path(name: str) -> str:
    return rf"/namespaces/{NAMESPACE}/reportschedules/{name}/status$"


def ready(status: dict[str, Any]) -> tuple[str, str]:
    condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    return condition["status"], condition["reason"]


def assert_one_report(h: Harness, name: str, status: dict[str, Any]) -> None:
    assert ready(status) == ("True", "ReportDelivered")
    assert "pendingRun" not in status
    assert len(h.reports(name)) == 1
    delivered = [e for e in status["history"] if e["result"] in ("Succeeded", "Degraded")]
    assert len(delivered) == 1
    assert h.events(name)[-1] == ("Normal", "RunSucceeded")


async def test_409_on_a_status_patch_is_retried(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("api-409")
    h.kube.inject_fault("PATCH", status_path("api-409"), 409, times=2)
    status = await h.run("api-409")
    assert_one_report(h, "api-409", status)
    assert not [e for e in h.events("api-409") if e[0] == "Warning"]
    assert h.metric("opsreport_kubernetes_api_requests_total", method="PATCH", code="409") == 2


async def test_429_is_retried_after_retry_after(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("api-429")
    h.kube.inject_fault("PATCH", status_path("api-429"), 429, times=1, headers={"Retry-After": "1"})
    h.kube.inject_fault(
        "GET", rf"/namespaces/{NAMESPACE}/pods$", 429, times=1, headers={"Retry-After": "1"}
    )
    started = time.monotonic()
    status = await h.run("api-429")
    assert time.monotonic() - started >= 2.0  # both waited as the API server asked
    assert_one_report(h, "api-429", status)
    assert not [e for e in h.events("api-429") if e[0] == "Warning"]
    assert h.metric("opsreport_kubernetes_api_requests_total", method="PATCH", code="429") == 1
    assert h.metric("opsreport_kubernetes_api_requests_total", method="GET", code="429") == 1


@pytest.mark.parametrize(
    ("status_code", "times"),
    [
        pytest.param(409, 4, id="409-beyond-the-retries"),
        pytest.param(500, 1, id="500"),
        pytest.param(429, 3, id="429-beyond-the-retries"),
    ],
)
async def test_a_failed_claim_costs_an_attempt_then_the_window_runs_once(
    harness: Callable[..., Harness], status_code: int, times: int, request: pytest.FixtureRequest
) -> None:
    name = f"api-claim-{request.node.callspec.id}"
    h = harness()
    h.create(name)
    headers = {"Retry-After": "0"} if status_code == 429 else None
    h.kube.inject_fault("PATCH", status_path(name), status_code, times=times, headers=headers)
    status = await h.run(name)
    assert ready(status) == ("False", "ReportFailed")
    assert f"answered {status_code}" in next(
        c["message"] for c in status["conditions"] if c["type"] == "Ready"
    )
    assert status["pendingRun"]["attempts"] == 1
    assert ("Warning", "ReportFailed") in h.events(name)
    assert not h.reports(name)
    assert h.metric("opsreport_reports_total", namespace=NAMESPACE, schedule=name, result="failed")
    window = status["pendingRun"]["window"]
    h.clock.now += BACKOFF
    status = await h.run(name)
    assert_one_report(h, name, status)
    assert status["lastReport"]["window"] == window  # the same window, not a newer one


async def test_a_500_while_reading_pods_is_a_gap(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("api-pods-500")
    h.kube.inject_fault("GET", rf"/namespaces/{NAMESPACE}/pods$", 500, times=1)
    status = await h.run("api-pods-500")
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True"
    assert "Kubernetes API answered 500" in degraded["message"]
    assert ready(status) == ("True", "ReportDelivered")
    assert ("Warning", "RunDegraded") in h.events("api-pods-500")
    assert len(h.reports("api-pods-500")) == 1


async def test_a_report_too_large_for_a_configmap_fails_then_runs_once(
    harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sink's own tests cover where the limit lies; here a low limit stands in for a huge
    # report, to see what the operator makes of ReportTooLarge.
    h = harness()
    h.create("too-large")
    with monkeypatch.context() as patched:
        patched.setattr(configmap, "SAFE_DATA_BYTES", 64)
        status = await h.run("too-large")
    assert ready(status) == ("False", "ReportTooLarge")
    assert "use an S3 output" in next(
        c["message"] for c in status["conditions"] if c["type"] == "Ready"
    )
    assert status["pendingRun"]["attempts"] == 1
    assert status["lastReport"]["outputs"][0]["result"] == "Failed"
    assert ("Warning", "ReportTooLarge") in h.events("too-large")
    assert not h.reports("too-large")
    h.clock.now += BACKOFF
    status = await h.run("too-large")
    assert_one_report(h, "too-large", status)
