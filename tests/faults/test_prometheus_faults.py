"""Prometheus failing in every way it can: the report is still delivered, Degraded, with a gap that
says why, a Degraded condition and a Warning Event; once Prometheus is well again the next window's
report is whole. One report per window throughout.

The contract (docs/reference.md): a failing query becomes a DataGap, never a failed run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.conftest import MINUTE, Harness
from tests.support.slowproxy import SlowProxy, prometheus_error

pytestmark = pytest.mark.stack
# The two availability queries (`sum(sum_over_time(up{…}[…]))` and its count): one section's
# worth, so a fault is seen in that section only and costs seconds, not a timeout per query.
AVAILABILITY = r"[?&]query=sum\((sum|count)_over_time\(up\{"


def assert_degraded_by(h: Harness, name: str, status: dict[str, Any], text: str) -> None:
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (degraded["status"], degraded["reason"]) == ("True", "DataGaps")
    assert text in degraded["message"], degraded["message"]
    assert (ready["status"], ready["reason"]) == ("True", "ReportDelivered")
    assert status["history"][0]["result"] == "Degraded"
    assert "pendingRun" not in status  # delivered: nothing is retried
    assert ("Warning", "RunDegraded") in h.events(name)
    assert len(h.reports(name)) == 1


async def recover(h: Harness, name: str) -> dict[str, Any]:
    """The next minute with the fault cleared: a second, whole report."""
    h.clock.now += MINUTE
    status = await h.run(name)
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("False", "Complete")
    assert [e["result"] for e in status["history"][:2]] == ["Succeeded", "Degraded"]
    assert h.events(name)[-1] == ("Normal", "RunSucceeded")
    windows = [m["metadata"]["labels"]["opsreport.dev/window-start"] for m in h.reports(name)]
    assert len(windows) == len(set(windows)) == 2
    return status


async def test_prometheus_down_when_a_run_starts(
    harness: Callable[..., Harness], proxy: SlowProxy
) -> None:
    h = harness()
    h.create("prom-down")
    proxy.down()
    status = await h.run("prom-down")
    assert_degraded_by(h, "prom-down", status, "Prometheus is unreachable: ConnectError")
    assert h.metric("opsreport_prometheus_query_errors_total", kind="unreachable") > 0
    assert (
        h.metric(
            "opsreport_reports_total", namespace="payments", schedule="prom-down", result="degraded"
        )
        == 1
    )
    proxy.up()
    await recover(h, "prom-down")


async def test_prometheus_goes_away_in_the_middle_of_a_run(
    harness: Callable[..., Harness], proxy: SlowProxy
) -> None:
    h = harness()
    h.create("prom-midway")
    proxy.delay = 0.5
    await h.tick("prom-midway")
    # Queries are in flight: they are answered, everything after them is refused.
    deadline = asyncio.get_running_loop().time() + 30
    while proxy.requests == 0:
        assert asyncio.get_running_loop().time() < deadline, "no query arrived"
        await asyncio.sleep(0.02)
    proxy.down()
    await h.settle()
    status = h.status("prom-midway")
    assert_degraded_by(h, "prom-midway", status, "unreachable")
    assert h.metric("opsreport_prometheus_queries_total") > h.metric(
        "opsreport_prometheus_query_errors_total", kind="unreachable"
    ), "some queries were answered before it went away"
    proxy.delay = 0.0
    proxy.up()
    await recover(h, "prom-midway")


@pytest.mark.parametrize(
    ("fault", "config", "gap", "kind"),
    [
        pytest.param(
            {"delay": 5.0},
            {"prometheus_timeout_seconds": 2},
            "Prometheus did not answer within 2s",
            "timeout",
            id="slow-beyond-timeout",
        ),
        pytest.param({"status": 503}, {}, "Prometheus answered 503", "http", id="503"),
        pytest.param(
            {
                "status": 422,
                "body": prometheus_error("execution", "query would load too many samples"),
            },
            {},
            "Prometheus rejected the query (execution): query would load too many samples",
            "rejected",
            id="422",
        ),
        pytest.param(
            {"garbage": True},
            {},
            "Prometheus answered 200 with a body that is not JSON",
            "malformed",
            id="malformed-json",
        ),
    ],
)
async def test_a_failing_query_is_a_gap_in_its_section(
    harness: Callable[..., Harness],
    proxy: SlowProxy,
    fault: dict[str, Any],
    config: dict[str, Any],
    gap: str,
    kind: str,
    request: pytest.FixtureRequest,
) -> None:
    name = f"prom-{request.node.callspec.id}"
    h = harness(**config)
    h.create(name)
    with proxy.fault(match=AVAILABILITY, **fault):
        status = await h.run(name)
    assert proxy.faulted >= 2  # the fault was hit
    assert_degraded_by(h, name, status, f"availability: {gap}")
    assert status["lastReport"]["summary"].get("availabilityPercent") is None
    assert status["lastReport"]["summary"].get("restarts") is not None  # others were measured
    assert h.metric("opsreport_prometheus_query_errors_total", kind=kind) >= 1
    recovered = await recover(h, name)
    assert recovered["lastReport"]["summary"]["availabilityPercent"] is not None
