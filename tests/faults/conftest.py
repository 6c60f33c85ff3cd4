"""Fault tests: the run service (Operator.tick with a driven clock) against the emulated API and a
real Prometheus behind a fault-injecting proxy, plus operator processes on the local stack."""

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
from tests.integration.conftest import (  # noqa: F401  (fixtures shared with the integration tests)
    END,
    kube_api,
    kube_server,
    prometheus,
    scenario,
)
from tests.support.engines import engine_available
from tests.support.kube_emulator import KubeApiServer
from tests.support.prometheus import PrometheusServer
from tests.support.slowproxy import SlowProxy
from tests.support.stack import GROUP_VERSION

MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="session")
def engine() -> str:
    """Prometheus only: these tests are about a failing or slow engine, not about its figures,
    which the integration tests check on every engine."""
    if not engine_available("prometheus"):
        pytest.skip("prometheus/promtool are not installed (make install)")
    return "prometheus"


# Every section of the scenario is measurable here, so a healthy run is Succeeded, not Degraded.
NAMESPACE = "payments"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """One Operator and the helpers to drive it as the kopf timer would, and look at results."""

    def __init__(self, kube: KubeApiServer, operator: Operator, clock: Clock) -> None:
        self.kube = kube
        self.operator = operator
        self.clock = clock
        self.notices: dict[str, list[Notice]] = {}

    def create(self, name: str, namespace: str = NAMESPACE, behind: int = 1, **spec: Any) -> None:
        """A schedule due now: every minute, its last run `behind` minutes ago."""
        self.kube.create(
            {
                "apiVersion": GROUP_VERSION,
                "kind": "ReportSchedule",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "generation": 1,
                    "annotations": spec.pop("annotations", {}),
                },
                "spec": {
                    "schedule": "* * * * *",
                    "window": {"duration": "1h", "settleSeconds": 0},
                    "formats": ["json"],
                    **spec,
                },
                "status": {
                    "lastScheduleTime": format_rfc3339(self.clock.now - behind * MINUTE),
                    "observedGeneration": 1,
                },
            }
        )

    def body(self, name: str) -> dict[str, Any]:
        obj = self.kube.get(GROUP_VERSION, "reportschedules", NAMESPACE, name)
        assert obj is not None
        return obj

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.body(name).get("status") or {})

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        return next(c for c in self.status(name)["conditions"] if c["type"] == kind)

    def reports(self, name: str) -> list[dict[str, Any]]:
        return list(
            self.kube.list(
                "v1", "configmaps", NAMESPACE, label_selector=f"opsreport.dev/schedule={name}"
            )
        )

    def events(self, name: str) -> list[tuple[str, str]]:
        return [(n.type, n.reason) for n in self.notices.get(name, [])]

    async def tick(self, name: str) -> None:
        notices = self.notices.setdefault(name, [])
        await self.operator.tick(parse_schedule(self.body(name)), notices.append)

    async def settle(self) -> None:
        await asyncio.gather(
            *(active.task for active in self.operator.active.values()), return_exceptions=True
        )

    async def run(self, name: str) -> dict[str, Any]:
        """One tick and whatever it started, to the end; returns the status."""
        await self.tick(name)
        await self.settle()
        return self.status(name)

    def metric(self, name: str, **labels: str) -> float:
        value = self.operator.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


@pytest.fixture
def proxy(prometheus: PrometheusServer) -> Iterator[SlowProxy]:  # noqa: F811
    with SlowProxy(prometheus.url) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(END - 5 * MINUTE + timedelta(seconds=2))


@pytest.fixture
async def harness(
    kube_server: KubeApiServer,  # noqa: F811
    kube_api: KubeApi,  # noqa: F811
    proxy: SlowProxy,
    clock: Clock,
) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Operator] = []

    def factory(slots: int = 4, **config: Any) -> Harness:
        settings = {"prometheus_url": proxy.url, "prometheus_timeout_seconds": 30, **config}
        operator = Operator(
            config=OperatorConfig(**settings),
            kube=kube_api,
            clock=clock,
            slots=asyncio.Semaphore(slots),
        )
        kube_api.on_response = operator.metrics.observe_api_request  # as the startup handler does
        made.append(operator)
        return Harness(kube_server, operator, clock)

    yield factory
    for operator in made:
        await operator.shutdown()
