"""The kubelet's cAdvisor endpoint scraped twice: kube-prometheus' `kubelet` job and the
Prometheus chart's `kubernetes-nodes-cadvisor` job (through the API server's node proxy).

Both jobs expose the same cgroups (same `id`) under the same namespace/pod/container labels. Every
CPU, memory and throttling figure must come out as with one scrape: not doubled, and a ratio not
merely right because both sides doubled. (A standalone cAdvisor writes no namespace at all: the
fixture library's `cadvisor-standalone*.om` show it is never counted.)
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.scheduling import Window
from tests.integration.conftest import SCOPE, blocks_cache
from tests.support.engines import EngineServer, serve_history
from tests.support.scenario import Expected, Scenario

JOBS = ("kubelet", "kubernetes-nodes-cadvisor")


@pytest.fixture(scope="module")
def twice_scraped(
    engine: str,
    scenario: Scenario,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineServer]:
    doubled = dataclasses.replace(scenario, cadvisor_jobs=JOBS)
    with serve_history(engine, doubled, blocks_cache(request, tmp_path_factory)) as server:
        yield server


async def _collect(server: EngineServer, window: Window) -> MetricFacts:
    async with PrometheusClient(PrometheusSettings(url=server.url)) as client:
        return await collect_metrics(client, queries.Scope(SCOPE), window)


def _vector(
    server: EngineServer,
    query: str,
    window: Window,
    by: tuple[str, ...] = ("namespace", "pod", "container"),
) -> dict[tuple[str, ...], float]:
    answer = httpx.get(
        f"{server.url}/api/v1/query", params={"query": query, "time": window.end.timestamp()}
    ).json()
    assert answer["status"] == "success", answer
    return {
        tuple(row["metric"].get(k, "") for k in by): float(row["value"][1])
        for row in answer["data"]["result"]
    }


def test_both_jobs_are_there_and_a_naive_sum_doubles(
    twice_scraped: EngineServer, prometheus: EngineServer, window: Window
) -> None:
    """The premise: without de-duplication, usage would be counted twice."""
    jobs = _vector(
        twice_scraped, "count by (job) (container_cpu_usage_seconds_total)", window, ("job",)
    )
    assert set(jobs) == {(job,) for job in JOBS}
    naive = 'sum(rate(container_cpu_usage_seconds_total{container!="",container!="POD"}[5m]))'
    [once] = _vector(prometheus, naive, window).values()
    [twice] = _vector(twice_scraped, naive, window).values()
    assert twice == pytest.approx(2 * once, rel=1e-9)


async def test_usage_and_throttling_are_counted_once(
    twice_scraped: EngineServer, prometheus: EngineServer, window: Window
) -> None:
    once, twice = await _collect(prometheus, window), await _collect(twice_scraped, window)
    assert not twice.gaps
    assert once.workloads  # the single-scrape figures are checked against the scenario elsewhere
    assert twice.workloads == once.workloads


def test_throttling_counters_match_the_scenario(
    twice_scraped: EngineServer, window: Window, scenario: Scenario
) -> None:
    """The CFS period counts themselves, not only their ratio, which doubling would not change."""
    expected: Expected = scenario.expected(window.start, window.end, set(SCOPE))
    window_seconds = int((window.end - window.start).total_seconds())
    for counter, figure in (("periods", "cpu_periods"), ("throttled", "cpu_throttled_periods")):
        query = queries.cpu_throttling(queries.Scope(SCOPE), window_seconds, counter)
        measured = _vector(twice_scraped, query, window)
        want: dict[tuple[str, ...], float] = defaultdict(float)
        for key, usage in expected.containers.items():
            value = getattr(usage, figure)
            if value is not None and usage.cpu_periods:
                want[key] += value
        assert want, "the scenario must have containers with a CPU limit"
        if twice_scraped.kind == "prometheus":
            assert measured == {key: pytest.approx(value, rel=1e-6) for key, value in want.items()}
        else:
            # No extrapolation: each cgroup that starts or stops inside the window counts what
            # its samples show, at most half a scrape (30 s of 10 periods a second) away from
            # Prometheus' stretched figure, for a container's few cgroups.
            assert set(measured) == set(want)
            for key, value in want.items():
                assert abs(value - measured[key]) <= 4 * 300, key
