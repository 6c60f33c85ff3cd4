"""The Prometheus collector against a real Prometheus holding the demo scenario's history.

Every figure is compared with the scenario's answers, which the generator computes from the
samples it wrote, not by asking Prometheus.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from statistics import fmean

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusError, PrometheusSettings
from opsreport.collect.sections import Plan, query_budget
from opsreport.scheduling import Window
from tests.integration.conftest import (
    COUNTER_REL,
    DAY,
    END,
    RATE_REL,
    SCOPE,
    window_start_seen,
)
from tests.support.prometheus import PrometheusServer
from tests.support.scenario import ContainerUsage, Expected, Scenario
from tests.support.slowproxy import SlowProxy, prometheus_error

REL = 1e-9


_COLLECTED: dict[tuple[str, Window], tuple[MetricFacts, int]] = {}


async def collect(prometheus: PrometheusServer, window: Window) -> tuple[MetricFacts, int]:
    """One collection per window and Prometheus for the whole module (tests only read it)."""
    key = (prometheus.url, window)
    if key not in _COLLECTED:
        async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
            facts = await collect_metrics(client, queries.Scope(SCOPE), window)
            _COLLECTED[key] = (facts, client.queries_sent)
    return _COLLECTED[key]


@pytest.fixture
def expected(scenario: Scenario, window: Window, prometheus: PrometheusServer) -> Expected:
    return scenario.expected(window_start_seen(prometheus, window.start), window.end, set(SCOPE))


async def test_restarts_match_the_scenario(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.restarts is not None
    measured = {(r.namespace, r.pod, r.container): r.restarts for r in facts.restarts.top}
    assert measured == {key: n for key, n in expected.restarts_by_container.items() if n > 0}
    assert facts.restarts.total == expected.restarts_total
    reasons = {(r.namespace, r.pod, r.container): r.last_reason for r in facts.restarts.top}
    assert reasons == {key: expected.last_reason_by_container[key] for key in measured}
    assert [r.restarts for r in facts.restarts.top] == sorted(measured.values(), reverse=True)


async def test_restarts_by_reason_group_by_last_reason(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.restarts is not None
    by_reason: dict[str, int] = defaultdict(int)
    for key, count in expected.restarts_by_container.items():
        if count:
            by_reason[expected.last_reason_by_container[key]] += count
    assert facts.restarts.by_reason == dict(by_reason)


async def test_availability_is_the_share_of_successful_scrapes(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert expected.availability_ratio is not None
    assert facts.availability.successful_scrapes == expected.up_ones
    assert facts.availability.total_scrapes == expected.up_samples
    assert facts.availability.percent == pytest.approx(100 * expected.availability_ratio, rel=REL)
    assert facts.availability.percent < 100  # the scenario has a dip in each day


async def test_resources_per_workload_match(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.workloads is not None
    groups: dict[tuple[str, str, str, str], list[ContainerUsage]] = defaultdict(list)
    for usage in expected.containers.values():
        if usage.cpu_avg is None and usage.memory_avg is None:
            continue
        namespace, kind, name = usage.workload
        groups[(namespace, kind, name, usage.container)].append(usage)
    measured = {(w.namespace, w.kind, w.name, w.container): w for w in facts.workloads}
    assert set(measured) == set(groups)
    for key, usages in groups.items():
        workload = measured[key]
        assert workload.pods == len({u.pod for u in usages}), key
        cpu_avgs = [u.cpu_avg for u in usages if u.cpu_avg is not None]
        rate_rel = RATE_REL[prometheus.kind]
        assert workload.cpu.avg == pytest.approx(fmean(cpu_avgs), rel=rate_rel), key
        assert workload.cpu.p95 == pytest.approx(
            max(u.cpu_p95 for u in usages if u.cpu_p95 is not None), rel=rate_rel
        )
        assert workload.cpu.max == pytest.approx(
            max(u.cpu_max for u in usages if u.cpu_max is not None), rel=rate_rel
        )
        mem_avgs = [u.memory_avg for u in usages if u.memory_avg is not None]
        assert workload.memory.avg == pytest.approx(fmean(mem_avgs), rel=1e-6), key
        assert workload.memory.max == max(u.memory_max for u in usages if u.memory_max is not None)
        for field, values in (
            ("cpu.request", [u.cpu_request for u in usages]),
            ("cpu.limit", [u.cpu_limit for u in usages]),
            ("memory.request", [u.memory_request for u in usages]),
            ("memory.limit", [u.memory_limit for u in usages]),
        ):
            present = [v for v in values if v is not None]
            section, attribute = field.split(".")
            actual = getattr(getattr(workload, section), attribute)
            assert actual == (max(present) if present else None), (key, field)


async def test_a_container_without_limits_shows_none(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.workloads is not None
    unlimited = {
        (u.workload, u.container)
        for u in expected.containers.values()
        if u.memory_limit is None and u.memory_avg is not None
    }
    assert unlimited, "the scenario must include a container without a memory limit"
    for workload in facts.workloads:
        if ((workload.namespace, workload.kind, workload.name), workload.container) in unlimited:
            assert workload.memory.limit is None


async def test_out_of_scope_namespaces_are_excluded(
    prometheus: PrometheusServer, window: Window
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.workloads is not None
    assert facts.restarts is not None
    assert {w.namespace for w in facts.workloads} <= set(SCOPE)
    assert all(r.namespace in SCOPE for r in facts.restarts.top)


async def test_the_query_count_is_fixed_and_recorded(
    prometheus: PrometheusServer, window: Window
) -> None:
    facts, sent = await collect(prometheus, window)
    assert sent == len(facts.queries) == query_budget(Plan())
    assert not facts.gaps
    # Scope size does not change it: every namespace of the cluster costs the same.
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        everything = queries.Scope(("default", "kube-system", "payments", "shop"))
        await collect_metrics(client, everything, window)
        assert client.queries_sent == sent


async def test_an_unreachable_prometheus_leaves_gaps_not_numbers() -> None:
    settings = PrometheusSettings(url="http://127.0.0.1:9", retries=0, timeout_seconds=2)
    window = Window(END - DAY, END)
    async with PrometheusClient(settings) as client:
        facts = await collect_metrics(client, queries.Scope(SCOPE), window)
    assert facts.restarts is None
    assert facts.workloads is None
    assert facts.availability.percent is None
    assert {gap.section for gap in facts.gaps} == {
        "availability",
        "restarts",
        "resources",
        "throttling",
        "scaling",
        "workloads",
        "incidents",
        "alerts",
        "trends",
        "availability series",  # the replica series needs the autoscalers first: not sent
    }
    assert facts.series.availability is None
    assert facts.series.replicas is None
    assert facts.hpas is None
    assert facts.deployments is None
    assert facts.incidents is None
    assert facts.alerts is None
    assert facts.previous is None
    assert all("unreachable" in gap.reason for gap in facts.gaps)


async def test_hpa_rescales_and_peaks_match(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.hpas is not None
    measured = {(h.namespace, h.name): h for h in facts.hpas}
    assert set(measured) == set(expected.hpas)
    for key, hpa in expected.hpas.items():
        assert measured[key].rescales == hpa.rescales
        assert measured[key].peak_replicas == hpa.peak_replicas
        assert (measured[key].min_replicas, measured[key].max_replicas) == (
            hpa.min_replicas,
            hpa.max_replicas,
        )
        assert measured[key].seconds_at_max == hpa.seconds_at_max, key
        assert measured[key].seconds_not_at_desired == hpa.seconds_not_at_desired, key
    assert any(h.rescales for h in facts.hpas)
    # An HPA that never rescales is there, with zeros, not left out.
    steady = measured[("payments", "api")]
    assert (steady.rescales, steady.seconds_at_max, steady.peak_replicas) == (0, 0, 2)


async def test_cpu_throttling_per_workload(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts, _ = await collect(prometheus, window)
    assert facts.workloads is not None
    sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for usage in expected.containers.values():
        if usage.cpu_periods:
            key = (*usage.workload, usage.container)
            sums[key][0] += usage.cpu_throttled_periods or 0.0
            sums[key][1] += usage.cpu_periods
    measured = {
        (w.namespace, w.kind, w.name, w.container): w.cpu.throttled_ratio for w in facts.workloads
    }
    assert sums, "the scenario must have containers with a CPU limit"
    for key, ratio in measured.items():
        if key in sums:
            want = sums[key][0] / sums[key][1]
            assert ratio == pytest.approx(want, rel=COUNTER_REL[prometheus.kind]), key
            assert 0 < ratio < 0.2
        else:
            assert ratio is None, f"{key} has no CPU limit, so no CFS quota to be throttled by"


async def test_a_query_past_its_timeout_is_not_retried(prometheus: PrometheusServer) -> None:
    """A timed-out query is final: retrying would cost the same time again and load a Prometheus
    that is already too slow. Prometheus answers it (503 "timeout", or 422 "deadline exceeded"
    while still selecting series), or, on a loaded machine, the client's own wait runs out."""
    # Prometheus looks at the deadline between steps of the outer expression only: without the
    # `sum` an instant query's one step ends after the whole subquery, and succeeds.
    if getattr(prometheus, "kind", "") == "victoriametrics":
        pytest.skip(
            "VictoriaMetrics refuses this subquery outright (173,103 points > its 30,000 limit) and"
            " answers the largest it accepts within 0.05 s: no server timeout to provoke"
        )
    expensive = "sum(max_over_time(rate(container_cpu_usage_seconds_total[5m])[2d:1s]))"
    settings = PrometheusSettings(url="", timeout_seconds=0.05, retries=2, backoff_seconds=0.01)
    with SlowProxy(prometheus.url) as proxy:
        settings = dataclasses.replace(settings, url=proxy.url)
        async with PrometheusClient(settings) as client:
            with pytest.raises(PrometheusError) as error:
                await client.query(expensive, END)
        assert error.value.kind == "timeout"
        assert re.fullmatch(
            r"Prometheus (stopped evaluating the query at its 0\.05s timeout .*"
            r"|did not answer within 0\.05s)",
            str(error.value),
        ), error.value
        assert proxy.requests == 1
        # The same query with time to spare: so it was the timeout, not the query.
        settings = dataclasses.replace(settings, timeout_seconds=30)
        async with PrometheusClient(settings) as client:
            assert await client.query(expensive, END)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, prometheus_error("timeout", "query timed out in expression evaluation")),
        (422, prometheus_error("execution", "expanding series: context deadline exceeded")),
    ],
    ids=["evaluating", "selecting series"],
)
async def test_prometheus_own_timeout_answer_is_named(
    prometheus: PrometheusServer, status: int, body: dict[str, str]
) -> None:
    settings = PrometheusSettings(url="", timeout_seconds=30, retries=2, backoff_seconds=0.01)
    with SlowProxy(prometheus.url) as proxy, proxy.fault(status=status, body=body):
        async with PrometheusClient(dataclasses.replace(settings, url=proxy.url)) as client:
            with pytest.raises(PrometheusError, match=r"at its 30s timeout \(raise") as error:
                await client.query("up", END)
        assert error.value.kind == "timeout"
        assert proxy.requests == 1


async def test_answers_share_one_copy_of_each_label_string(prometheus: PrometheusServer) -> None:
    """The queries of a report name the same containers many times; their label strings are held
    once per client, not once per answer (10,000 pods: a dozen answers of 13,000 rows)."""
    by_container = "max by (namespace, pod, container) (kube_pod_container_status_restarts_total)"
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        first = await client.query(by_container, END)
        second = await client.query(f"{by_container} * 2", END)
        ranged = await client.query_range(by_container, END - DAY / 24, END, 600)
    assert first, "the scenario has restart counters"
    pods = {sample.labels["pod"]: sample.labels["pod"] for sample in first}
    for sample in second:
        assert sample.labels["pod"] is pods[sample.labels["pod"]]
    for row in ranged:
        assert row.labels["pod"] is pods[row.labels["pod"]]
    # A new client starts its own table: the strings are equal, not shared.
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        again = await client.query(by_container, END)
    assert {s.labels["pod"] for s in again} == set(pods)
    assert all(s.labels["pod"] is not pods[s.labels["pod"]] for s in again)
