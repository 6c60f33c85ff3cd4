"""Traffic, objectives and KPIs against the scenario's request metrics.

The scenario's checkout pods serve two handlers, one named with quotes and a backslash; their
counters reset when a container restarts, pods come and go with the HPA, and one pod was not
scraped for 15 minutes. The expected figures are increase() and histogram_quantile() emulated on
the samples the generator wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.collect.sections import Plan, query_budget
from opsreport.deliver.base import ScheduleIdentity
from opsreport.kube import KubeApi
from opsreport.model.report import ReportData
from opsreport.model.spec import KpiSpec, TrafficSpec, parse_spec
from opsreport.pipeline import ReportRequest, Sources, collect_report
from opsreport.scheduling import Window
from tests.integration.conftest import COUNTER_REL, DAY, END, SCOPE
from tests.support.prometheus import PrometheusServer
from tests.support.scenario import Scenario

REL = 1e-6
QUOTED = '/search?q="a\\b"'  # what the scenario's second handler is called, literally
WINDOW = Window(END - DAY, END)


_COLLECTED: dict[tuple[str, Window, str, str], tuple[MetricFacts, int]] = {}


async def collect(
    prometheus: PrometheusServer,
    window: Window,
    traffic: TrafficSpec | None = None,
    kpis: tuple[KpiSpec, ...] = (),
) -> tuple[MetricFacts, int]:
    """Collected once per window and spec for the module: tests only read the facts."""
    key = (prometheus.url, window, repr(traffic), repr(kpis))
    if key not in _COLLECTED:
        async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
            facts = await collect_metrics(
                client, queries.Scope(SCOPE), window, traffic=traffic, kpis=kpis
            )
            _COLLECTED[key] = (facts, client.queries_sent)
    return _COLLECTED[key]


def traffic(**selector: str) -> TrafficSpec:
    return TrafficSpec(
        requests_counter="http_requests_total",
        latency_histogram="http_request_duration_seconds_bucket",  # the suffix is optional
        selector=selector,
    )


@pytest.mark.parametrize(
    "selector", [{"job": "checkout"}, {"handler": QUOTED}], ids=["job", "quoted handler"]
)
async def test_traffic_matches_the_scenario(
    prometheus: PrometheusServer, scenario: Scenario, window: Window, selector: dict[str, str]
) -> None:
    facts, _ = await collect(prometheus, window, traffic(**selector))
    want = scenario.expected_traffic(window.start, window.end, set(SCOPE), selector)
    measured = facts.traffic
    assert measured is not None
    assert want.requests is not None
    assert want.errors is not None
    assert measured.requests == pytest.approx(want.requests, rel=COUNTER_REL[prometheus.kind])
    assert measured.errors == pytest.approx(want.errors, rel=COUNTER_REL[prometheus.kind])
    assert measured.error_ratio == pytest.approx(
        want.errors / want.requests, rel=COUNTER_REL[prometheus.kind]
    )
    assert measured.requests_per_second == pytest.approx(
        want.requests / window.seconds, rel=COUNTER_REL[prometheus.kind]
    )
    assert measured.latency.p50 == pytest.approx(want.p50, rel=COUNTER_REL[prometheus.kind])
    assert measured.latency.p95 == pytest.approx(want.p95, rel=COUNTER_REL[prometheus.kind])
    assert measured.latency.p99 == pytest.approx(want.p99, rel=COUNTER_REL[prometheus.kind])
    assert not facts.gaps


async def test_the_quoted_handler_is_a_part_of_all_traffic(
    prometheus: PrometheusServer, scenario: Scenario
) -> None:
    everything, _ = await collect(prometheus, WINDOW, traffic(job="checkout"))
    quoted, _ = await collect(prometheus, WINDOW, traffic(handler=QUOTED))
    assert everything.traffic is not None
    assert quoted.traffic is not None
    assert everything.traffic.requests is not None
    assert quoted.traffic.requests is not None
    assert 0 < quoted.traffic.requests < everything.traffic.requests


@pytest.mark.parametrize(
    "hostile",
    [
        'x"} or vector(1) or up{a="',
        '\\"} or vector(1) #',
        '"}) or vector(1) or sum(up{a="',
        "checkout\n",
    ],
)
async def test_an_injection_attempt_matches_nothing_and_runs(
    prometheus: PrometheusServer, hostile: str
) -> None:
    facts, _ = await collect(prometheus, WINDOW, traffic(job=hostile))
    assert facts.traffic is not None
    # Had the value escaped its literal, `or vector(1)` would have answered 1.
    assert facts.traffic.requests is None
    assert facts.traffic.latency.p95 is None
    reasons = [g.reason for g in facts.gaps if g.section == "traffic"]
    assert reasons
    assert all("matched" in reason for reason in reasons)
    assert not any("rejected" in g.reason for g in facts.gaps)


async def test_a_counter_without_code_labels_leaves_errors_unknown(
    prometheus: PrometheusServer,
) -> None:
    spec = TrafficSpec(requests_counter="kube_pod_container_status_restarts_total")
    facts, _ = await collect(prometheus, WINDOW, spec)
    assert facts.traffic is not None
    assert facts.traffic.requests is not None
    assert facts.traffic.errors is None
    assert facts.traffic.error_ratio is None
    assert [g.reason for g in facts.gaps if g.section == "traffic"] == [
        "kube_pod_container_status_restarts_total has no `code` label: errors are unknown"
    ]


def kpi(name: str, query: str, **extra: Any) -> KpiSpec:
    return KpiSpec(name=name, query=query, **extra)


async def test_kpis_run_with_the_window_substituted(
    prometheus: PrometheusServer, scenario: Scenario
) -> None:
    specs = (
        kpi(
            "checkout requests",
            'sum(increase(http_requests_total{namespace="shop"}[$__window]))',
            unit="requests",
            target="1000000",
            comparison=">=",
        ),
        kpi("several", "sum by (handler) (increase(http_requests_total[$__window]))"),
        kpi("nothing", "sum(no_such_metric)"),
        kpi("refused", "sum(rate(http_requests_total[$__window])) bogus"),
        kpi("scalar", 'scalar(count(up{namespace="shop"}))', target=99, comparison="<"),
    )
    facts, sent = await collect(prometheus, WINDOW, kpis=specs)
    assert sent == query_budget(Plan(kpis=specs))
    results = {k.name: k for k in facts.kpis}
    want = scenario.expected_traffic(WINDOW.start, WINDOW.end, {"shop"}, {})
    requests = results["checkout requests"]
    assert requests.query == 'sum(increase(http_requests_total{namespace="shop"}[86400s]))'
    assert requests.value == pytest.approx(want.requests, rel=COUNTER_REL[prometheus.kind])
    assert (requests.target, requests.comparison, requests.status) == (1e6, ">=", "met")
    before = scenario.expected_traffic(END - 2 * DAY, END - DAY, {"shop"}, {})
    assert requests.previous == pytest.approx(before.requests, rel=COUNTER_REL[prometheus.kind])
    assert requests.trend == "up"
    assert results["scalar"].value is not None
    assert results["scalar"].status == "met"
    gaps = {g.section: g.reason for g in facts.gaps}
    assert gaps["kpi several"] == (
        "the query returned 2 series; a KPI needs one value (aggregate it)"
    )
    assert gaps["kpi nothing"] == "the query returned no data"
    assert "rejected" in gaps["kpi refused"]
    for name in ("several", "nothing", "refused"):
        assert results[name].value is None
        assert results[name].status is None


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "schedule": "0 12 * * *",
        "window": {"duration": "24h"},
        "scope": {"namespaces": list(SCOPE)},
        "traffic": {
            "requestsCounter": "http_requests_total",
            "latencyHistogram": "http_request_duration_seconds",
            "selector": {"job": "checkout"},
        },
        **extra,
    }


async def report(
    prometheus: PrometheusServer, kube_api: KubeApi, spec: dict[str, Any]
) -> ReportData:
    request = ReportRequest(ScheduleIdentity("shop", "slo", "uid"), parse_spec(spec), WINDOW)
    sources = Sources(kube=kube_api, prometheus=PrometheusSettings(url=prometheus.url))
    return await collect_report(request, sources, lambda: datetime(2026, 11, 20, 12, 5, tzinfo=UTC))


async def test_objectives_are_judged_and_decide_the_status(
    prometheus: PrometheusServer, kube_api: KubeApi, scenario: Scenario
) -> None:
    objectives = [
        {"name": "loose availability", "metric": "availability", "target": "99"},
        {"name": "tight availability", "metric": "availability", "target": "99.9"},
        {"metric": "latencyP95", "target": "0.5"},
        {"metric": "errorRate", "target": 2},
        {"metric": "restarts", "target": 20},
    ]
    data = await report(prometheus, kube_api, _spec(objectives=objectives))
    results = {o.name: o for o in data.objectives}
    assert {name: o.status for name, o in results.items()} == {
        "loose availability": "met",  # 99.805% spends a fifth of a 1-point budget
        "tight availability": "missed",
        "latencyP95": "atRisk",  # 0.45 s is 90% of 0.5 s
        "errorRate": "met",
        "restarts": "met",
    }
    want = scenario.expected_traffic(WINDOW.start, WINDOW.end, set(SCOPE), {"job": "checkout"})
    assert want.errors is not None
    assert want.requests is not None
    assert results["errorRate"].actual == pytest.approx(
        100 * want.errors / want.requests, rel=COUNTER_REL[prometheus.kind]
    )
    assert results["errorRate"].unit == "%"
    assert results["latencyP95"].actual == pytest.approx(want.p95, rel=COUNTER_REL[prometheus.kind])
    assert results["restarts"].previous is not None
    assert results["restarts"].trend == "up"  # 9 restarts after 6 the day before
    assert data.status == "critical"
    assert any("tight availability" in reason for reason in data.status_reasons)
    assert not any(reason.startswith("Availability ") for reason in data.status_reasons)
    assert data.meta.prom_queries == query_budget(Plan(traffic=traffic()))


async def test_every_headline_has_a_trend(prometheus: PrometheusServer, kube_api: KubeApi) -> None:
    data = await report(prometheus, kube_api, _spec())
    trends = {t.figure: t for t in data.trends}
    assert set(trends) == {
        "availability.percent",
        "restarts.total",
        "scaling.rescales",
        "incidents.count",
        "incidents.downtimeSeconds",
        "alerts.count",
        "alerts.firingSeconds",
        "traffic.latency.p50",
        "traffic.latency.p95",
        "traffic.latency.p99",
        "traffic.errorRatio",
        "traffic.requestsPerSecond",
    }
    for trend in trends.values():
        assert trend.current is not None, trend.figure
        assert trend.previous is not None, trend.figure
        assert trend.direction is not None
    assert trends["availability.percent"].verdict == "worse"
    assert trends["scaling.rescales"].verdict is None  # neither more nor fewer is better
    assert data.traffic is not None
    assert trends["traffic.requestsPerSecond"].current == data.traffic.requests_per_second
