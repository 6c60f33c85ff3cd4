"""Every figure on series shaped as the common monitoring stacks write them.

The fixtures (`tests/fixtures/series/*.om`, each one's upstream sources in
`tests/fixtures/README.md`) are small enough that every expected figure below is worked out by
hand from the file. The window is [11:30, 12:00) on 2026-11-20 (UTC); every file holds
one-minute scrapes from 11:20:30 to 11:59:30, so no sample lies on the window's edges.

How to check a figure with a pencil:
- A CPU counter that grows by N per scrape uses N/60 cores.
- CPU statistics are taken over the 5-minute rate at 11:35, 11:40, ..., 12:00. A rate whose
  five minutes hold a container's first or last samples is stretched by half a scrape at that
  end (Prometheus' extrapolation), never past zero.
- A workload's CPU and memory mean is the mean of its pods' means; p95 and max are the largest
  pod's.
- VictoriaMetrics stretches nothing: a 5-minute increase is the last sample in the five minutes
  less the one before them, or less zero for a series born inside them. So where a container
  starts or stops inside a rate's five minutes, its CPU figure there is what was seen, not more
  (the `by_engine` values below).

Figures that differ between engines by design name both values and say why (docs/collectors.md,
"Engines differ").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.model.report import WorkloadUsage
from opsreport.scheduling import Window
from tests.support.engines import ENGINES, EngineServer, engine_available, serve_openmetrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "series"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
WINDOW = Window(DAY.replace(hour=11, minute=30), DAY.replace(hour=12))
MiB = 1024 * 1024


def at(clock: str) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return DAY.replace(hour=hours, minute=minutes)


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if not engine_available(kind):
        pytest.fail(f"{kind} is not installed: run `make install`")
    return kind


def _collect(server: EngineServer, *namespaces: str) -> MetricFacts:
    async def collect() -> MetricFacts:
        async with PrometheusClient(PrometheusSettings(url=server.url)) as client:
            return await collect_metrics(client, queries.Scope(namespaces), WINDOW)

    return asyncio.run(collect())


def _facts(engine: str, fixture: str, tmp: Path, *namespaces: str) -> Iterator[MetricFacts]:
    with serve_openmetrics(engine, FIXTURES / fixture, tmp) as server:
        yield _collect(server, *namespaces)


def _workloads(facts: MetricFacts) -> dict[tuple[str, str, str, str], WorkloadUsage]:
    assert facts.workloads is not None, facts.gaps
    return {(w.namespace, w.kind, w.name, w.container): w for w in facts.workloads}


def _restarts(facts: MetricFacts) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    assert facts.restarts is not None, facts.gaps
    return {
        (r.namespace, r.pod, r.container): (r.restarts, r.last_reason) for r in facts.restarts.top
    }


def _gaps(facts: MetricFacts) -> set[str]:
    return {gap.section for gap in facts.gaps}


def by_engine(engine: str, *, prometheus: float, victoriametrics: float) -> float:
    """A CPU figure that differs by design: Prometheus extrapolates a rate's edges,
    VictoriaMetrics does not (docs/collectors.md, "Engines differ")."""
    return {"prometheus": prometheus, "victoriametrics": victoriametrics}[engine]


# ------------------------------------------------------------------ kube-prometheus


@pytest.fixture(scope="module")
def kube_prometheus(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFacts]:
    """kube-prometheus: kube-state-metrics behind a `labeldrop` of the target's pod, service,
    endpoint and namespace; the kubelet's cAdvisor with the pod-cgroup, sandbox and system rows.

    shop/web (Deployment, ReplicaSet web-6d4cf56db6): gvmx5 uses 12 CPU-seconds a scrape (0.2
    cores) and 150 MiB, is OOMKilled at 11:40:30 (a new cgroup from then on) and is throttled in
    120 of its 600 CFS periods a minute; n2lqs uses 0.1 cores and 50 MiB, is never throttled,
    and its target fails the scrapes from 11:45:30 to 11:49:30; q8zrt lives from 11:50:30 to
    11:54:30 at 0.1 cores and 50 MiB. The HPA goes 2 -> 3 at 11:50:30 and back at 11:55:30,
    one scrape after its desired count each time; the Deployment's generation grows 4 -> 5 -> 6
    with those rescales. KubePodNotReady is pending until 11:34:30 and fires 11:35:30-11:39:30.
    """
    yield from _facts(engine, "kube-prometheus.om", tmp_path_factory.mktemp("kp"), "shop")


def test_kube_prometheus_restarts(kube_prometheus: MetricFacts) -> None:
    assert _restarts(kube_prometheus) == {("shop", "web-6d4cf56db6-gvmx5", "web"): (1, "OOMKilled")}
    assert kube_prometheus.restarts is not None
    assert kube_prometheus.restarts.total == 1
    assert kube_prometheus.restarts.by_reason == {"OOMKilled": 1}


def test_kube_prometheus_resources_skip_sandbox_pod_and_system_rows(
    kube_prometheus: MetricFacts, engine: str
) -> None:
    [web] = _workloads(kube_prometheus).values()
    assert (web.namespace, web.kind, web.name, web.container) == (
        "shop",
        "Deployment",
        "web",
        "web",
    )
    assert web.pods == 3
    # Prometheus: each pod's rate is steady at every 5-minute point, (0.2 + 0.1 + 0.1) / 3.
    # VictoriaMetrics: gvmx5's new cgroup at 11:45 has used 54 CPU-seconds since it started
    # (0.18), q8zrt 27 by 11:55 (0.09): (5 * 0.2 + 0.18) / 6, 0.1 and 0.09, over 3.
    assert web.cpu.avg == pytest.approx(
        by_engine(
            engine,
            prometheus=0.4 / 3,
            victoriametrics=((5 * 0.2 + 0.18) / 6 + 0.1 + 0.09) / 3,
        )
    )
    assert web.cpu.p95 == pytest.approx(0.2)
    assert web.cpu.max == pytest.approx(0.2)
    assert (web.cpu.request, web.cpu.limit) == (0.25, 0.5)
    assert web.memory.avg == pytest.approx((150 + 50 + 50) / 3 * MiB)
    assert web.memory.max == 150 * MiB
    assert (web.memory.request, web.memory.limit) == (128 * MiB, 256 * MiB)
    # Prometheus: periods over the window are gvmx5's 10 + 20 scrapes' worth (its two cgroups),
    # n2lqs' 30, q8zrt's 5, at 600 each; throttled, gvmx5's 30 at 120. VictoriaMetrics counts
    # what the samples show: a new cgroup's first sample (half a scrape's worth) and the
    # increases after it, so gvmx5's new cgroup is 19.5 scrapes' worth and q8zrt's 4.5.
    assert web.cpu.throttled_ratio == pytest.approx(
        by_engine(
            engine,
            prometheus=30 * 120 / (65 * 600),
            victoriametrics=29.5 * 120 / ((10 + 19.5 + 30 + 4.5) * 600),
        )
    )


def test_kube_prometheus_scaling_rollouts_availability(kube_prometheus: MetricFacts) -> None:
    [hpa] = kube_prometheus.hpas or []
    assert (hpa.namespace, hpa.name, hpa.rescales, hpa.peak_replicas) == ("shop", "web", 2, 3)
    assert (hpa.min_replicas, hpa.max_replicas, hpa.seconds_at_max) == (2, 4, 0)
    assert hpa.seconds_not_at_desired == 120  # a minute behind, twice
    deployment = (kube_prometheus.deployments or {})[("shop", "web")]
    assert deployment.spec_changes == 2
    assert deployment.max_unavailable_replicas == 1
    assert deployment.seconds_unavailable == 300
    # 30 + 30 + 5 scrapes in the window, 5 of them failed.
    assert kube_prometheus.availability.total_scrapes == 65
    assert kube_prometheus.availability.successful_scrapes == 60
    [incident] = kube_prometheus.incidents or []
    assert (incident.job, incident.targets) == ("web", ["web-6d4cf56db6-n2lqs"])
    assert incident.duration_seconds == 300
    [alert] = kube_prometheus.alerts or []
    assert (alert.name, alert.severity, alert.namespace) == ("KubePodNotReady", "warning", "shop")
    assert alert.duration_seconds == 300  # firing only; pending does not count
    assert not kube_prometheus.gaps


# ------------------------------------------------------------------ kube-prometheus-stack


@pytest.fixture(scope="module")
def stack(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFacts]:
    """kube-prometheus-stack, two kube-state-metrics replicas: `honorLabels` adds each replica's
    own `pod`, `container`, `service` and `endpoint` to series that have none
    (`kube_replicaset_owner` among them), and every kube-state-metrics series comes twice. The
    kubelet's optional /metrics/resource and /metrics/probes endpoints are on, so CPU and memory
    come from cAdvisor and from the resource endpoint.

    monitoring/kps-operator: one pod at 3 CPU-seconds a scrape (0.05 cores), 40 MiB, throttled
    in 30 of 600 periods, restarted (Error) at 11:40:30. monitoring/kps-kube-state-metrics: two
    pods at 0.1 cores and 100 MiB; each replica also writes the series that name the other.
    """
    yield from _facts(
        engine, "kube-prometheus-stack.om", tmp_path_factory.mktemp("kps"), "monitoring"
    )


def test_stack_counts_each_kube_state_metrics_series_once(stack: MetricFacts) -> None:
    assert _restarts(stack) == {
        ("monitoring", "kps-operator-5b8f6c7d9-hw2rd", "kube-prometheus-stack"): (1, "Error")
    }
    workloads = _workloads(stack)
    ksm = workloads[("monitoring", "Deployment", "kps-kube-state-metrics", "kube-state-metrics")]
    assert (ksm.cpu.request, ksm.memory.request, ksm.memory.limit) == (0.1, 128 * MiB, 256 * MiB)


def test_stack_owner_rows_are_told_apart_by_metric_not_by_labels(stack: MetricFacts) -> None:
    """Every ReplicaSet row carries a kube-state-metrics pod's name: neither pod may be taken
    for the operator's."""
    workloads = _workloads(stack)
    assert set(workloads) == {
        ("monitoring", "Deployment", "kps-kube-state-metrics", "kube-state-metrics"),
        ("monitoring", "Deployment", "kps-operator", "kube-prometheus-stack"),
    }
    assert (
        workloads[("monitoring", "Deployment", "kps-kube-state-metrics", "kube-state-metrics")].pods
        == 2
    )


