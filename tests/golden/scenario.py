"""Fixed reports for the render, golden and browser tests: every section filled, and a sparse one.

Invented for tests only: a shop's day in Berlin with a crash loop, an OOMKill, an autoscaler at
its maximum, an outage and the alerts it fired. Times are fixed, so output is byte-for-byte stable.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from opsreport.collect import series
from opsreport.model import figures
from opsreport.model.assessment import assess
from opsreport.model.report import (
    Alert,
    Availability,
    Condition,
    CpuUsage,
    DataGap,
    FailureEvents,
    HpaActivity,
    Incident,
    KpiResult,
    KubeEvent,
    Latency,
    MemoryUsage,
    Meta,
    Nodes,
    ObjectiveResult,
    Pods,
    Point,
    QueryRecord,
    ReplicaSeries,
    ReportData,
    Resources,
    RestartRow,
    Restarts,
    Rollout,
    Scaling,
    ScheduleRef,
    ScopeData,
    TerminatedContainer,
    TimeSeries,
    Traffic,
    Trend,
    WaitingContainer,
    Week,
    WindowData,
    WorkloadStatus,
    WorkloadUsage,
)
from opsreport.scheduling import Window

START = datetime(2026, 11, 21, 6, tzinfo=UTC)
END = START + timedelta(days=1)
MIB = 2**20


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def _usage(
    name: str,
    container: str,
    *,
    pods: int,
    cpu: tuple[float, float, float, float | None, float | None],
    memory: tuple[float, float, float | None, float | None],
    kind: str = "Deployment",
    throttled: float | None = None,
) -> WorkloadUsage:
    avg, p95, peak, request, limit = cpu
    mem_avg, mem_peak, mem_request, mem_limit = memory
    return WorkloadUsage(
        namespace="shop",
        kind=kind,
        name=name,
        container=container,
        pods=pods,
        cpu=CpuUsage(
            avg=avg,
            p95=p95,
            max=peak,
            request=request,
            limit=limit,
            throttled_ratio=throttled,
        ),
        memory=MemoryUsage(avg=mem_avg, max=mem_peak, request=mem_request, limit=mem_limit),
    )


STEP = 120


def _latency_points() -> list[Point]:
    """p95 every 2 minutes: a daily swell, a spike in the outage, no requests for 15 minutes."""
    out: list[Point] = []
    for i in range(24 * 3600 // STEP):
        hours = i * STEP / 3600
        value: float | None = round(0.2 + 0.08 * math.sin(2 * math.pi * hours / 24), 3)
        if 14 <= hours < 14.5:
            value = 0.95
        elif 20 <= hours < 20.25:
            value = None
        out.append((_at(hours), value))
    return [p for i, p in enumerate(out) if i == 0 or out[i - 1][1] != p[1]]


def _series() -> TimeSeries:
    return TimeSeries(
        step_seconds=STEP,
        availability=[
            (START, 100.0),
            (_at(14), 60.0),
            (_at(14.5), 100.0),
            (_at(20), None),  # Prometheus scraped nothing in scope: a gap, not a zero
            (_at(20.25), 100.0),
        ],
        replicas=[
            ReplicaSeries(
                namespace="shop",
                name="api",
                rescales=4,
                current=[
                    (START, 2.0),
                    (_at(8.1), 4.0),
                    (_at(9.1), 6.0),
                    (_at(22), 4.0),
                    (_at(22.5), 6.0),
                ],
                desired=[
                    (START, 2.0),
                    (_at(8), 4.0),
                    (_at(9), 6.0),
                    (_at(21.9), 4.0),
                    (_at(22.4), 6.0),
                ],
            ),
            # Never rescaled: a flat line at its minimum.
            ReplicaSeries(
                namespace="shop",
                name="web",
                rescales=0,
                current=[(START, 2.0)],
                desired=[(START, 2.0)],
            ),
        ],
        latency_p95=_latency_points(),
    )


def _weeks() -> list[Week]:
    iso = (START + timedelta(hours=1)).isocalendar()
    return [
        Week(
            start=START,
            end=END,
            iso_year=iso.year,
            iso_week=iso.week,
            partial=True,
            availability=99.5,
            successful_scrapes=1990,
            total_scrapes=2000,
            restarts=5,
            incidents=1,
            downtime_seconds=1800,
            alerts=2,
            requests=1_250_000,
            errors=1875,
            error_ratio=0.0015,
            latency_p95=0.31,
        )
    ]


def full_report() -> ReportData:
    """Every section measured."""
    report = ReportData(
        title="Shop daily",
        schedule=ScheduleRef(namespace="shop", name="daily"),
        window=WindowData(start=START, end=END, time_zone="Europe/Berlin"),
        generated_at=END + timedelta(minutes=5),
        scope=ScopeData(namespaces=["shop", "payments"]),
        availability=Availability(percent=99.5, successful_scrapes=1990, total_scrapes=2000),
        restarts=Restarts(
            total=5,
            by_reason={"Error": 4, "OOMKilled": 1},
            top=[
                RestartRow(
                    namespace="shop",
                    pod="api-7d9f-x2",
                    container="api",
                    restarts=4,
                    last_reason="Error",
                    exit_code=1,
                ),
                RestartRow(
                    namespace="shop",
                    pod="db-0",
                    container="db",
                    restarts=1,
                    last_reason="OOMKilled",
                ),
            ],
        ),
        resources=Resources(
            workloads=[
                _usage(
                    "api",
                    "api",
                    pods=3,
                    cpu=(0.2, 0.35, 0.5, 0.25, None),
                    memory=(200 * MIB, 480 * MIB, 256 * MIB, 512 * MIB),
                ),
                _usage(
                    "db",
                    "db",
                    pods=1,
                    kind="StatefulSet",
                    cpu=(0.1, 0.12, 0.3, 1.0, 2.0),
                    throttled=0.0,
                    memory=(900 * MIB, 1000 * MIB, 1024 * MIB, 1024 * MIB),
                ),
                _usage(
                    "web",
                    "nginx",
                    pods=2,
                    cpu=(0.01, 0.02, 0.05, 0.05, 0.1),
                    throttled=0.125,
                    memory=(30 * MIB, 40 * MIB, 64 * MIB, None),
                ),
            ]
        ),
        pods=Pods(
            total=6,
            not_ready=1,
            waiting=[
                WaitingContainer(
                    namespace="shop", pod="api-7d9f-x2", container="api", reason="CrashLoopBackOff"
                )
            ],
            terminated_in_window=[
                TerminatedContainer(
                    namespace="shop",
                    pod="db-0",
                    container="db",
                    reason="OOMKilled",
                    exit_code=137,
                    finished_at=_at(14.5),
                    lifetime_restarts=3,
                )
            ],
        ),
        scaling=Scaling(
            hpas=[
                HpaActivity(
                    namespace="shop",
                    name="api",
                    min_replicas=2,
                    max_replicas=6,
                    rescales=4,
                    peak_replicas=6,
                    seconds_at_max=7500,
                    seconds_not_at_desired=600,
                    current_replicas=6,
                    desired_replicas=6,
                    scaling_limited=Condition(status="True", reason="TooManyReplicas"),
                ),
                HpaActivity(
                    namespace="shop",
                    name="web",
                    min_replicas=2,
                    max_replicas=10,
                    rescales=0,
                    peak_replicas=2,
                    current_replicas=2,
                    desired_replicas=2,
                    scaling_limited=Condition(status="False"),
                ),
            ],
            events=[
                KubeEvent(
                    namespace="shop",
                    kind="HorizontalPodAutoscaler",
                    name="api",
                    reason="SuccessfulRescale",
                    type="Normal",
                    message="New size: 6; reason: cpu resource utilization above target",
                    count=1,
                    first_time=_at(20),
                    last_time=_at(20),
                    count_in_window=1,
                ),
                KubeEvent(
                    namespace="shop",
                    kind="HorizontalPodAutoscaler",
                    name="api",
                    reason="SuccessfulRescale",
                    type="Normal",
                    message="New size: 4; reason: cpu resource utilization above target",
                    count=1,
                    first_time=_at(19),
                    last_time=_at(19),
                    count_in_window=1,
                ),
                KubeEvent(
                    namespace="shop",
                    kind="Deployment",
                    name="api",
                    reason="ScalingReplicaSet",
                    type="Normal",
                    message="Scaled up replica set api-7d9f to 4",
                    count=1,
                    first_time=_at(19),
                    last_time=_at(19),
                    count_in_window=1,
                ),
            ],
        ),
        workloads=[
            WorkloadStatus(
                namespace="shop",
                kind="Deployment",
                name="api",
                desired_replicas=6,
                ready_replicas=5,
                unavailable_replicas=1,
                rollouts=1,
                max_unavailable_replicas=2,
                seconds_unavailable=1800,
                spec_changes=1,
            ),
            WorkloadStatus(
                namespace="shop",
                kind="StatefulSet",
                name="db",
                desired_replicas=1,
                ready_replicas=1,
                unavailable_replicas=0,
                rollouts=0,
            ),
        ],
        rollouts=[
            Rollout(
                namespace="shop",
                kind="Deployment",
                name="api",
                revision=12,
                revision_name="api-7d9f",
                started_at=_at(9.25),
                images=["shop/api:1.4.2"],
            )
        ],
        events=FailureEvents(
            by_reason={"BackOff": 40, "Unhealthy": 12, "OOMKilling": 1},
            exact=False,
            top=[
                KubeEvent(
                    namespace="shop",
                    kind="Pod",
                    name="api-7d9f-x2",
                    reason="BackOff",
                    type="Warning",
                    message="Back-off restarting failed container api in pod api-7d9f-x2",
                    count=40,
                    first_time=_at(10),
                    last_time=_at(23.5),
                    count_in_window=40,
                ),
                KubeEvent(
                    namespace="shop",
                    kind="Pod",
                    name="api-7d9f-x2",
                    reason="Unhealthy",
                    type="Warning",
                    message="Readiness probe failed: HTTP probe failed with statuscode: 503",
                    count=12,
                    first_time=_at(-2),
                    last_time=_at(11),
                    count_in_window=None,
                ),
            ],
            series=3,
        ),
        nodes=Nodes(total=3, not_ready=0),
        incidents=[
            Incident(
                start=_at(14),
                end=_at(14.5),
                duration_seconds=1800,
                cause="every scrape failed",
                namespace="shop",
                job="api",
                targets=["api-7d9f-x2", "api-7d9f-k8"],
            )
        ],
        alerts=[
            Alert(
                name="KubePodCrashLooping",
                severity="warning",
                namespace="shop",
                first_firing=_at(10.25),
                last_firing=END,
                duration_seconds=49500,
                firings=1,
                firing_at_end=True,
            ),
            Alert(
                name="TargetDown",
                severity="critical",
                namespace="shop",
                first_firing=_at(14.1),
                last_firing=_at(14.5),
                duration_seconds=1440,
                firings=1,
                firing_at_end=False,
            ),
        ],
        traffic=Traffic(
            latency=Latency(p50=0.042, p95=0.31, p99=1.2),
            requests=1_250_000,
            errors=1875,
            error_ratio=0.0015,
            requests_per_second=14.47,
        ),
        objectives=[
            ObjectiveResult(
                name="Availability",
                metric="availability",
                unit="%",
                target=99.9,
                actual=99.5,
                status="missed",
                previous=99.95,
                trend="down",
            ),
            ObjectiveResult(
                name="Latency p95",
                metric="latencyP95",
                unit="s",
                target=0.25,
                actual=0.31,
                status="missed",
                previous=0.22,
                trend="up",
            ),
            ObjectiveResult(
                name="Error rate",
                metric="errorRate",
                unit="%",
                target=0.5,
                actual=0.15,
                status="met",
                previous=0.1,
                trend="up",
            ),
        ],
        kpis=[
            KpiResult(
                name="Orders",
                query="sum(increase(shop_orders_total[24h]))",
                value=8412,
                target=8000,
                comparison=">=",
                status="met",
                previous=7990,
                trend="up",
            ),
            KpiResult(
                name="Checkout p95",
                query="histogram_quantile(0.95, ...)",
                unit="s",
                value=0.8,
            ),
        ],
        trends=[
            # The collector's own names (model.figures), so a rename cannot pass unseen here.
            Trend(figure=figures.RESTARTS, current=5, previous=2, direction="up", verdict="worse"),
            Trend(figure=figures.RESCALES, current=4, previous=4, direction="flat"),
        ],
        series=_series(),
        weeks=_weeks(),
        meta=Meta(
            prom_queries=31,
            api_requests=12,
            queries=[
                QueryRecord(
                    figure="availability",
                    expr='sum(sum_over_time(up{namespace=~"shop|payments"}[86400s]))',
                )
            ],
            operator_version="0.1.0",
            collect_seconds=1.2,
        ),
    )
    report.status, report.status_reasons = assess(report)
    return report


def sparse_report() -> ReportData:
    """Prometheus was unreachable: only what the Kubernetes API shows, and the gaps."""
    report = ReportData(
        title="Shop daily",
        schedule=ScheduleRef(namespace="shop", name="daily"),
        window=WindowData(start=START, end=END, time_zone="Europe/Berlin"),
        generated_at=END + timedelta(minutes=5),
        scope=ScopeData(namespaces=["shop"], selector="app=api"),
        pods=Pods(total=2, not_ready=0),
        data_gaps=[
            DataGap(section=section, source="prometheus", reason="connection refused")
            for section in ("availability", "restarts", "resources", "scaling")
        ],
        weeks=series.fold_weeks(
            series.week_spans(Window(START, END), "Europe/Berlin"),
            series.StepFacts(),
            None,
            None,
            traffic=False,
        ),
        meta=Meta(api_requests=2, operator_version="0.1.0"),
    )
    report.status, report.status_reasons = assess(report)
    return report
