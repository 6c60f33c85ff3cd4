"""ReportData: the one typed result of collection, and the only input to rendering.

`None` always means "not measured" and is rendered as missing, never as zero. Each figure that
comes from Prometheus names its query in `meta.queries`, so every number traces to its source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from opsreport.api import REPORT_SCHEMA

OverallStatus = Literal["ok", "warning", "critical"]
Direction = Literal["up", "down", "flat"]
Verdict = Literal["better", "worse", "same"]


class _Model(BaseModel):
    # Fields with defaults are still always present in the JSON, so the schema requires them.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )


class ScheduleRef(_Model):
    namespace: str
    name: str


class WindowData(_Model):
    start: datetime
    end: datetime
    time_zone: str = "UTC"


class ScopeData(_Model):
    namespaces: list[str]
    selector: str | None = None


class Availability(_Model):
    percent: float | None = None
    # Successful and total scrapes of `up` behind the percentage.
    successful_scrapes: int | None = None
    total_scrapes: int | None = None


class RestartRow(_Model):
    namespace: str
    pod: str
    container: str
    restarts: int
    last_reason: str | None = None
    exit_code: int | None = None


class Restarts(_Model):
    total: int | None = None
    by_reason: dict[str, int] = Field(default_factory=dict)
    top: list[RestartRow] = Field(default_factory=list)


class CpuUsage(_Model):
    """CPU in cores."""

    avg: float | None = None
    p95: float | None = None
    max: float | None = None
    request: float | None = None
    limit: float | None = None
    # Throttled CFS periods / all CFS periods; None without a CPU limit (no CFS quota).
    throttled_ratio: float | None = None


class MemoryUsage(_Model):
    """Memory working set in bytes."""

    avg: float | None = None
    max: float | None = None
    request: float | None = None
    limit: float | None = None


class WorkloadUsage(_Model):
    namespace: str
    kind: str
    name: str
    container: str
    pods: int
    cpu: CpuUsage
    memory: MemoryUsage


class Condition(_Model):
    """A condition of a Kubernetes object as the API shows it at collection time."""

    status: str
    reason: str | None = None
    message: str | None = None


class HpaActivity(_Model):
    namespace: str
    name: str
    # Prometheus (kube-state-metrics) over the window; the API's spec when Prometheus has none.
    min_replicas: int | None = None
    max_replicas: int | None = None
    rescales: int | None = None
    peak_replicas: int | None = None
    seconds_at_max: int | None = None
    seconds_not_at_desired: int | None = None
    # The Kubernetes API at collection time.
    current_replicas: int | None = None
    desired_replicas: int | None = None
    able_to_scale: Condition | None = None
    scaling_limited: Condition | None = None


class KubeEvent(_Model):
    """One Kubernetes Event series (core/v1 and events.k8s.io/v1 deduplicated)."""

    namespace: str
    kind: str  # of the object the event is about
    name: str
    reason: str
    type: str | None = None
    message: str = ""
    count: int
    first_time: datetime | None = None
    last_time: datetime | None = None
    # `count` when the whole series lies in the window; None when it straddles an edge, because
    # the API does not say how many of its occurrences fell inside.
    count_in_window: int | None = None


class Scaling(_Model):
    # None: not measured; an empty list: measured, and the scope has no HPA.
    hpas: list[HpaActivity] | None = None
    # SuccessfulRescale (HPA) and ScalingReplicaSet (Deployment) events, newest first.
    events: list[KubeEvent] | None = None

    @property
    def rescales(self) -> int | None:
        if self.hpas is None or any(h.rescales is None for h in self.hpas):
            return None
        return sum(h.rescales or 0 for h in self.hpas)


class Resources(_Model):
    workloads: list[WorkloadUsage] = Field(default_factory=list)


class WaitingContainer(_Model):
    namespace: str
    pod: str
    container: str
    reason: str


class TerminatedContainer(_Model):
    namespace: str
    pod: str
    container: str
    reason: str | None
    exit_code: int | None
    finished_at: datetime | None
    lifetime_restarts: int


class Pods(_Model):
    """What the Kubernetes API shows at collection time."""

    total: int | None = None
    not_ready: int | None = None
    waiting: list[WaitingContainer] = Field(default_factory=list)
    terminated_in_window: list[TerminatedContainer] = Field(default_factory=list)


class FailureEvents(_Model):
    """Warning events in the window: BackOff, Unhealthy, FailedScheduling, Evicted, OOMKilling,
    FailedMount."""

    # Occurrences by reason: exact for series inside the window, and 1 for each series that
    # straddles an edge (its last or first occurrence is inside); `exact` says which it is.
    by_reason: dict[str, int] = Field(default_factory=dict)
    exact: bool = True
    top: list[KubeEvent] = Field(default_factory=list)  # the most frequent first
    series: int = 0  # event series in the window, including those not in `top`


class Rollout(_Model):
    """A revision created in the window: a ReplicaSet of a Deployment, a ControllerRevision of a
    StatefulSet or DaemonSet."""

    namespace: str
    kind: str
    name: str
    revision: int | None = None
    revision_name: str
    started_at: datetime
    images: list[str] = Field(default_factory=list)


class WorkloadStatus(_Model):
    namespace: str
    kind: str
    name: str
    # The Kubernetes API at collection time.
    desired_replicas: int | None = None
    ready_replicas: int | None = None
    unavailable_replicas: int | None = None
    rollouts: int | None = None  # revisions created in the window
    # Prometheus over the window (Deployments).
    max_unavailable_replicas: int | None = None
    seconds_unavailable: int | None = None
    spec_changes: int | None = None


class Nodes(_Model):
    total: int | None = None
    not_ready: int | None = None
    not_ready_names: list[str] = Field(default_factory=list)


class Incident(_Model):
    """A stretch of time when targets of one job failed every scrape (`up == 0`)."""

    start: datetime
    end: datetime
    duration_seconds: int
    cause: str
    namespace: str
    job: str
    targets: list[str] = Field(default_factory=list)  # pods (or instances) that were down


class Alert(_Model):
    name: str
    severity: str | None = None
    namespace: str | None = None
    first_firing: datetime
    last_firing: datetime  # the window's end when it still fired then
    duration_seconds: int
    firings: int  # separate firing stretches in the window
    firing_at_end: bool


class Latency(_Model):
    """Quantiles over the window, in the histogram's unit (usually seconds)."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class Traffic(_Model):
    latency: Latency = Latency()
    requests: float | None = None  # increase of the requests counter over the window
    errors: float | None = None  # of which code 5xx
    error_ratio: float | None = None  # errors / requests
    requests_per_second: float | None = None


