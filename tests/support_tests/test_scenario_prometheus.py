"""The demo scenario's expected answers equal what a real Prometheus computes from its history.

The generator computes its answers in Python from the samples it writes; these tests are
what makes those answers trustworthy as oracles for the operator's own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.prometheus import PrometheusServer, blocks_for, prometheus_available
from tests.support.scenario import ContainerKey, Expected, Scenario, promql

pytestmark = pytest.mark.skipif(
    not prometheus_available(),
    reason="needs `prometheus` and `promtool` on PATH (Debian: apt-get install prometheus)",
)

# A fixed end keeps the cached blocks valid between runs; 5-minute aligned like a real report.
END = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WINDOWS = {
    "last-24h": (END - DAY, END),
    "previous-24h": (END - 2 * DAY, END - DAY),
}
SCOPE = frozenset({"shop", "payments"})
REL = 1e-6


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return Scenario.demo(END)


@pytest.fixture(scope="module")
def prometheus(
    demo: Scenario, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    cache = getattr(request.config, "cache", None)
    # pytest's cache dir survives runs and ignores itself in git; fall back to a tmp dir.
    cache_dir = cache.mkdir("opsreport-blocks") if cache else tmp_path_factory.mktemp("blocks")
    with PrometheusServer(blocks_for(demo, Path(cache_dir))) as server:
        yield server


@pytest.fixture(params=sorted(WINDOWS), scope="module")
def window(request: pytest.FixtureRequest) -> tuple[datetime, datetime]:
    start, end = WINDOWS[request.param]
    return start, end


def _by_container(vector: list[tuple[dict[str, str], float]]) -> dict[ContainerKey, float]:
    out: dict[ContainerKey, float] = {}
    for labels, value in vector:
        key = (labels["namespace"], labels["pod"], labels["container"])
        assert key not in out, f"two series for {key}"
        out[key] = value
    return out


def _queries(namespaces: frozenset[str] | None = None) -> dict[str, str]:
    return promql("24h", namespaces)


def _expected(demo: Scenario, window: tuple[datetime, datetime], scope: Any = None) -> Expected:
    return demo.expected(window[0], window[1], scope)


def test_restarts_per_container(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window)
    got = _by_container(prometheus.vector(_queries()["restarts"], window[1]))
    assert got == expected.restarts_by_container
    assert sum(got.values()) >= 5, "the demo should restart several containers per day"


@pytest.mark.parametrize("scope", [SCOPE, None], ids=["shop+payments", "all"])
def test_restarts_total(
    prometheus: PrometheusServer,
    demo: Scenario,
    window: tuple[datetime, datetime],
    scope: frozenset[str] | None,
) -> None:
    expected = _expected(demo, window, scope)
    [(_, total)] = prometheus.vector(_queries(scope)["restarts_total"], window[1])
    assert total == expected.restarts_total


def test_scope_excludes_kube_system(demo: Scenario) -> None:
    everything = _expected(demo, WINDOWS["last-24h"])
    scoped = _expected(demo, WINDOWS["last-24h"], SCOPE)
    assert any(ns == "kube-system" for ns, _, _ in everything.restarts_by_container)
    assert all(ns in SCOPE for ns, _, _ in scoped.restarts_by_container)
    assert scoped.restarts_total < everything.restarts_total


@pytest.mark.parametrize("scope", [SCOPE, None], ids=["shop+payments", "all"])
def test_availability_ratio_is_exact(
    prometheus: PrometheusServer,
    demo: Scenario,
    window: tuple[datetime, datetime],
    scope: frozenset[str] | None,
) -> None:
    expected = _expected(demo, window, scope)
    [(_, ratio)] = prometheus.vector(_queries(scope)["availability"], window[1])
    assert ratio == expected.availability_ratio
    assert expected.availability_ratio is not None
    assert 0.99 < expected.availability_ratio < 1
    assert expected.downtime_intervals


def test_checkout_dip_is_a_downtime(demo: Scenario) -> None:
    expected = _expected(demo, WINDOWS["last-24h"], SCOPE)
    dips = [d for d in expected.downtime_intervals if d.job == "checkout"]
    assert dips
    assert {d.end - d.start for d in dips} == {timedelta(minutes=10)}


@pytest.mark.parametrize("stat", ["avg", "p95", "max"])
def test_cpu_per_container(
    prometheus: PrometheusServer,
    demo: Scenario,
    window: tuple[datetime, datetime],
    stat: str,
) -> None:
    expected = _expected(demo, window)
    want = {
        key: value
        for key, usage in expected.containers.items()
        if (value := getattr(usage, f"cpu_{stat}")) is not None
    }
    got = _by_container(prometheus.vector(_queries()[f"cpu_{stat}"], window[1]))
    assert got.keys() == want.keys()
    assert got == {key: pytest.approx(value, rel=REL) for key, value in want.items()}


@pytest.mark.parametrize("stat", ["avg", "max"])
def test_memory_per_container(
    prometheus: PrometheusServer,
    demo: Scenario,
    window: tuple[datetime, datetime],
    stat: str,
) -> None:
    expected = _expected(demo, window)
    want = {
        key: value
        for key, usage in expected.containers.items()
        if (value := getattr(usage, f"memory_{stat}")) is not None
    }
    got = _by_container(prometheus.vector(_queries()[f"memory_{stat}"], window[1]))
    assert got.keys() == want.keys()
    assert got == {key: pytest.approx(value, rel=REL) for key, value in want.items()}


def test_oom_killed_container_reached_its_limit(demo: Scenario) -> None:
    expected = _expected(demo, WINDOWS["last-24h"])
    [key] = expected.oom_kills_by_container
    usage = expected.containers[key]
    assert usage.memory_max == usage.memory_limit


def test_hpa(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    [hpa] = _expected(demo, window).hpas.values()
    queries = _queries()
    for name, want in (
        ("hpa_rescales", hpa.rescales),
        ("hpa_peak", hpa.peak_replicas),
        ("hpa_samples_at_max", hpa.samples_at_max),
    ):
        got = {
            labels["horizontalpodautoscaler"]: value
            for labels, value in prometheus.vector(queries[name], window[1])
        }
        if name == "hpa_samples_at_max" and want == 0:
            assert got == {}, "no step at max: count_over_time has nothing to count"
        else:
            assert got == {hpa.name: want}, name
    assert hpa.rescales >= 4


def test_last_terminated_reason_at_window_end(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window)
    got: dict[ContainerKey, set[str]] = {}
    for labels, _ in prometheus.vector(_queries()["last_reason"], window[1]):
        key = (labels["namespace"], labels["pod"], labels["container"])
        got.setdefault(key, set()).add(labels["reason"])
    assert expected.last_reason_by_container
    for key, reason in expected.last_reason_by_container.items():
        if key[:2] in {(ns, pod) for ns, pod, _ in got}:  # the pod still exists at window end
            assert got[key] == {reason}, key


def _instant(prometheus: PrometheusServer, expr: str) -> dict[ContainerKey, dict[str, str]]:
    return {
        (labels["namespace"], labels["pod"], labels.get("container", "")): labels
        | {"__value__": str(value)}
        for labels, value in prometheus.vector(expr, END)
    }


def test_kube_objects_agree_with_prometheus_at_end(
    prometheus: PrometheusServer, demo: Scenario
) -> None:
    objects = demo.kube_objects()
    pods = [o for o in objects if o["kind"] == "Pod"]
    live = {(ns, pod) for ns, pod, _ in _instant(prometheus, "kube_pod_info")}
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods} == live

    restarts = _instant(prometheus, "kube_pod_container_status_restarts_total")
    reasons = _instant(prometheus, "kube_pod_container_status_last_terminated_reason")
    waiting = _instant(prometheus, "kube_pod_container_status_waiting_reason")
    for pod in pods:
        meta = pod["metadata"]
        for status in pod["status"]["containerStatuses"]:
            key = (meta["namespace"], meta["name"], status["name"])
            assert float(restarts[key]["__value__"]) == status["restartCount"]
            assert restarts[key]["uid"] == meta["uid"]
            terminated = status["lastState"].get("terminated")
            if terminated:
                assert reasons[key]["reason"] == terminated["reason"]
            else:
                assert key not in reasons
            if "waiting" in status["state"]:
                assert waiting[key]["reason"] == status["state"]["waiting"]["reason"]
            else:
                assert key not in waiting


def test_pod_to_workload_mapping_via_owner_series(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    """Pod -> ReplicaSet -> Deployment, as a report resolves it from kube-state-metrics."""
    end = window[1]
    replicasets = {
        (labels["namespace"], labels["replicaset"]): labels["owner_name"]
        for labels, _ in prometheus.vector("max_over_time(kube_replicaset_owner[24h])", end)
    }
    mapping: dict[tuple[str, str], tuple[str, str, str]] = {}
    for labels, _ in prometheus.vector("max_over_time(kube_pod_owner[24h])", end):
        ns, kind, name = labels["namespace"], labels["owner_kind"], labels["owner_name"]
        if kind == "ReplicaSet":
            kind, name = "Deployment", replicasets[(ns, name)]
        mapping[(ns, labels["pod"])] = (ns, kind, name)
    assert mapping == _expected(demo, window).pod_workloads