def test_stack_usage_is_not_doubled_by_the_resource_endpoint(
    stack: MetricFacts, engine: str
) -> None:
    workloads = _workloads(stack)
    operator = workloads[("monitoring", "Deployment", "kps-operator", "kube-prometheus-stack")]
    # VictoriaMetrics: at 11:45 the new cgroup has used 13.5 CPU-seconds (0.045).
    assert operator.cpu.avg == pytest.approx(
        by_engine(engine, prometheus=0.05, victoriametrics=(5 * 0.05 + 0.045) / 6)
    )
    assert (operator.cpu.p95, operator.cpu.max) == pytest.approx((0.05, 0.05))
    assert (operator.memory.avg, operator.memory.max) == (40 * MiB, 40 * MiB)
    assert operator.cpu.throttled_ratio == pytest.approx(30 / 600)
    ksm = workloads[("monitoring", "Deployment", "kps-kube-state-metrics", "kube-state-metrics")]
    assert (ksm.cpu.avg, ksm.cpu.max) == pytest.approx((0.1, 0.1))
    assert ksm.memory.max == 100 * MiB
    # Three scrape targets, 30 scrapes each, none failed.
    assert (stack.availability.successful_scrapes, stack.availability.total_scrapes) == (90, 90)
    assert not stack.gaps