class Trend(_Model):
    """A headline figure against the same figure of the previous window (same length, before)."""

    figure: str
    current: float | None = None
    previous: float | None = None
    direction: Direction | None = None
    verdict: Verdict | None = None  # None where neither direction is better (e.g. rescales)


ObjectiveStatus = Literal["met", "atRisk", "missed"]


class ObjectiveResult(_Model):
    name: str
    metric: str
    unit: str
    target: float
    actual: float | None = None
    status: ObjectiveStatus | None = None  # None: not measured
    previous: float | None = None
    trend: Direction | None = None


class KpiResult(_Model):
    name: str
    query: str  # as run, with $__window substituted
    unit: str = ""
    target: float | None = None
    comparison: str | None = None
    value: float | None = None
    status: Literal["met", "missed"] | None = None
    previous: float | None = None
    trend: Direction | None = None


# [time, value]: the figure over [time, time + step) holds until the next point (or the window's
# end); repeated values are left out, and null is a stretch without data, never a zero.
Point = tuple[datetime, float | None]


class ReplicaSeries(_Model):
    """One autoscaler's replicas per step: the highest current and desired count in each step."""

    namespace: str
    name: str
    rescales: int | None = None  # why it was picked: the most rescales first
    current: list[Point] = Field(default_factory=list)
    desired: list[Point] = Field(default_factory=list)


class TimeSeries(_Model):
    """Figures per step over the window, for charts; `meta.queries` names the range queries.

    None: not measured (a DataGap says why) or, for latency, not configured.
    """

    step_seconds: int | None = None
    # Successful scrapes of `up` in scope as a percentage of all of them, per step.
    availability: list[Point] | None = None
    # The autoscalers with the most rescales in the window (at most four).
    replicas: list[ReplicaSeries] | None = None
    # p95 of the requests observed in each step, in the histogram's unit.
    latency_p95: list[Point] | None = None


class Week(_Model):
    """One ISO week (Monday 00:00 to Monday 00:00 in the schedule's time zone) cut to the window.

    Figures come from the per-step series and the window's incidents and alerts; a figure that
    cannot be told for the week is null and `notes` says why.
    """

    start: datetime
    end: datetime
    iso_year: int
    iso_week: int
    partial: bool  # the window covers only part of the week
    availability: float | None = None  # percent of successful scrapes in the week
    successful_scrapes: int | None = None
    total_scrapes: int | None = None
    restarts: int | None = None
    incidents: int | None = None  # incidents overlapping the week (one that spans two counts twice)
    downtime_seconds: int | None = None  # the part of their duration inside the week
    alerts: int | None = None  # distinct alerts that fired in the week
    requests: float | None = None
    errors: float | None = None
    error_ratio: float | None = None
    latency_p95: float | None = None
    notes: list[str] = Field(default_factory=list)


class DataGap(_Model):
    section: str
    source: Literal["prometheus", "kubernetes"]
    reason: str


class QueryRecord(_Model):
    figure: str
    expr: str
    # Instant queries run at the window's end unless `time` says otherwise (previous window);
    # range queries run from `start` to `time` every `stepSeconds`.
    time: datetime | None = None
    start: datetime | None = None
    step_seconds: int | None = None


class Meta(_Model):
    prom_queries: int = 0
    api_requests: int = 0
    queries: list[QueryRecord] = Field(default_factory=list)
    operator_version: str = ""
    collect_seconds: float | None = None


class ReportData(_Model):
    schema_: str = Field(default=REPORT_SCHEMA, alias="schema")
    title: str
    schedule: ScheduleRef
    window: WindowData
    generated_at: datetime
    status: OverallStatus = "ok"
    status_reasons: list[str] = Field(default_factory=list)
    scope: ScopeData
    availability: Availability = Availability()
    restarts: Restarts = Restarts()
    resources: Resources = Resources()
    pods: Pods = Pods()
    scaling: Scaling = Scaling()
    # None: not measured (a DataGap says why) or, for traffic, not configured.
    workloads: list[WorkloadStatus] | None = None
    rollouts: list[Rollout] | None = None
    events: FailureEvents | None = None
    nodes: Nodes = Nodes()
    incidents: list[Incident] | None = None
    alerts: list[Alert] | None = None
    traffic: Traffic | None = None
    objectives: list[ObjectiveResult] = Field(default_factory=list)
    kpis: list[KpiResult] = Field(default_factory=list)
    trends: list[Trend] = Field(default_factory=list)
    series: TimeSeries = TimeSeries()
    weeks: list[Week] = Field(default_factory=list)
    data_gaps: list[DataGap] = Field(default_factory=list)
    meta: Meta = Meta()

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
