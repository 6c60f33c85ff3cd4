"""Scheduling through operator restarts, crashes and two replicas: exactly one report per window.

These run real `opsreport operator` processes against the local stack and wait on real cron
minutes, so they are the slowest tests of the suite (about four minutes together).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsreport.scheduling import format_rfc3339, parse_rfc3339
from tests.support.kube_emulator import crds_from_file
from tests.support.prometheus import prometheus_available
from tests.support.scenario import Scenario
from tests.support.slowproxy import SlowProxy
from tests.support.stack import REPO, LocalStack, OperatorProcess, wait_for

pytestmark = pytest.mark.e2e
PEERING_CRDS = REPO / "deploy" / "helm" / "opsreport" / "crds" / "kopf-peering.yaml"
SPEC: dict[str, Any] = {
    "schedule": "@daily",
    "window": {"duration": "24h", "settleSeconds": 0},
    "formats": ["json"],
    "scope": {"namespaces": ["payments", "shop"]},
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with LocalStack(Scenario.demo(end=end, extend_seconds=3600)) as local:
        for crd in crds_from_file(PEERING_CRDS):
            local.kube.apply_crd(crd)
        yield local


@pytest.fixture
def proxy(stack: LocalStack) -> Iterator[SlowProxy]:
    assert stack.prometheus_url is not None
    with SlowProxy(stack.prometheus_url) as running:
        yield running


def status_of(stack: LocalStack, name: str) -> dict[str, Any]:
    return dict((stack.schedule("shop", name) or {}).get("status") or {})


def reports(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    return stack.report_configmaps("shop", name)


def windows_of(stack: LocalStack, name: str) -> list[str]:
    return sorted(
        m["metadata"]["labels"]["opsreport.dev/window-start"] for m in reports(stack, name)
    )


def stop_all(*operators: OperatorProcess) -> None:
    for operator in operators:
        operator.stop()


def test_a_run_killed_midway_is_finished_once_by_the_next_operator(
    stack: LocalStack, proxy: SlowProxy
) -> None:
    proxy.delay = 2.0  # long enough to kill the operator mid-collection
    first = stack.start_operator(prometheus_url=proxy.url)
    second: OperatorProcess | None = None
    try:
        stack.apply_schedule("crash", "shop", SPEC, annotations={"opsreport.dev/run-now": "c1"})
        claim = wait_for(
            lambda: (status_of(stack, "crash").get("pendingRun") or {}) if proxy.requests else None,
            timeout=60,
            what="a run in flight",
        )
        first.kill()
        assert not reports(stack, "crash")
        proxy.delay = 0.0
        second = stack.start_operator(prometheus_url=proxy.url)
        status = wait_for(
            lambda: (s := status_of(stack, "crash")).get("runNow") and s,
            timeout=60,
            what="the rerun",
        )
        assert status["lastReport"]["window"] == claim["window"]
        assert len(reports(stack, "crash")) == 1
        assert [e["window"] for e in status["history"]] == [claim["window"]]
    finally:
        stop_all(first, *([second] if second else []))


def test_two_replicas_make_one_report_even_when_the_active_one_dies(
    stack: LocalStack, proxy: SlowProxy
) -> None:
    stack.kube.create(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": "opsreport-ha"},
        }
    )
    env = {"OPSREPORT_PEERING_LIFETIME": "10"}
    replicas = [
        stack.start_operator(prometheus_url=proxy.url, peering="opsreport-ha", extra_env=env)
        for _ in range(2)
    ]
    try:
        proxy.delay = 2.0
        stack.apply_schedule("ha", "shop", SPEC, annotations={"opsreport.dev/run-now": "h1"})

        def active() -> OperatorProcess | None:
            running = [op for op in replicas if "RunStarted" in op.logs()]
            return running[0] if len(running) == 1 and proxy.requests else None

        leader = wait_for(active, timeout=90, what="one replica running the report")
        standby = next(op for op in replicas if op is not leader)
        assert "RunStarted" not in standby.logs()
        leader.kill()
        proxy.delay = 0.0
        status = wait_for(
            lambda: (s := status_of(stack, "ha")).get("runNow") and s,
            timeout=120,
            what="the standby to take over and finish",
        )
        assert "RunStarted" in standby.logs()
        assert len(reports(stack, "ha")) == 1
        assert len(status["history"]) == 1
    finally:
        stop_all(*replicas)


def _ran(status: dict[str, Any]) -> list[str]:
    return [
        e["window"]["end"]
        for e in status.get("history", [])
        if e["result"] in ("Succeeded", "Degraded")
    ]


def _skipped(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in status.get("history", []) if e["result"] == "Skipped"]


def test_catch_up_after_downtime_follows_each_policy(stack: LocalStack) -> None:
    policies = {"all": "All", "latest": "Latest", "none": "None"}
    operator = stack.start_operator()
    for name, policy in policies.items():
        stack.apply_schedule(
            f"catch-{name}", "shop", {**SPEC, "schedule": "* * * * *", "catchUp": policy}
        )
    try:
        for name in policies:
            wait_for(
                lambda n=name: status_of(stack, f"catch-{n}").get("lastScheduleTime"),
                timeout=100,
                interval=0.5,
                what=f"catch-{name}'s first run",
            )
    finally:
        operator.stop()
    before = {name: status_of(stack, f"catch-{name}") for name in policies}
    last = max(parse_rfc3339(s["lastScheduleTime"]) for s in before.values())
    # Down across two cron minutes, and then some, so the older ones are late.
    resume_at = last + timedelta(minutes=2, seconds=5)
    time.sleep(max(0.0, (resume_at - datetime.now(UTC)).total_seconds()))
    restarted = datetime.now(UTC)
    operator = stack.start_operator()
    try:
        newest_due = restarted.replace(second=0, microsecond=0)
        for name in policies:
            wait_for(
                lambda n=name: (
                    (t := status_of(stack, f"catch-{n}").get("lastScheduleTime"))
                    and parse_rfc3339(t) >= newest_due
                ),
                timeout=90,
                interval=0.5,
                what=f"catch-{name} to catch up",
            )
    finally:
        operator.stop()
    after = {name: status_of(stack, f"catch-{name}") for name in policies}
    missed = int(
        (newest_due - parse_rfc3339(before["all"]["lastScheduleTime"])).total_seconds() // 60
    )
    assert missed >= 2

    all_runs = _ran(after["all"])[:missed]
    expected = [format_rfc3339(newest_due - timedelta(minutes=i)) for i in range(missed)]
    assert all_runs == expected  # newest first in history: every missed minute ran, in order
    assert not _skipped(after["all"])

    (skip,) = _skipped(after["latest"])
    assert skip["reason"] == "CatchUpPolicy"
    assert _ran(after["latest"])[0] == format_rfc3339(newest_due)

    skips = _skipped(after["none"])
    assert skips
    assert skips[0]["reason"] == "CatchUpPolicy"
    # Only a minute that came due within ON_TIME of the restart may have run.
    for end in set(_ran(after["none"])) - set(_ran(before["none"])):
        assert parse_rfc3339(end) >= restarted - timedelta(seconds=60)

    for name in policies:
        windows = windows_of(stack, f"catch-{name}")
        assert len(windows) == len(set(windows))
        events = [e["reason"] for e in stack.events_for("shop", f"catch-{name}")]
        assert ("RunSkipped" in events) == (name != "all")