# ------------------------------------------------------------------ churn


@pytest.fixture(scope="module")
def churn(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFacts]:
    """kube-prometheus labels; kube-state-metrics restarts at 11:48 (its last scrape as
    10.244.0.15 at 11:46:30, its first as 10.244.2.31 at 11:48:30), so every series it writes
    goes stale and comes back under a new `instance`.

    payments/ledger-0 (StatefulSet): uid a on node-a restarts (Error) at 11:33:30 and 11:38:30,
    is deleted after 11:43:30 and recreated on node-b as uid b at 11:45:30, which is OOMKilled
    at 11:52:30. Each container run is a new cAdvisor cgroup at 18 CPU-seconds a scrape (0.3
    cores) and 200 MiB. payments/api restarts (Error) at 11:40:30, before kube-state-metrics'
    restart, and at 11:55:30, after it; its HPA goes 1 -> 2 at 11:44:30 and back at 11:54:30,
    its generation 7 -> 8 -> 9 with them. The fixture has no `up` series.
    """
    yield from _facts(engine, "churn.om", tmp_path_factory.mktemp("churn"), "payments")


def test_churn_restarts_of_a_recreated_pod_and_across_a_kube_state_metrics_restart(
    churn: MetricFacts,
) -> None:
    assert _restarts(churn) == {
        ("payments", "ledger-0", "ledger"): (3, "OOMKilled"),  # 2 as uid a, 1 as uid b
        ("payments", "api-7f9c8d6b5-4xk2p", "api"): (2, "Error"),
    }
    assert churn.restarts is not None
    assert churn.restarts.by_reason == {"OOMKilled": 3, "Error": 2}


