"""Every way a run can go posts its Event (through the same `notify` the kopf timer turns into
Kubernetes Events; tests/faults/test_operator_faults.py sees them arrive in the API)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.faults.conftest import MINUTE, NAMESPACE, Harness
from tests.support.slowproxy import SlowProxy

pytestmark = pytest.mark.stack


async def wait_for_requests(proxy: SlowProxy) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while proxy.requests == 0:
        assert asyncio.get_running_loop().time() < deadline, "no query arrived"
        await asyncio.sleep(0.02)


async def test_a_good_run_posts_started_then_succeeded(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("ev-ok")
    await h.run("ev-ok")
    assert h.events("ev-ok") == [("Normal", "RunStarted"), ("Normal", "RunSucceeded")]
    message = h.notices["ev-ok"][-1].message
    assert f"configmap/{NAMESPACE}/ev-ok-" in message  # says where the report went


async def test_a_run_with_gaps_posts_degraded(harness: Callable[..., Harness]) -> None:
    h = harness(prometheus_url=None)  # no Prometheus at all: every Prometheus section is a gap
    h.create("ev-gaps")
    await h.run("ev-gaps")
    assert h.events("ev-gaps") == [("Normal", "RunStarted"), ("Warning", "RunDegraded")]
    assert "no Prometheus URL configured" in h.notices["ev-gaps"][-1].message


async def test_a_failed_delivery_posts_its_reason(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("ev-fail")
    h.kube.inject_fault("POST", rf"/namespaces/{NAMESPACE}/configmaps$", 500, times=1)
    await h.run("ev-fail")
    assert h.events("ev-fail") == [("Normal", "RunStarted"), ("Warning", "DeliveryFailed")]
    assert "500" in h.notices["ev-fail"][-1].message


async def test_a_missing_template_posts_template_render_failed(
    harness: Callable[..., Harness],
) -> None:
    h = harness()
    h.create(
        "ev-template",
        template={"configMapRef": {"name": "no-such-template", "key": "report.md.j2"}},
        formats=["markdown"],
    )
    status = await h.run("ev-template")
    assert h.events("ev-template")[-1] == ("Warning", "TemplateRenderFailed")
    assert "no-such-template not found" in h.notices["ev-template"][-1].message
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "TemplateRenderFailed")


async def test_missed_windows_post_skipped(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.create("ev-skip", behind=3)  # catchUp Latest: the two older minutes are given up
    await h.run("ev-skip")
    assert h.events("ev-skip")[0] == ("Warning", "RunSkipped")
    assert "CatchUpPolicy: 2 run(s)" in h.notices["ev-skip"][0].message
    assert (
        h.metric(
            "opsreport_reports_total", namespace=NAMESPACE, schedule="ev-skip", result="skipped"
        )
        == 2
    )


async def test_a_run_waiting_for_a_slot_posts_queued(
    harness: Callable[..., Harness], proxy: SlowProxy
) -> None:
    h = harness(slots=1)
    h.create("ev-first")
    h.create("ev-queued")
    proxy.delay = 0.1
    await h.tick("ev-first")
    await wait_for_requests(proxy)  # the first run holds the only slot
    await h.tick("ev-queued")
    await h.settle()
    assert h.events("ev-first") == [("Normal", "RunStarted"), ("Normal", "RunSucceeded")]
    assert h.events("ev-queued") == [
        ("Normal", "RunQueued"),
        ("Normal", "RunStarted"),
        ("Normal", "RunSucceeded"),
    ]
    assert h.metric("opsreport_report_phase_duration_seconds_count", phase="queue") == 2


async def test_a_replaced_run_posts_replaced(
    harness: Callable[..., Harness], proxy: SlowProxy
) -> None:
    h = harness()
    h.create("ev-replace", concurrencyPolicy="Replace")
    proxy.delay = 5.0
    await h.tick("ev-replace")
    await wait_for_requests(proxy)
    h.clock.now += MINUTE
    proxy.delay = 0.0
    await h.tick("ev-replace")
    await h.settle()
    events = h.events("ev-replace")
    assert ("Warning", "RunReplaced") in events
    assert events[-1] == ("Normal", "RunSucceeded")
    assert (
        h.metric(
            "opsreport_reports_total", namespace=NAMESPACE, schedule="ev-replace", result="replaced"
        )
        == 1
    )
