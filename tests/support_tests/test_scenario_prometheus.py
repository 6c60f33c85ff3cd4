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
    hpas = _expected(demo, window).hpas
    queries = _queries()
    for name, figure in (
        ("hpa_rescales", "rescales"),
        ("hpa_peak", "peak_replicas"),
        ("hpa_samples_at_max", "samples_at_max"),
    ):
        got = {
            labels["horizontalpodautoscaler"]: value
            for labels, value in prometheus.vector(queries[name], window[1])
        }
        # count_over_time of nothing is no series: an HPA never at max has none.
        want = {name: getattr(h, figure) for (_, name), h in hpas.items()}
        assert got == {k: v for k, v in want.items() if v or name != "hpa_samples_at_max"}, name
    assert hpas[("shop", "checkout")].rescales >= 4
    assert hpas[("payments", "api")].rescales == 0


def _seconds(condition: str, step: int = 60) -> str:
    """Seconds in [start, end) when `condition` held: subquery steps moved off the end."""
    return f"{step} * count_over_time(({condition})[24h:{step}s] offset 1s)"


def test_hpa_time_not_at_desired(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    hpas = _expected(demo, window).hpas
    expr = _seconds(
        "kube_horizontalpodautoscaler_status_desired_replicas"
        " != kube_horizontalpodautoscaler_status_current_replicas"
    )
    got = {labels["horizontalpodautoscaler"]: v for labels, v in prometheus.vector(expr, window[1])}
    want = {name: h.seconds_not_at_desired for (_, name), h in hpas.items()}
    assert got == {k: v for k, v in want.items() if v}
    assert want["checkout"] >= 15 * 60 or window[1] != END


def test_deployments_unavailable_and_spec_changes(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window, SCOPE).deployments
    unavailable = 'kube_deployment_status_replicas_unavailable{namespace=~"payments|shop"}'
    for expr, figure in (
        (f"max_over_time({unavailable}[24h])", "max_unavailable"),
        (_seconds(f"{unavailable} > 0"), "seconds_unavailable"),
        (
            'changes(kube_deployment_metadata_generation{namespace=~"payments|shop"}[24h])',
            "spec_changes",
        ),
    ):
        got = {
            (labels["namespace"], labels["deployment"]): value
            for labels, value in prometheus.vector(expr, window[1])
        }
        want = {key: getattr(d, figure) for key, d in expected.items()}
        if figure == "seconds_unavailable":
            want = {key: v for key, v in want.items() if v}
        assert got == want, figure
    assert expected[("shop", "frontend")].spec_changes == (1 if window[1] == END else 0)


def _stretches(data: dict[str, Any], key: tuple[str, ...], end: datetime) -> dict[Any, set[int]]:
    """Points of a range query's series, by the labels in `key`, in [start, end)."""
    points: dict[Any, set[int]] = {}
    for row in data["result"]:
        label = tuple(row["metric"].get(k, "") for k in key)
        points.setdefault(label, set()).update(
            int(float(t)) for t, _ in row["values"] if float(t) < end.timestamp()
        )
    return points


def test_down_targets_are_the_incidents(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window, SCOPE)
    data = prometheus.query_range(
        'max by (namespace, job, pod) (max_over_time(up{namespace=~"payments|shop"}[59s])) == 0',
        window[0],
        window[1],
        60,
    )
    got = _stretches(data, ("namespace", "job", "pod"), window[1])
    lo, hi = int(window[0].timestamp()), int(window[1].timestamp())
    want: dict[Any, set[int]] = {}
    for d in expected.downtime_intervals:
        start, end = max(int(d.start.timestamp()), lo), min(int(d.end.timestamp()), hi)
        want.setdefault((d.namespace, d.job, d.pod), set()).update(range(start, end, 60))
    assert got == {key: points for key, points in want.items() if points}
    # Incidents are those points per job, as stretches: their total is the points' time.
    by_job: dict[tuple[str, str], set[int]] = {}
    for (namespace, job, _), points in got.items():
        by_job.setdefault((namespace, job), set()).update(points)
    for key, points in by_job.items():
        mine = [i for i in expected.incidents if (i.namespace, i.name) == key]
        assert sum((i.end - i.start).total_seconds() for i in mine) == 60 * len(points)


def test_firing_alerts(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window, SCOPE)
    data = prometheus.query_range(
        "max by (alertname, severity, namespace) "
        '(max_over_time(ALERTS{alertstate="firing",namespace=~"payments|shop"}[59s]))',
        window[0],
        window[1],
        60,
    )
    got = _stretches(data, ("alertname", "severity", "namespace"), window[1])
    assert {key: sum(60 for _ in points) for key, points in got.items()} == {
        (a.name, a.severity, a.namespace): a.duration_seconds for a in expected.alerts
    }
    ends = {
        (row["metric"]["alertname"], row["metric"]["namespace"])
        for row in data["result"]
        if float(row["values"][-1][0]) == window[1].timestamp()
    }
    assert ends == {(a.name, a.namespace) for a in expected.alerts if a.firing_at_end}


@pytest.mark.parametrize(
    "selector",
    [{"job": "checkout"}, {"handler": '/search?q="a\\b"'}],
    ids=["job", "quoted handler"],
)
def test_traffic(
    prometheus: PrometheusServer,
    demo: Scenario,
    window: tuple[datetime, datetime],
    selector: dict[str, str],
) -> None:
    want = demo.expected_traffic(window[0], window[1], SCOPE, selector)
    matchers = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in selector.items()
    )
    scoped = f'namespace=~"payments|shop",{matchers}'
    [(_, requests)] = prometheus.vector(
        f"sum(increase(http_requests_total{{{scoped}}}[24h]))", window[1]
    )
    [(_, errors)] = prometheus.vector(
        f'sum(increase(http_requests_total{{{scoped},code=~"5.."}}[24h]))', window[1]
    )
    assert requests == pytest.approx(want.requests, rel=REL)
    assert errors == pytest.approx(want.errors, rel=REL)
    buckets = f"sum by (le) (increase(http_request_duration_seconds_bucket{{{scoped}}}[24h]))"
    for q, value in (("0.5", want.p50), ("0.95", want.p95), ("0.99", want.p99)):
        [(_, got)] = prometheus.vector(f"histogram_quantile({q}, {buckets})", window[1])
        assert got == pytest.approx(value, rel=REL), q


def test_cpu_throttling(
    prometheus: PrometheusServer, demo: Scenario, window: tuple[datetime, datetime]
) -> None:
    expected = _expected(demo, window)
    for family, figure in (
        ("container_cpu_cfs_periods_total", "cpu_periods"),
        ("container_cpu_cfs_throttled_periods_total", "cpu_throttled_periods"),
    ):
        got = _by_container(
            prometheus.vector(
                f"sum by (namespace, pod, container) (increase({family}[24h]))", window[1]
            )
        )
        want = {
            key: value
            for key, usage in expected.containers.items()
            if (value := getattr(usage, figure)) is not None
        }
        assert got == {key: pytest.approx(value, rel=REL) for key, value in want.items()}
    limits = {key for key, u in expected.containers.items() if u.cpu_limit is not None}
    assert {key for key, u in expected.containers.items() if u.cpu_periods} <= limits


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