def test_churn_rescales_and_rollouts_across_a_kube_state_metrics_restart(
    churn: MetricFacts,
) -> None:
    [hpa] = churn.hpas or []
    assert (hpa.name, hpa.rescales, hpa.peak_replicas, hpa.seconds_not_at_desired) == (
        "api",
        2,
        2,
        0,
    )
    assert (churn.deployments or {})[("payments", "api")].spec_changes == 2


def test_churn_usage_of_a_pod_that_moved(churn: MetricFacts, engine: str) -> None:
    ledger = _workloads(churn)[("payments", "StatefulSet", "ledger", "ledger")]
    assert ledger.pods == 1  # one name, two uids
    assert (ledger.cpu.request, ledger.cpu.limit) == (0.5, 1.0)
    assert (ledger.memory.avg, ledger.memory.max) == (200 * MiB, 200 * MiB)
    # Prometheus: the 5-minute rates at 11:35 ... 12:00 are 0.3 but at 11:45, whose five minutes
    # hold uid a's last 3 of them (4 minutes with the half-scrape stretch) and nothing of uid b:
    # 0.24. VictoriaMetrics: what the samples show, 81 CPU-seconds in each five minutes with a
    # cgroup born in them (11:35, 11:40, 11:50, 11:55), 72 at 11:45, 90 at 12:00.
    assert ledger.cpu.avg == pytest.approx(
        by_engine(
            engine, prometheus=(5 * 0.3 + 0.24) / 6, victoriametrics=(4 * 0.27 + 0.24 + 0.3) / 6
        )
    )
    # p95 of six points is 3/4 of the way from the fifth to the sixth, sorted.
    assert ledger.cpu.p95 == pytest.approx(
        by_engine(engine, prometheus=0.3, victoriametrics=0.27 + 0.75 * 0.03)
    )
    assert ledger.cpu.max == pytest.approx(0.3)
    # The ledger has a CPU limit but the fixture no CFS series: said, not invented.
    assert {"availability", "incidents", "throttling"} == _gaps(churn)
    assert ledger.cpu.throttled_ratio is None


# ------------------------------------------------------------------ init containers, sidecars


@pytest.fixture(scope="module")
def init_containers(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricFacts]:
    """shop/checkout-5f7b9c6d4-zt7km, created 11:31:30: the init container `migrate` fails
    (Error) once and runs again at 11:32:30; the native sidecar `istio-proxy` (restartPolicy
    Always) starts 11:33:30 at 3 CPU-seconds a scrape and 60 MiB and is OOMKilled at 11:50:30;
    `checkout` starts 11:34:30 at 0.2 cores. shop/report-worker uses Kubernetes 1.34 pod-level
    resources: its container has no request or limit of its own."""
    yield from _facts(
        engine, "init-and-sidecar-containers.om", tmp_path_factory.mktemp("init"), "shop"
    )


def test_init_and_sidecar_restarts_count(init_containers: MetricFacts) -> None:
    assert _restarts(init_containers) == {
        ("shop", "checkout-5f7b9c6d4-zt7km", "migrate"): (1, "Error"),
        ("shop", "checkout-5f7b9c6d4-zt7km", "istio-proxy"): (1, "OOMKilled"),
    }


def test_init_and_sidecar_containers_are_rows_of_their_workload(
    init_containers: MetricFacts, engine: str
) -> None:
    workloads = _workloads(init_containers)
    sidecar = workloads[("shop", "Deployment", "checkout", "istio-proxy")]
    assert (sidecar.cpu.request, sidecar.memory.request, sidecar.memory.limit) == (
        0.1,
        128 * MiB,
        256 * MiB,
    )
    # Prometheus: at 11:35 two samples, stretched half a scrape each way, 6 CPU-seconds in
    # 300 s; 0.05 at 11:40 ... 12:00. VictoriaMetrics: 4.5 CPU-seconds at 11:35, 13.5 at 11:55
    # (the restarted sidecar's first samples), else 15.
    assert sidecar.cpu.avg == pytest.approx(
        by_engine(
            engine,
            prometheus=(0.02 + 5 * 0.05) / 6,
            victoriametrics=(4.5 + 4 * 15 + 13.5) / 300 / 6,
        )
    )
    assert sidecar.memory.max == 60 * MiB
    migrate = workloads[("shop", "Deployment", "checkout", "migrate")]
    # One sample per run: a memory figure but no rate on Prometheus, which needs two samples.
    # VictoriaMetrics answered 0 for these lone samples 60 and 120 s into the five minutes (and
    # counts `checkout`'s, 270 s in, from zero: below).
    single_sample = {"prometheus": None, "victoriametrics": 0.0}[engine]
    assert (migrate.cpu.avg, migrate.cpu.request, migrate.memory.max) == (
        single_sample,
        0.2,
        20 * MiB,
    )
    checkout = workloads[("shop", "Deployment", "checkout", "checkout")]
    # Prometheus: no rate at 11:35 (one sample), 0.2 after. VictoriaMetrics: 6 CPU-seconds at
    # 11:35, the lone first sample counted from zero.
    assert checkout.cpu.avg == pytest.approx(
        by_engine(engine, prometheus=0.2, victoriametrics=(6 / 300 + 5 * 0.2) / 6)
    )
    assert checkout.cpu.throttled_ratio == 0.0


