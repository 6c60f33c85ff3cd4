"""The run service with a driven clock: concurrency policies, the global cap and status.

kopf is not involved: the tests call `Operator.tick` as the timer would, against the emulated
API and the real Prometheus (behind a proxy that can slow it down).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from opsreport.config import OperatorConfig
from opsreport.kube import KubeApi
from opsreport.reconcile import parse_schedule
from opsreport.scheduling import format_rfc3339
from opsreport.service import Notice, Operator
from tests.integration.conftest import END, SCOPE
from tests.support.kube_emulator import KubeApiServer
from tests.support.prometheus import PrometheusServer
from tests.support.slowproxy import SlowProxy
from tests.support.stack import GROUP_VERSION

MINUTE = timedelta(minutes=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def engine() -> str:
    """Prometheus only: these tests are about the run service (and create schedules by fixed
    names in the shared API server), not about the engine's figures."""
    return "prometheus"


@pytest.fixture
def proxy(prometheus: PrometheusServer) -> Iterator[SlowProxy]:
    with SlowProxy(prometheus.url) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(END - 5 * MINUTE + timedelta(seconds=2))


def make_operator(kube_api: KubeApi, proxy: SlowProxy, clock: Clock, slots: int) -> Operator:
    config = OperatorConfig(
        prometheus_url=proxy.url, prometheus_timeout_seconds=30, allow_cross_namespace_scope=True
    )
    return Operator(config=config, kube=kube_api, clock=clock, slots=asyncio.Semaphore(slots))


@pytest.fixture
async def operators(
    kube_api: KubeApi, proxy: SlowProxy, clock: Clock
) -> AsyncIterator[Callable[[int], Operator]]:
    made: list[Operator] = []

    def factory(slots: int = 4) -> Operator:
        made.append(make_operator(kube_api, proxy, clock, slots))
        return made[-1]

    yield factory
    for operator in made:
        await operator.shutdown()


def create(kube_server: KubeApiServer, name: str, clock: Clock, **spec: Any) -> None:
    body = {
        "apiVersion": GROUP_VERSION,
        "kind": "ReportSchedule",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "generation": 1,
            "annotations": spec.pop("annotations", {}),
        },
        "spec": {
            "schedule": "* * * * *",
            "window": {"duration": "24h", "settleSeconds": 0},
            "formats": ["json"],
            "scope": {"namespaces": list(SCOPE)},
            **spec,
        },
        "status": {
            "lastScheduleTime": format_rfc3339(clock.now - 2 * MINUTE),
            "observedGeneration": 1,
        },
    }
    kube_server.create(body)


def current(kube_server: KubeApiServer, name: str) -> dict[str, Any]:
    obj = kube_server.get(GROUP_VERSION, "reportschedules", "shop", name)
    assert obj is not None
    return obj


async def tick(
    operator: Operator, kube_server: KubeApiServer, name: str, notices: list[Notice]
) -> None:
    await operator.tick(parse_schedule(current(kube_server, name)), notices.append)


async def settle_tasks(operator: Operator) -> None:
    await asyncio.gather(
        *(active.task for active in operator.active.values()), return_exceptions=True
    )


async def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def history(kube_server: KubeApiServer, name: str) -> list[dict[str, Any]]:
    return list(current(kube_server, name)["status"].get("history", []))


async def test_replace_cancels_the_older_run(
    kube_server: KubeApiServer, proxy: SlowProxy, clock: Clock, operators: Callable[[int], Operator]
) -> None:
    create(kube_server, "replace", clock, concurrencyPolicy="Replace")
    operator, notices = operators(4), []
    proxy.delay = 5.0  # the first run is still collecting when the next minute comes
    await tick(operator, kube_server, "replace", notices)
    first = operator.active[("shop", "replace")].run
    await wait_until(lambda: proxy.requests > 0)
    clock.now += MINUTE
    proxy.delay = 0.0
    await tick(operator, kube_server, "replace", notices)
    second = operator.active[("shop", "replace")].run
    assert second.scheduled_time == first.scheduled_time + MINUTE
    await settle_tasks(operator)
    results = {entry["window"]["end"]: entry["result"] for entry in history(kube_server, "replace")}
    assert results[format_rfc3339(first.window.end)] == "Replaced"
    assert results[format_rfc3339(second.window.end)] in ("Succeeded", "Degraded")
    assert "RunReplaced" in [n.reason for n in notices]
    maps = kube_server.list(
        "v1", "configmaps", "shop", label_selector="opsreport.dev/schedule=replace"
    )
    assert len(maps) == 1  # the replaced run never delivered
    assert current(kube_server, "replace")["status"]["lastScheduleTime"] == format_rfc3339(
        second.scheduled_time
    )


async def test_forbid_never_overlaps_and_catches_up_after(
    kube_server: KubeApiServer, proxy: SlowProxy, clock: Clock, operators: Callable[[int], Operator]
) -> None:
    create(kube_server, "forbid", clock)
    operator, notices = operators(4), []
    proxy.delay = 1.0
    await tick(operator, kube_server, "forbid", notices)
    first = operator.active[("shop", "forbid")]
    clock.now += MINUTE
    await tick(operator, kube_server, "forbid", notices)
    assert operator.active[("shop", "forbid")] is first  # nothing new while it runs
    proxy.delay = 0.0
    await settle_tasks(operator)
    await tick(operator, kube_server, "forbid", notices)  # now the newer minute runs
    await settle_tasks(operator)
    results = [entry["result"] for entry in history(kube_server, "forbid")]
    assert results.count("Replaced") == 0
    assert len([r for r in results if r in ("Succeeded", "Degraded")]) == 2


async def test_the_global_cap_queues_runs(
    kube_server: KubeApiServer, proxy: SlowProxy, clock: Clock, operators: Callable[[int], Operator]
) -> None:
    operator, notices = operators(1), []
    proxy.delay = 0.5
    names = [f"capped-{i}" for i in range(3)]
    for name in names:
        create(kube_server, name, clock)
    for name in names:
        await tick(operator, kube_server, name, notices)
    await wait_until(
        lambda: any(
            (current(kube_server, n)["status"].get("pendingRun") or {}).get("state") == "Queued"
            for n in names
        )
    )
    proxy.delay = 0.0
    await settle_tasks(operator)
    assert [n.reason for n in notices].count("RunQueued") == 2
    for name in names:
        status = current(kube_server, name)["status"]
        assert "pendingRun" not in status
        assert status["lastReport"]["outputs"][0]["result"] == "Delivered"


async def test_a_failing_api_costs_an_attempt_not_the_operator(
    kube_server: KubeApiServer, clock: Clock, operators: Callable[[int], Operator]
) -> None:
    create(kube_server, "flaky", clock)
    operator, notices = operators(4), []
    kube_server.inject_fault("POST", r"/api/v1/namespaces/shop/configmaps$", 500, times=1)
    await tick(operator, kube_server, "flaky", notices)
    await settle_tasks(operator)
    status = current(kube_server, "flaky")["status"]
    assert status["pendingRun"]["attempts"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "DeliveryFailed")
    clock.now += timedelta(minutes=2)  # past the backoff; the same window is retried
    await tick(operator, kube_server, "flaky", notices)
    await settle_tasks(operator)
    status = current(kube_server, "flaky")["status"]
    assert "pendingRun" not in status
    assert status["lastReport"]["outputs"][0]["result"] == "Delivered"
