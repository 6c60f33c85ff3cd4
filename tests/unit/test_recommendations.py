"""Recommendations: each rule fires on measured figures only, and explains itself with them."""

from __future__ import annotations

from opsreport.model.report import (
    CpuUsage,
    HpaActivity,
    MemoryUsage,
    ReportData,
    Resources,
    RestartRow,
    Restarts,
    Scaling,
    WaitingContainer,
    WorkloadUsage,
)
from opsreport.render.recommendations import Recommendation, recommend
from tests.golden.scenario import MIB, full_report, sparse_report


def bare() -> ReportData:
    report = sparse_report()
    report.data_gaps = []
    return report


def workload(cpu: CpuUsage | None = None, memory: MemoryUsage | None = None) -> WorkloadUsage:
    return WorkloadUsage(
        namespace="shop",
        kind="Deployment",
        name="api",
        container="api",
        pods=2,
        cpu=cpu or CpuUsage(),
        memory=memory or MemoryUsage(),
    )


def only(report: ReportData, kind: str) -> list[Recommendation]:
    return [r for r in recommend(report) if r.kind == kind]


def with_workload(w: WorkloadUsage) -> ReportData:
    report = bare()
    report.resources = Resources(workloads=[w])
    return report


def test_cpu_request_is_right_sized_to_p95() -> None:
    over = with_workload(workload(cpu=CpuUsage(p95=0.123, max=0.3, request=1.0)))
    (rec,) = only(over, "cpu-request")
    assert rec.action == "Lower the CPU request from 1 to 130m."  # rounded up to 10m
    assert rec.priority == "low"
    assert "p95 was 123m, peak 300m" in rec.evidence
    assert "88% of the request went unused" in rec.evidence
    under = with_workload(workload(cpu=CpuUsage(p95=0.5, request=0.25)))
    (rec,) = only(under, "cpu-request")
    assert (rec.priority, rec.action) == ("high", "Raise the CPU request from 250m to 500m.")
    missing = with_workload(workload(cpu=CpuUsage(p95=0.2)))
    assert only(missing, "cpu-request")[0].action == "Set a CPU request of 200m."


def test_small_cpu_differences_are_left_alone() -> None:
    assert not only(with_workload(workload(cpu=CpuUsage(p95=0.21, request=0.25))), "cpu-request")
    assert not only(with_workload(workload(cpu=CpuUsage(p95=0.01, request=0.05))), "cpu-request")
    assert not only(with_workload(workload(cpu=CpuUsage(request=1.0))), "cpu-request")


def test_memory_request_is_peak_plus_15_percent() -> None:
    report = with_workload(
        workload(memory=MemoryUsage(max=480 * MIB, request=256 * MIB, limit=1024 * MIB))
    )
    (rec,) = only(report, "memory-request")
    assert rec.action == "Raise the memory request from 256.0 MiB to 552.0 MiB."
    assert "peaked at 480.0 MiB; the peak plus 15% is 552.0 MiB" in rec.evidence
    close = with_workload(
        workload(memory=MemoryUsage(max=480 * MIB, request=560 * MIB, limit=1024 * MIB))
    )
    assert not only(close, "memory-request")


def test_a_container_without_memory_limit_gets_one() -> None:
    report = with_workload(workload(memory=MemoryUsage(max=100 * MIB, request=200 * MIB)))
    (rec,) = only(report, "memory-limit")
    assert rec.action == "Add a memory limit of 200.0 MiB."  # at least the request
    assert "no memory limit" in rec.evidence
    measured_with_limit = with_workload(
        workload(memory=MemoryUsage(max=100 * MIB, limit=128 * MIB))
    )
    assert not only(measured_with_limit, "memory-limit")
    unmeasured = with_workload(workload(memory=MemoryUsage()))
    assert not only(unmeasured, "memory-limit")