def test_pod_level_resources_leave_the_container_without_a_request(
    init_containers: MetricFacts,
) -> None:
    """kube-state-metrics writes no series for pod.spec.resources; the report does not share
    the pod's budget out among its containers."""
    worker = _workloads(init_containers)[("shop", "Deployment", "report-worker", "worker")]
    assert worker.cpu.avg == pytest.approx(0.15)
    assert (worker.cpu.request, worker.cpu.limit) == (None, None)
    assert (worker.memory.request, worker.memory.limit) == (None, None)


# ------------------------------------------------------------------ owners


@pytest.mark.parametrize("version", ["2.7.0", "2.19.0"])
def test_owners_resolve_to_the_workload(engine: str, version: str, tmp_path: Path) -> None:
    """kube-state-metrics 2.7 writes "<none>" for no owner, 2.8 and later empty labels."""
    [facts] = _facts(engine, f"owners-ksm-{version}.om", tmp_path, "ops")
    assert {(kind, name): w.pods for (_, kind, name, _), w in _workloads(facts).items()} == {
        ("Pod", "debug-shell"): 1,
        ("CronJob", "nightly-backup"): 1,  # its Job nightly-backup-29398560
        ("Job", "adhoc-reindex"): 1,  # a Job of no CronJob
        ("DaemonSet", "node-exporter"): 2,
        ("StatefulSet", "postgres"): 1,
        ("Rollout", "storefront"): 1,  # an Argo Rollout's ReplicaSet
        ("ReplicaSet", "legacy-7d9f6b8c5"): 1,  # a ReplicaSet of no Deployment
    }


# ------------------------------------------------------------------ standalone cAdvisor


def test_standalone_cadvisor_alone_is_a_data_gap(engine: str, tmp_path: Path) -> None:
    """A standalone cAdvisor writes its containers' runtime labels as `container_label_*`, and no
    namespace: nothing in scope, and the report says so."""
    [facts] = _facts(engine, "cadvisor-standalone.om", tmp_path, "shop")
    assert facts.workloads == []
    [gap] = [gap for gap in facts.gaps if gap.section == "resources"]
    assert "standalone cAdvisor" in gap.reason
    assert _restarts(facts) == {("shop", "web-6d4cf56db6-gvmx5", "web"): (1, "Error")}


def test_standalone_cadvisor_is_not_taken_for_its_own_pod(engine: str, tmp_path: Path) -> None:
    """Scraped without honorLabels, its series carry the cAdvisor pod's namespace (monitoring),
    pod and container: a scope with that namespace must not count the node's containers as
    cAdvisor's own usage."""
    [facts] = _facts(engine, "cadvisor-standalone.om", tmp_path, "shop", "monitoring")
    assert facts.workloads == []


def test_kubelet_resource_endpoint_alone_gives_usage(engine: str, tmp_path: Path) -> None:
    """The kubelet's resource endpoint (no `id`; a restart resets the counter in the same series)
    beside a standalone cAdvisor: 12 CPU-seconds a scrape, 150 MiB."""
    [facts] = _facts(engine, "cadvisor-standalone-and-kubelet-resource.om", tmp_path, "shop")
    [web] = _workloads(facts).values()
    # VictoriaMetrics: at 11:45 the restarted counter shows 54 CPU-seconds since its reset.
    assert web.cpu.avg == pytest.approx(
        by_engine(engine, prometheus=0.2, victoriametrics=(0.18 + 5 * 0.2) / 6)
    )
    assert (web.cpu.p95, web.cpu.max) == pytest.approx((0.2, 0.2))
    assert (web.memory.avg, web.memory.max) == (150 * MiB, 150 * MiB)
    # The resource endpoint has no CFS counters.
    assert web.cpu.throttled_ratio is None
    assert "throttling" in _gaps(facts)
