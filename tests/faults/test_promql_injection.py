"""PromQL injection, tried on a real Prometheus: hostile namespace values are accepted as plain
literals (the query parses and finds nothing), never as PromQL; selector values never reach
Prometheus at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsreport.collect import queries
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.deliver.base import ScheduleIdentity
from opsreport.kube import KubeApi
from opsreport.model.spec import parse_spec
from opsreport.pipeline import ReportRequest, Sources, collect_report
from opsreport.scheduling import Window
from tests.faults.conftest import END
from tests.support.prometheus import PrometheusServer
from tests.support.slowproxy import SlowProxy

pytestmark = pytest.mark.stack
HOSTILE = [
    '"} or vector(1) #',
    'payments"} or up{namespace=~".+',
    ".*",
    "payments|shop",
    'x",namespace!="',
    "\\",
]
BUILDERS = [
    queries.restarts,
    queries.owners,
    queries.availability_successful,
    queries.availability_total,
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_hostile_namespace_is_only_a_name(prometheus: PrometheusServer, value: str) -> None:
    at = END - timedelta(minutes=5)
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        for build in BUILDERS:
            # Accepted (it parses: no error raised) and matching no namespace.
            assert await client.query(build(queries.Scope((value,)), 3600), at) == []
            alone = await client.query(build(queries.Scope(("payments",)), 3600), at)
            mixed = await client.query(build(queries.Scope(("payments", value)), 3600), at)
            assert mixed == alone
            assert alone or build is queries.restarts  # a real figure was compared


async def test_selector_values_never_reach_prometheus(
    prometheus: PrometheusServer, kube_api: KubeApi
) -> None:
    hostile = 'x"} or vector(1) #'
    spec = parse_spec(
        {
            "schedule": "@daily",
            "window": {"duration": "1h"},
            "scope": {
                "selector": {
                    "matchExpressions": [{"key": "app", "operator": "In", "values": [hostile]}]
                }
            },
        }
    )
    with SlowProxy(prometheus.url) as proxy:
        request = ReportRequest(
            ScheduleIdentity("payments", "injected"), spec, Window(END - timedelta(hours=1), END)
        )
        report = await collect_report(
            request,
            Sources(kube=kube_api, prometheus=PrometheusSettings(url=proxy.url)),
            lambda: END,
        )
    assert proxy.paths, "queries were sent"
    assert not [path for path in proxy.paths if "vector(1)" in path]
    # It went to the API instead, which refuses it as no label value (a gap, 400) as a cluster does.
    pods_gap = next(gap for gap in report.data_gaps if gap.section == "pods")
    assert "400" in pods_gap.reason