def test_an_oomkill_raises_the_limit_of_its_workload() -> None:
    report = with_workload(
        workload(memory=MemoryUsage(max=500 * MIB, request=256 * MIB, limit=512 * MIB))
    )
    report.restarts = Restarts(
        total=2,
        by_reason={"OOMKilled": 2},
        top=[
            RestartRow(
                namespace="shop",
                pod="api-7d9f-x2",
                container="api",
                restarts=2,
                last_reason="OOMKilled",
            )
        ],
    )
    (rec,) = only(report, "oom")
    assert rec.target == "shop/api (Deployment), container api"
    assert rec.action.startswith("Raise the memory limit from 512.0 MiB to 640.0 MiB (+25%)")
    assert "OOMKilled 2 times" in rec.evidence
    assert rec.priority == "high"


def test_an_oomkill_without_usage_still_says_what_happened() -> None:
    report = full_report()
    report.resources = Resources()
    (rec,) = only(report, "oom")
    assert rec.target == "shop/db-0, container db"
    assert "not measured" in rec.evidence


def test_an_oomkill_goes_to_the_longest_workload_name_its_pod_starts_with() -> None:
    def usage(namespace: str, name: str, container: str, limit: int) -> WorkloadUsage:
        return WorkloadUsage(
            namespace=namespace,
            kind="Deployment",
            name=name,
            container=container,
            pods=1,
            cpu=CpuUsage(),
            memory=MemoryUsage(limit=limit * MIB),
        )

    report = bare()
    report.resources = Resources(
        workloads=[
            usage("shop", "api", "app", 100),
            usage("shop", "api-v2", "app", 200),
            usage("shop", "api-v2", "app", 300),  # a duplicate row: the first one counts
            usage("shop", "api-v2", "proxy", 400),
            usage("other", "api-v2-7d9f", "app", 500),
        ]
    )
    pods = ["api-v2-7d9f-x2", "api-7d9f-k8", "apiserver-0", "api"]
    report.restarts = Restarts(
        total=len(pods),
        by_reason={"OOMKilled": len(pods)},
        top=[
            RestartRow(
                namespace="shop", pod=pod, container="app", restarts=1, last_reason="OOMKilled"
            )
            for pod in pods
        ],
    )
    found = {r.target: r.action for r in only(report, "oom")}
    assert found == {
        "shop/api-v2 (Deployment), container app": (
            "Raise the memory limit from 200.0 MiB to 250.0 MiB (+25%), or find what allocates."
        ),
        "shop/api (Deployment), container app": (
            "Raise the memory limit from 100.0 MiB to 125.0 MiB (+25%), or find what allocates."
        ),
        "shop/apiserver-0, container app": "Raise its memory limit, or find what allocates.",
    }


def test_an_hpa_pinned_at_its_max_is_flagged_with_time_at_max() -> None:
    report = bare()
    report.scaling = Scaling(
        hpas=[
            HpaActivity(
                namespace="shop",
                name="api",
                min_replicas=2,
                max_replicas=6,
                rescales=3,
                peak_replicas=6,
                seconds_at_max=7500,
            ),
            HpaActivity(namespace="shop", name="web", max_replicas=10, rescales=1, peak_replicas=4),
            HpaActivity(namespace="shop", name="cold", max_replicas=3, rescales=None),
        ]
    )
    (rec,) = only(report, "hpa-max")
    assert rec.target == "shop/api (HorizontalPodAutoscaler)"
    assert rec.priority == "high"  # at its maximum for more than an hour
    assert "stayed there for 2h 5m" in rec.evidence
    assert "Raise maxReplicas above 6 (for example to 9)" in rec.action


def test_crashloop_is_investigated_with_its_history() -> None:
    report = full_report()
    (rec,) = only(report, "crashloop")
    assert rec.target == "shop/api-7d9f-x2, container api"
    assert "kubectl logs -n shop api-7d9f-x2 -c api --previous" in rec.action
    assert "restarted 4 times in the window, last terminated Error, exit code 1" in rec.evidence
    quiet = bare()
    quiet.pods.waiting = [
        WaitingContainer(namespace="shop", pod="p", container="c", reason="ImagePullBackOff")
    ]
    assert not only(quiet, "crashloop")


def test_nothing_measured_means_no_advice() -> None:
    assert recommend(sparse_report()) == []


def test_most_urgent_first_and_stable() -> None:
    recommendations = recommend(full_report())
    priorities = [r.priority for r in recommendations]
    assert priorities == sorted(priorities, key=["high", "medium", "low"].index)
    assert recommend(full_report()) == recommendations
