"""Deterministic synthetic clusters whose Prometheus history and Kubernetes objects agree.

One model drives three outputs, so they tell the same story:

- `Scenario.write_openmetrics()`: kube-state-metrics v2 and cAdvisor series (CPU, memory, CFS
  throttling), scrape targets' `up`, an application's request counter (with a `code` label)
  and latency histogram, and `ALERTS`, for backfill;
- `Scenario.kube_objects()`: the API objects as of `end`, each Event through the API that
  wrote it (core/v1 or events.k8s.io/v1), ReplicaSets and ControllerRevisions with their
  creation times;
- `Scenario.expected()` (and `expected_traffic()`): report numbers computed in Python from the
  very samples (or the model's event series and revisions) that were written, emulating
  Prometheus 2.42's PromQL (see `promql()` and tests/support_tests for the queries).

The demo holds the awkward cases: pods replaced mid-window (an HPA and a rollout), counters that
reset (a container restart), containers without limits, an HPA that never rescales and one that
waited 15 minutes for capacity, an alert still firing at the end, a scrape gap, a NotReady node,
and a handler named with quotes and a backslash.

Everything derives from the scenario's fields and `seed` through seeded `random.Random`
instances and uuid5, so two runs write byte-identical files. Times are Unix seconds on a
`step_seconds` grid; restarts may fall between grid points, as they do in a cluster.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import itertools
import math
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tests.support.openmetrics import MetricType, OpenMetricsWriter, Sample, format_value

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]
PodKey = tuple[str, str]  # namespace, pod
ContainerKey = tuple[str, str, str]  # namespace, pod, container
WorkloadKey = tuple[str, str, str]  # namespace, kind, name
HPAKey = tuple[str, str]  # namespace, name

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
MINUTE = 60
HOUR = 3600
DAY = 86400

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
CPU_RATE_RANGE = 300  # the [5m] of rate() in the CPU queries
CPU_SUBQUERY_STEP = 300  # the :5m of the CPU subqueries
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
_UUID_NAMESPACE = uuid.UUID("6f1c1d52-8d4e-4b7e-9a34-1f0d8a0c5e11")

# Families whose samples expected() reads.
RESTARTS = "kube_pod_container_status_restarts_total"
UP = "up"
CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
HPA_CURRENT = "kube_horizontalpodautoscaler_status_current_replicas"
HPA_DESIRED = "kube_horizontalpodautoscaler_status_desired_replicas"
UNAVAILABLE = "kube_deployment_status_replicas_unavailable"
GENERATION = "kube_deployment_metadata_generation"
PERIODS = "container_cpu_cfs_periods_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
ALERTS = "ALERTS"
HTTP_REQUESTS = "http_requests_total"
HTTP_LATENCY = "http_request_duration_seconds"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)  # seconds; +Inf is implied
CFS_PERIODS_PER_SECOND = 10  # the default 100 ms CFS period


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    cpu_request: float | None = None  # cores
    memory_request: int | None = None  # bytes
    cpu_limit: float | None = None
    memory_limit: int | None = None
    cpu_usage: float = 0.05  # typical cores in use
    memory_usage: int = 64 * MiB  # typical working set


@dataclass(frozen=True)
class Restart:
    """A container terminated at `timestamp` and came back `backoff_seconds` later.

    The restart counter and the last terminated reason change at `timestamp`; during the
    back-off the container is waiting with reason CrashLoopBackOff and has no cAdvisor
    series; the next run is a new container (new id, cAdvisor counters from zero).
    """

    timestamp: int
    container: str
    reason: str  # OOMKilled, Error, Completed
    exit_code: int
    backoff_seconds: int = 10


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    pod_cidr: str
    ready: bool = True  # a NotReady node runs no pods in the scenarios


@dataclass(frozen=True)
class Workload:
    namespace: str
    kind: WorkloadKind
    name: str
    replicas: int  # without an HPA; DaemonSet: number of nodes
    containers: tuple[Container, ...]
    labels: dict[str, str] = field(default_factory=dict)  # pod labels, incl. app and tier
    template_hash: str = ""  # Deployment pod-template-hash, StatefulSet revision hash
    metrics_port: int | None = None  # pods are scrape targets with job=<name>
    generation: int = 1
    # Deployments: (timestamp, new pod-template-hash) of each rollout; its pods name the hash.
    rollouts: tuple[tuple[int, str], ...] = ()
    revision: int = 1  # deployment.kubernetes.io/revision before the first rollout
    http: tuple[Handler, ...] = ()  # request metrics its pods expose (scraped like `up`)

    @property
    def key(self) -> WorkloadKey:
        return (self.namespace, self.kind, self.name)

    @property
    def replicaset(self) -> str:
        """The ReplicaSet at `end`: of the last rollout, else the first one."""
        return f"{self.name}-{self.hash_at(None)}"

    def hash_at(self, t: int | None) -> str:
        """The pod-template-hash current at t (None: at the end)."""
        value = self.template_hash
        for ts, new_hash in self.rollouts:
            if t is None or ts <= t:
                value = new_hash
        return value

    def revisions(self) -> list[tuple[int, str, int | None]]:
        """(revision, pod-template-hash, created at; None before the history) of each."""
        return [
            (self.revision, self.template_hash, None),
            *(
                (self.revision + k, new_hash, ts)
                for k, (ts, new_hash) in enumerate(self.rollouts, 1)
            ),
        ]


@dataclass(frozen=True)
class Handler:
    """One request handler's traffic per pod: requests per second, their 5xx share, latency.

    `latency` is the share of requests in each bucket of `LATENCY_BUCKETS` (the rest is +Inf).
    """

    path: str
    rps: float
    error_ratio: float
    latency: tuple[float, ...]


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node: str
    ip: str
    workload: WorkloadKey
    created: int
    deleted: int | None = None  # pods deleted before `end` exist only in history
    restarts: tuple[Restart, ...] = ()  # may predate the history: the counter starts there
    template_hash: str = ""  # a Deployment pod's ReplicaSet; "" for the workload's first one

    @property
    def key(self) -> PodKey:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class HPA:
    namespace: str
    name: str
    target: str  # Deployment name
    min_replicas: int
    max_replicas: int
    initial_replicas: int
    # (timestamp, replicas): desired replicas change then; current follows `lag_seconds` later.
    rescales: tuple[tuple[int, int], ...] = ()
    lag_seconds: int = 60
    # (rescale timestamp, lag): rescales whose pods took longer (pending: FailedScheduling).
    slow: tuple[tuple[int, int], ...] = ()

    @property
    def key(self) -> HPAKey:
        return (self.namespace, self.name)

    def lag(self, ts: int) -> int:
        return dict(self.slow).get(ts, self.lag_seconds)

    def desired(self, t: int) -> int:
        value = self.initial_replicas
        for ts, replicas in self.rescales:
            if ts > t:
                break
            value = replicas
        return value

    def current(self, t: int) -> int:
        value = self.initial_replicas
        for ts, replicas in self.rescales:
            if ts + self.lag(ts) > t:
                break
            value = replicas
        return value


@dataclass(frozen=True)
class AlertRule:
    """An alert's firing stretches: ALERTS{alertstate="firing"} has a sample every step in
    each [start, end) (end None: on past the history's end)."""

    name: str
    severity: str
    namespace: str | None  # None: a cluster-wide alert, out of every namespace scope
    labels: tuple[tuple[str, str], ...]
    firing: tuple[tuple[int, int | None], ...]


@dataclass(frozen=True)
class ScrapeGap:
    """Prometheus did not scrape the pod's target in [start, end): no `up`, no app metrics."""

    namespace: str
    pod: str
    start: int
    end: int


@dataclass(frozen=True)
class Dip:
    """The workload's pods are unready and their scrape targets down in [start, end)."""

    namespace: str
    workload: str
    start: int
    end: int


@dataclass(frozen=True)
class EventSeries:
    """One Kubernetes event series: the same reason and message about one object, `times`."""

    namespace: str
    involved: dict[str, Any]
    reason: str
    message: str
    type: str
    times: tuple[int, ...]
    source: dict[str, str]
    # The API that wrote it: "core" (core/v1) or "events" (events.k8s.io/v1). The API server
    # keeps one store: every Event is read through both, converted.
    api: str = "core"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.involved["kind"], self.involved["name"], self.reason)


# ------------------------------------------------------------------- expected answers


@dataclass(frozen=True)
class RestartRecord:
    namespace: str
    pod: str
    container: str
    timestamp: datetime
    reason: str
    exit_code: int


@dataclass(frozen=True)
class ContainerUsage:
    """Per-container usage over a window; None where PromQL returns no series."""

    namespace: str
    pod: str
    container: str
    workload: WorkloadKey
    cpu_avg: float | None  # cores, avg_over_time(<cpu rate>[W:5m])
    cpu_p95: float | None  # quantile_over_time(0.95, <cpu rate>[W:5m])
    cpu_max: float | None  # max_over_time(<cpu rate>[W:5m])
    memory_avg: float | None  # bytes, mean of the raw working-set samples
    memory_max: float | None  # bytes, max of the raw working-set samples
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: int | None
    memory_limit: int | None
    # increase() over the window, summed over the container's runs; None without a CPU limit.
    cpu_periods: float | None = None
    cpu_throttled_periods: float | None = None


@dataclass(frozen=True)
class WorkloadSummary:
    namespace: str
    kind: WorkloadKind
    name: str
    pods: frozenset[str]  # pods with at least one sample in the window
    restarts: int
    oom_kills: int
    memory_max: float | None  # the highest container working set of any of its pods


@dataclass(frozen=True)
class HPASummary:
    namespace: str
    name: str
    target: str
    min_replicas: int
    max_replicas: int
    rescales: int  # changes(current_replicas[W])
    peak_replicas: int  # max_over_time(current_replicas[W])
    samples_at_max: int  # count_over_time((current == max)[W:step]), both ends included
    seconds_at_max: int  # step * samples at max in [start, end) when max != min
    current_replicas_at_end: int
    seconds_not_at_desired: int = 0  # step * samples in [start, end) with desired != current
    desired_replicas_at_end: int = 0


@dataclass(frozen=True)
class DeploymentSummary:
    """kube_deployment_* over a window: the peak and time of unavailable replicas, spec edits."""

    namespace: str
    name: str
    max_unavailable: int
    seconds_unavailable: int  # step * samples in [start, end) with unavailable > 0
    spec_changes: int  # changes(metadata_generation[W])


@dataclass(frozen=True)
class Stretch:
    """An incident (a job's targets down) or an alert's firing, on the step grid, [start, end)."""

    namespace: str
    name: str  # the job, or the alert's name
    start: datetime
    end: datetime
    members: tuple[str, ...] = ()  # an incident's pods


@dataclass(frozen=True)
class AlertSummary:
    name: str
    severity: str
    namespace: str
    first_firing: datetime
    last_firing: datetime  # the end of its last stretch (the window's end if still firing)
    duration_seconds: int
    firings: int
    firing_at_end: bool  # a sample at the window's end itself


@dataclass(frozen=True)
class EventSummary:
    namespace: str
    kind: str
    name: str
    reason: str
    message: str
    count: int
    first: datetime
    last: datetime
    count_in_window: int | None  # None when the series straddles a window edge


@dataclass(frozen=True)
class RolloutSummary:
    namespace: str
    kind: str
    name: str
    revision: int
    revision_name: str
    started_at: datetime


@dataclass(frozen=True)
class TrafficSummary:
    """sum(increase()) of the matching series over the window, and histogram quantiles."""

    requests: float | None
    errors: float | None  # None when no series has a `code` label
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True)
class Downtime:
    namespace: str
    pod: str
    job: str
    instance: str
    start: datetime  # first sample with up == 0
    end: datetime  # the next sample's time (up == 1 again, the series or the window ended)


@dataclass(frozen=True)
class Expected:
    window_start: datetime
    window_end: datetime
    namespaces: frozenset[str] | None
    restarts_by_container: dict[ContainerKey, int]
    """What `round(increase(kube_pod_container_status_restarts_total[W]))` returns at
    `window_end`: restarts in (start, end], for every series with two samples in the window.

    These are true counts, and Prometheus's extrapolation cannot round them away, because:
    a series that spans a window edge has a sample exactly on it (on-grid windows), so
    nothing is extrapolated there; a series born inside the window starts at 0 and
    increase() extrapolates at most to the counter's zero point, which is 0 s away; and a
    series that ends inside the window (deleted pod) is extended by half a step, which
    scales its count by (1 + 30 s / its covered span): < 0.5 extra for any count below
    (span / 60 s). The demo keeps every such pod alive for hours, and expected() recomputes
    increase() the way Prometheus does and raises if the rounding ever disagreed.
    """
    restarts_total: int
    last_reason_by_container: dict[ContainerKey, str]  # reason of the last restart in window
    oom_kills_by_container: dict[ContainerKey, int]
    restart_events: list[RestartRecord]
    availability_ratio: float | None  # sum(sum_over_time(up[W])) / sum(count_over_time(up[W]))
    up_samples: int
    up_ones: int
    downtime_intervals: list[Downtime]
    containers: dict[ContainerKey, ContainerUsage]
    pod_workloads: dict[PodKey, WorkloadKey]
    workloads: dict[WorkloadKey, WorkloadSummary]
    hpas: dict[HPAKey, HPASummary]
    deployments: dict[tuple[str, str], DeploymentSummary] = field(default_factory=dict)
    incidents: list[Stretch] = field(default_factory=list)  # per job, overlaps merged
    alerts: list[AlertSummary] = field(default_factory=list)
    events: list[EventSummary] = field(default_factory=list)  # series overlapping the window
    rollouts: list[RolloutSummary] = field(default_factory=list)  # revisions created in it


def promql(window: str, namespaces: Iterable[str] | None = None, step: int = 60) -> dict[str, str]:
    """The PromQL whose results `Expected` predicts, evaluated at `time=window_end`."""
    scope = _namespace_matcher(namespaces)

    def sel(*matchers: str) -> str:
        parts = [m for m in (*matchers, scope) if m]
        return "{" + ",".join(parts) + "}" if parts else ""

    cadvisor = sel(
        'job="kubelet"', 'metrics_path="/metrics/cadvisor"', 'container!=""', 'container!="POD"'
    )
    by = "by (namespace, pod, container)"
    cpu = f"sum {by} (rate({CPU}{cadvisor}[5m]))"
    memory = f"{MEMORY}{cadvisor}"
    current = f"{HPA_CURRENT}{sel()}"
    maximum = f"kube_horizontalpodautoscaler_spec_max_replicas{sel()}"
    restarts = f"round(increase({RESTARTS}{sel()}[{window}]))"
    return {
        "restarts": restarts,
        "restarts_total": f"sum({restarts})",
        "last_reason": f"kube_pod_container_status_last_terminated_reason{sel()}",
        "availability": (
            f"sum(sum_over_time(up{sel()}[{window}])) / sum(count_over_time(up{sel()}[{window}]))"
        ),
        # A second short of the window: the subquery's points are the window's own (start, end].
        "cpu_avg": f"avg_over_time(({cpu})[{_seconds(window) - 1}s:5m])",
        "cpu_p95": f"quantile_over_time(0.95, ({cpu})[{_seconds(window) - 1}s:5m])",
        "cpu_max": f"max_over_time(({cpu})[{_seconds(window) - 1}s:5m])",
        "memory_avg": (
            f"sum {by} (sum_over_time({memory}[{window}]))"
            f" / sum {by} (count_over_time({memory}[{window}]))"
        ),
        "memory_max": f"max {by} (max_over_time({memory}[{window}]))",
        "hpa_rescales": f"changes({current}[{window}])",
        "hpa_peak": f"max_over_time({current}[{window}])",
        "hpa_samples_at_max": (
            f"count_over_time(({current} == on (namespace, horizontalpodautoscaler)"
            f" {maximum})[{window}:{step}s])"
        ),
    }


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(window: str) -> int:
    """A PromQL duration such as `24h` or `1h30m` in seconds."""
    parts = re.findall(r"(\d+)([smhd])", window)
    if "".join(n + u for n, u in parts) != window:
        raise ValueError(f"not a duration: {window!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def _namespace_matcher(namespaces: Iterable[str] | None) -> str:
    if namespaces is None:
        return ""
    names = sorted(namespaces)
    if not names:
        raise ValueError("an empty namespace scope matches nothing")
    return 'namespace=~"' + "|".join(n.replace(".", "\\\\.") for n in names) + '"'


# ------------------------------------------------------------- PromQL 2.42 emulation


def _window(times: list[int], lo: int, hi: int) -> tuple[int, int]:
    """Indexes of samples in [lo, hi]: Prometheus 2.x range selectors include both ends."""
    return bisect.bisect_left(times, lo), bisect.bisect_right(times, hi)


def _extrapolated_rate(
    times: list[int],
    values: list[float],
    range_start: int,
    range_end: int,
    *,
    is_rate: bool,
) -> float | None:
    """Prometheus 2.42 `extrapolatedRate` for a counter (rate/increase); None: no result."""
    i, j = _window(times, range_start, range_end)
    if j - i < 2:
        return None
    first_t, last_t = times[i], times[j - 1]
    result = values[j - 1] - values[i]
    prev = values[i]
    for k in range(i + 1, j):
        if values[k] < prev:  # a counter reset: the previous value was lost
            result += prev
        prev = values[k]
    duration_to_start = float(first_t - range_start)
    duration_to_end = float(range_end - last_t)
    sampled = float(last_t - first_t)
    average = sampled / (j - i - 1)
    if result > 0 and values[i] >= 0:
        # A counter is never negative: extrapolate no further back than its zero point.
        duration_to_zero = sampled * (values[i] / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else average / 2
    interval += duration_to_end if duration_to_end < threshold else average / 2
    factor = interval / sampled
    if is_rate:
        factor /= range_end - range_start
    return result * factor


def _quantile(q: float, values: list[float]) -> float:
    """PromQL's quantile: linear interpolation at rank q * (n - 1)."""
    ordered = sorted(values)
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def _subquery_steps(t: int, window: int, step: int) -> range:
    """Evaluation times of `[window - 1s:step]` at t: multiples of step within (t - window, t]."""
    first = -(-(t - window + 1) // step) * step
    return range(first, t + 1, step)


def _histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus 2.42 `bucketQuantile` over (upper bound, cumulative count); None for NaN."""
    ordered = sorted(buckets)
    if len(ordered) < 2 or ordered[-1][0] != math.inf:
        return None
    counts: list[float] = []
    highest = -math.inf
    for _, count in ordered:  # ensureMonotonic
        highest = max(highest, count)
        counts.append(highest)
    observations = counts[-1]
    if observations == 0:
        return None
    rank = q * observations
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        start = ordered[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def _grid_stretches(times: Iterable[int], step: int, end: int) -> list[tuple[int, int]]:
    """Consecutive grid times as [first, last + step), cut at `end`."""
    out: list[tuple[int, int]] = []
    for t in sorted(times):
        if out and out[-1][1] == t:
            out[-1] = (out[-1][0], min(t + step, end))
        else:
            out.append((t, min(t + step, end)))
    return [(a, b) for a, b in out if b > a]


def _merge_stretches(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


# ------------------------------------------------------------------ internal helpers


@dataclass(frozen=True)
class _Instance:
    """One run of a container: a container id and its own cAdvisor series."""

    index: int  # restarts before it
    started: int
    terminated: int | None
    reason: str | None
    exit_code: int | None


@dataclass
class _Series:
    labels: dict[str, str]
    times: list[int]
    values: list[float]


@dataclass(frozen=True)
class _Family:
    name: str
    type: MetricType
    help: str
    series: Callable[[], Iterator[tuple[dict[str, str], Iterable[Sample]]]]


SeriesSource = Callable[[], Iterator[tuple[dict[str, str], Iterable[Sample]]]]

# kube-prometheus' kube-state-metrics target after its `labeldrop` of pod, service, endpoint and
# namespace (manifests/kubeStateMetrics-serviceMonitor.yaml, tests/fixtures/README.md).
KSM_TARGET = {
    "container": "kube-rbac-proxy-main",
    "instance": "10.244.0.15:8443",
    "job": "kube-state-metrics",
}


def _scraped_with_honor_labels(series: SeriesSource, target: dict[str, str]) -> SeriesSource:
    """honorLabels: a target label lands only on series with no label of that name."""

    def scraped() -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for labels, samples in series():
            yield {**target, **labels}, samples

    return scraped


@dataclass
class _ContainerTrace:
    container: Container
    instance_at: list[int]  # the running instance at each sample, -1 while not running
    cpu: list[float]  # that instance's CPU counter
    memory: list[float]
    total_cpu: list[float]  # CPU of all its runs so far, for the pod cgroup
    periods: list[float] = field(default_factory=list)  # that instance's CFS periods
    throttled: list[float] = field(default_factory=list)  # ... of which throttled


@dataclass
class _PodTrace:
    times: list[int]
    containers: list[_ContainerTrace]
    pause_cpu: list[float]
    pause_memory: list[float]


class _PodModel:
    """Time queries about one pod: alive, running, waiting, restarts, readiness."""

    def __init__(self, pod: Pod, workload: Workload, dips: list[Dip]) -> None:
        self.pod = pod
        self.workload = workload
        self.dips = [(d.start, d.end) for d in dips]
        self.instances: dict[str, list[_Instance]] = {}
        self.starts: dict[str, list[int]] = {}
        self.restart_times: dict[str, list[int]] = {}
        self.restarts: dict[str, list[Restart]] = {}
        for c in workload.containers:
            events = sorted((r for r in pod.restarts if r.container == c.name), key=_restart_ts)
            self.restarts[c.name] = events
            self.restart_times[c.name] = [r.timestamp for r in events]
            self.instances[c.name] = _instances(pod, events)
            self.starts[c.name] = [i.started for i in self.instances[c.name]]

    def alive(self, t: int) -> bool:
        return self.pod.created <= t and (self.pod.deleted is None or t < self.pod.deleted)

    def instance_at(self, container: str, t: int) -> _Instance | None:
        """The running instance at t, None while waiting in back-off."""
        k = bisect.bisect_right(self.starts[container], t) - 1
        if k < 0:
            return None
        inst = self.instances[container][k]
        if inst.terminated is not None and t >= inst.terminated:
            return None
        return inst

    def restart_count(self, container: str, t: int) -> int:
        return bisect.bisect_right(self.restart_times[container], t)

    def last_restart(self, container: str, t: int) -> Restart | None:
        n = self.restart_count(container, t)
        return self.restarts[container][n - 1] if n else None

    def in_dip(self, t: int) -> bool:
        return any(start <= t < end for start, end in self.dips)

    def ready(self, t: int) -> bool:
        return (
            self.alive(t)
            and not self.in_dip(t)
            and all(self.instance_at(c.name, t) is not None for c in self.workload.containers)
        )

    def up(self, t: int) -> bool:
        """The scrape target answers while its first (main) container runs."""
        main = self.workload.containers[0].name
        return not self.in_dip(t) and self.instance_at(main, t) is not None


def _restart_ts(r: Restart) -> int:
    return r.timestamp


def _instances(pod: Pod, events: list[Restart]) -> list[_Instance]:
    out: list[_Instance] = []
    started = pod.created
    for k, ev in enumerate(events):
        out.append(_Instance(k, started, ev.timestamp, ev.reason, ev.exit_code))
        started = ev.timestamp + ev.backoff_seconds
    out.append(_Instance(len(events), started, pod.deleted, None, None))
    return out


def _ts(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} is naive; use UTC")
    seconds = value.timestamp()
    if not seconds.is_integer():
        raise ValueError(f"{value!r} is not on a whole second")
    return int(seconds)


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _rfc3339(ts: int) -> str:
    return _dt(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _uid(seed: int, *parts: object) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "/".join(map(str, (seed, *parts)))))


def _name_suffix(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_NAME_ALPHABET) for _ in range(length))


def _cpu_quantity(cores: float) -> str:
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _memory_quantity(size: int) -> str:
    for unit, factor in (("Gi", GiB), ("Mi", MiB), ("Ki", KiB)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _image_id(image: str) -> str:
    return f"{image.rsplit(':', 1)[0]}@sha256:{_digest('image', image)}"


def _qos(containers: tuple[Container, ...]) -> str:
    guaranteed = all(
        c.cpu_limit is not None
        and c.memory_limit is not None
        and c.cpu_request in (None, c.cpu_limit)
        and c.memory_request in (None, c.memory_limit)
        for c in containers
    )
    if guaranteed:
        return "Guaranteed"
    if any(
        v is not None
        for c in containers
        for v in (c.cpu_request, c.memory_request, c.cpu_limit, c.memory_limit)
    ):
        return "Burstable"
    return "BestEffort"


# --------------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class Scenario:
    """A cluster and its history; build one with demo() or scaled(), or field by field.

    Pods, restarts, HPA rescales and dips are the story; CPU and memory samples are
    derived from it with seeded noise. Timestamps in the model are Unix seconds.
    """

    end: datetime  # UTC, on the step grid
    history_seconds: int = 2 * DAY  # two days, so the previous day's window exists
    step_seconds: int = 60
    extend_seconds: int = 0  # samples continue this long past `end` (objects stay as of end)
    seed: int = 0
    namespaces: tuple[str, ...] = ()
    nodes: tuple[Node, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pods: tuple[Pod, ...] = ()
    hpas: tuple[HPA, ...] = ()
    dips: tuple[Dip, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    scrape_gaps: tuple[ScrapeGap, ...] = ()
    # Jobs scraping every node's kubelet cAdvisor endpoint. Some clusters scrape it twice: the
    # `kubelet` job and the Prometheus chart's `kubernetes-nodes-cadvisor`.
    cadvisor_jobs: tuple[str, ...] = ("kubelet",)

    def __post_init__(self) -> None:
        end = _ts(self.end)
        if end % self.step_seconds or self.history_seconds % self.step_seconds:
            raise ValueError("end and history_seconds must be on the step grid")
        names: set[PodKey] = set()
        workloads = {w.key for w in self.workloads}
        for pod in self.pods:
            if pod.key in names:
                # Expected answers are keyed by (namespace, pod, container).
                raise ValueError(f"pod name {pod.key} is reused")
            names.add(pod.key)
            if pod.workload not in workloads:
                raise ValueError(f"{pod.key}: unknown workload {pod.workload}")
            if pod.deleted is not None and pod.deleted <= pod.created:
                raise ValueError(f"{pod.key}: deleted before created")
            self._validate_restarts(pod)

    def _validate_restarts(self, pod: Pod) -> None:
        for container, runs in self._pod_model(pod).instances.items():
            for run in runs:
                if run.terminated is not None and run.terminated <= run.started:
                    raise ValueError(
                        f"{pod.key}/{container}: restart at {run.terminated} before the run "
                        f"that started at {run.started}"
                    )
                ended = run.terminated if run.reason is not None else None
                if pod.deleted is not None and ended is not None and ended >= pod.deleted:
                    raise ValueError(f"{pod.key}/{container}: restart after deletion")

    # ---------------------------------------------------------------- construction

    @classmethod
    def demo(
        cls,
        end: datetime,
        *,
        seed: int = 1,
        extend_seconds: int = 0,
        history_seconds: int = 2 * DAY,
        step_seconds: int = 60,
    ) -> Scenario:
        """~17 live pods in shop, payments and kube-system, with the stories a report tells.

        - shop/checkout (Deployment, HPA 2..6): rescales 4 times the previous day and 7
          times the last day, at max for 4 h and again for the last 2 h; pod checkout-A
          is OOMKilled twice (working set climbs to its 512Mi limit first); a 10 min dip.
        - shop/frontend: one pod replaced 10 h before end (it had an Error restart 6 h
          earlier); the other has restarts older than the history only.
        - payments/api: one pod crash-loops (Error, exit 1) twice, the second time into
          the last minutes, so at `end` it waits in CrashLoopBackOff.
        - payments/ledger (StatefulSet): ledger Error/143 the previous day, backup sidecar
          Completed/0 the last day; a 6 min dip the previous day.
        - kube-system: coredns with an Error restart, kube-proxy DaemonSet; out of scope
          for shop/payments reports.

        A longer `history_seconds` (e.g. two months at a 300 s step, for a monthly report and
        its previous month) adds quiet history before the same story: the long-lived pods
        exist from before its start; nothing else happens there.
        """
        demo = _build_demo(_ts(end), seed, history_seconds)
        return dataclasses.replace(
            demo,
            extend_seconds=extend_seconds,
            history_seconds=history_seconds,
            step_seconds=step_seconds,
        )

    @classmethod
    def scaled(
        cls,
        pods: int,
        end: datetime,
        *,
        seed: int = 7,
        history_seconds: int = DAY,
        step_seconds: int = 60,
        extend_seconds: int = 0,
    ) -> Scenario:
        """`pods` pods in Deployments/StatefulSets of 5 across namespaces of 50, for benchmarks.

        Every pod lives through the whole history; one in 16 crashes with Error 1-3 times
        and one in 40 is OOMKilled. write_openmetrics() streams: it holds one pod's samples
        at a time. Cost at a 60 s step: about 8 MB of text and 0.1 s per pod and day.
        """
        scenario = _build_scaled(pods, _ts(end), seed, history_seconds, step_seconds)
        return dataclasses.replace(scenario, extend_seconds=extend_seconds)

    # ---------------------------------------------------------------- time grid

    @property
    def end_ts(self) -> int:
        return _ts(self.end)

    @property
    def start_ts(self) -> int:
        return self.end_ts - self.history_seconds

    @cached_property
    def grid(self) -> range:
        last = self.end_ts + self.extend_seconds // self.step_seconds * self.step_seconds
        return range(self.start_ts, last + 1, self.step_seconds)

    def cache_key(self) -> str:
        """Changes with any field and with the generator's code."""
        here = Path(__file__)
        source = here.read_bytes() + (here.parent / "openmetrics.py").read_bytes()
        return hashlib.sha256(source + repr(self).encode()).hexdigest()[:24]

    # ---------------------------------------------------------------- lookups

    @cached_property
    def _workloads(self) -> dict[WorkloadKey, Workload]:
        return {w.key: w for w in self.workloads}

    @cached_property
    def _nodes(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def _models(self) -> dict[PodKey, _PodModel]:
        return {pod.key: self._pod_model(pod) for pod in self.pods}

    def _pod_model(self, pod: Pod) -> _PodModel:
        workload = self._workloads[pod.workload]
        dips = [d for d in self.dips if (d.namespace, d.workload) == (pod.namespace, workload.name)]
        return _PodModel(pod, workload, dips)

    @cached_property
    def _hpa_by_target(self) -> dict[tuple[str, str], HPA]:
        return {(h.namespace, h.target): h for h in self.hpas}

    def _spec_replicas(self, workload: Workload, t: int) -> int:
        hpa = self._hpa_by_target.get((workload.namespace, workload.name))
        return hpa.desired(t) if hpa else workload.replicas

    def _generation(self, workload: Workload, t: int) -> int:
        # Every HPA rescale edits spec.replicas and every rollout the template: both bump
        # metadata.generation.
        rollouts = sum(1 for ts, _ in workload.rollouts if ts <= t)
        hpa = self._hpa_by_target.get((workload.namespace, workload.name))
        if hpa is None:
            return workload.generation + rollouts
        return workload.generation + rollouts + sum(1 for ts, _ in hpa.rescales if ts <= t)

    def _alive_times(self, pod: Pod) -> list[int]:
        grid = self.grid
        step = self.step_seconds
        first = max(grid.start, grid.start + -(-(pod.created - grid.start) // step) * step)
        stop = grid.stop if pod.deleted is None else min(grid.stop, pod.deleted)
        return list(range(first, stop, step))

    @cached_property
    def _models_by_workload(self) -> dict[WorkloadKey, list[_PodModel]]:
        out: dict[WorkloadKey, list[_PodModel]] = defaultdict(list)
        for model in self._models.values():
            out[model.pod.workload].append(model)
        return out

    def _pods_of(self, workload: Workload) -> list[_PodModel]:
        return self._models_by_workload.get(workload.key, [])

    # ---------------------------------------------------------------- simulation

    def _trace(self, pod: Pod) -> _PodTrace:
        """Per-sample CPU counters and working sets of a pod's containers and sandbox."""
        model = self._models[pod.key]
        times = self._alive_times(pod)
        step = self.step_seconds
        rng = random.Random(f"{self.seed}|trace|{pod.namespace}|{pod.name}")
        phase = rng.uniform(0, 2 * math.pi)
        traces: list[_ContainerTrace] = []
        for container in model.workload.containers:
            trace = _ContainerTrace(container, [], [], [], [])
            finished = 0.0  # CPU of earlier runs
            counter = 0.0
            periods = throttled = 0  # CFS counters of the current run
            owner = -1  # the run `counter` belongs to
            for t in times:
                # Draw every sample, running or not, so the streams stay aligned.
                cpu_noise = max(rng.gauss(1.0, 0.15), 0.05)
                mem_noise = rng.gauss(1.0, 0.03)
                inst = model.instance_at(container.name, t)
                if inst is None or inst.index != owner:
                    finished += counter if owner >= 0 else 0.0
                    counter, owner = 0.0, -1
                if inst is None:
                    trace.instance_at.append(-1)
                    trace.cpu.append(math.nan)
                    trace.memory.append(math.nan)
                    trace.total_cpu.append(finished)
                    trace.periods.append(math.nan)
                    trace.throttled.append(math.nan)
                    continue
                diurnal = 1.0 + 0.3 * math.sin(2 * math.pi * t / DAY + phase)
                rate = container.cpu_usage * diurnal * cpu_noise
                # The share of CFS periods throttled grows with demand against the quota.
                share = 0.0
                if container.cpu_limit is not None:
                    share = min(1.0, 0.5 * (rate / container.cpu_limit) ** 2)
                    rate = min(rate, container.cpu_limit)  # CFS throttling
                if owner < 0:
                    counter, owner = rate * (t - inst.started), inst.index
                    periods = CFS_PERIODS_PER_SECOND * (t - inst.started)
                    throttled = round(periods * share)
                else:
                    counter += rate * step
                    periods += CFS_PERIODS_PER_SECOND * step
                    throttled += round(CFS_PERIODS_PER_SECOND * step * share)
                trace.periods.append(float(periods))
                trace.throttled.append(float(throttled))
                trace.instance_at.append(inst.index)
                trace.cpu.append(counter)
                trace.memory.append(self._working_set(pod, container, inst, t, mem_noise))
                trace.total_cpu.append(finished + counter)
            traces.append(trace)
        pause_cpu = [0.0004 * (t - pod.created + 1) for t in times]
        pause_memory = [float(700 * KiB + 4096 * rng.randrange(16)) for _ in times]
        return _PodTrace(times, traces, pause_cpu, pause_memory)

    def _working_set(
        self, pod: Pod, container: Container, inst: _Instance, t: int, noise: float
    ) -> float:
        base = float(container.memory_usage)
        limit = container.memory_limit
        if inst.reason == "OOMKilled" and limit is not None and inst.terminated is not None:
            # Climb linearly so that the last sample before the kill is exactly the limit.
            last = inst.terminated - 1 - (inst.terminated - 1 - self.start_ts) % self.step_seconds
            ramp_start = max(last - 40 * MINUTE, inst.started)
            if t >= ramp_start and last > ramp_start:
                return float(
                    round(base + (limit - base) * ((t - ramp_start) / (last - ramp_start)))
                )
        warm = min(1.0, 0.6 + 0.4 * (t - inst.started) / (15 * MINUTE))
        value = base * warm * noise
        if limit is not None:
            value = min(value, 0.9 * limit)
        return float(round(value))

    # ---------------------------------------------------------------- families

    def _families(self) -> list[_Family]:
        """Every family as scraped: kube-state-metrics' through kube-prometheus' ServiceMonitor."""
        return [
            dataclasses.replace(
                family, series=_scraped_with_honor_labels(family.series, KSM_TARGET)
            )
            if family.name.startswith("kube_")
            else family
            for family in self._exposed_families()
        ]

    def _exposed_families(self) -> list[_Family]:
        f = _Family
        return [
            f("kube_node_info", "gauge", "Information about a cluster node.", self._node_info),
            f(
                "kube_node_status_condition",
                "gauge",
                "The condition of a cluster node.",
                self._node_condition,
            ),
            f("kube_pod_info", "gauge", "Information about pod.", self._pod_info),
            f("kube_pod_owner", "gauge", "Information about the Pod's owner.", self._pod_owner),
            f(
                "kube_replicaset_owner",
                "gauge",
                "Information about the ReplicaSet's owner.",
                self._replicaset_owner,
            ),
            f("kube_pod_status_phase", "gauge", "The pods current phase.", self._pod_phase),
            f(
                "kube_pod_container_resource_requests",
                "gauge",
                "The number of requested request resource by a container.",
                lambda: self._resources(limits=False),
            ),
            f(
                "kube_pod_container_resource_limits",
                "gauge",
                "The number of requested limit resource by a container.",
                lambda: self._resources(limits=True),
            ),
            f(
                RESTARTS,
                "counter",
                "The number of container restarts per container.",
                self._restarts,
            ),
            f(
                "kube_pod_container_status_last_terminated_reason",
                "gauge",
                "Describes the last reason the container was in terminated state.",
                self._last_terminated_reason,
            ),
            f(
                "kube_pod_container_status_waiting_reason",
                "gauge",
                "Describes the reason the container is currently in waiting state.",
                self._waiting_reason,
            ),
            *(
                f(
                    f"kube_horizontalpodautoscaler_{suffix}",
                    "gauge",
                    f"HPA {suffix}.",
                    self._hpa_family(suffix),
                )
                for suffix in (
                    "spec_min_replicas",
                    "spec_max_replicas",
                    "status_current_replicas",
                    "status_desired_replicas",
                )
            ),
            *(
                f(f"kube_deployment_{suffix}", "gauge", f"Deployment {suffix}.", self._dep(suffix))
                for suffix in (
                    "spec_replicas",
                    "status_replicas_available",
                    "status_replicas_unavailable",
                    "metadata_generation",
                    "status_observed_generation",
                )
            ),
            f(
                CPU,
                "counter",
                "Cumulative cpu time consumed in seconds.",
                lambda: self._cadvisor(memory=False),
            ),
            f(
                MEMORY,
                "gauge",
                "Current working set in bytes.",
                lambda: self._cadvisor(memory=True),
            ),
            f(UP, "gauge", "Whether the scrape target answered.", self._up),
            f(
                PERIODS,
                "counter",
                "Number of elapsed enforcement period intervals.",
                lambda: self._cfs(throttled=False),
            ),
            f(
                THROTTLED,
                "counter",
                "Number of throttled period intervals.",
                lambda: self._cfs(throttled=True),
            ),
            f(
                HTTP_REQUESTS,
                "counter",
                "Requests served, by handler and status code.",
                lambda: self._http(latency=False),
            ),
            # A histogram's buckets as plain series: PromQL reads them by name and `le`.
            f(
                f"{HTTP_LATENCY}_bucket",
                "gauge",
                "Request latency buckets (cumulative).",
                lambda: self._http(latency=True),
            ),
            f(ALERTS, "gauge", "Alerts firing.", self._alerts),
        ]

    def _constant(self, value: float) -> list[Sample]:
        return [(t, value) for t in self.grid]

    def _node_info(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for node in self.nodes:
            labels = {
                "container_runtime_version": "containerd://1.7.13",
                "internal_ip": node.ip,
                "kernel_version": "6.1.0-18-amd64",
                "kubelet_version": "v1.29.4",
                "kubeproxy_version": "v1.29.4",
                "node": node.name,
                "os_image": "Debian GNU/Linux 12 (bookworm)",
                "pod_cidr": node.pod_cidr,
                "system_uuid": _uid(self.seed, "node", node.name),
            }
            yield labels, self._constant(1)

    def _node_condition(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for node in self.nodes:
            now = "true" if node.ready else "false"
            for status in ("true", "false", "unknown"):
                labels = {"condition": "Ready", "node": node.name, "status": status}
                yield labels, self._constant(1 if status == now else 0)

    def _pod_labels(self, pod: Pod) -> dict[str, str]:
        return {"namespace": pod.namespace, "pod": pod.name, "uid": self.pod_uid(pod)}

    def pod_uid(self, pod: Pod) -> str:
        return _uid(self.seed, "pod", pod.namespace, pod.name)

    def _owner(self, pod: Pod) -> tuple[str, str]:
        workload = self._workloads[pod.workload]
        if workload.kind == "Deployment":
            return "ReplicaSet", f"{workload.name}-{pod.template_hash or workload.template_hash}"
        return workload.kind, workload.name

    def _pod_info(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            kind, name = self._owner(pod)
            labels = {
                **self._pod_labels(pod),
                "created_by_kind": kind,
                "created_by_name": name,
                "host_ip": self._nodes[pod.node].ip,
                "host_network": "false",
                "node": pod.node,
                "pod_ip": pod.ip,
            }
            if pod.namespace == "kube-system":
                labels["priority_class"] = "system-cluster-critical"
            yield labels, [(t, 1) for t in self._alive_times(pod)]

    def _pod_owner(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            kind, name = self._owner(pod)
            labels = {
                **self._pod_labels(pod),
                "owner_is_controller": "true",
                "owner_kind": kind,
                "owner_name": name,
            }
            yield labels, [(t, 1) for t in self._alive_times(pod)]

    def _replicaset_owner(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for w in self.workloads:
            if w.kind != "Deployment":
                continue
            for _, template_hash, created in w.revisions():
                labels = {
                    "namespace": w.namespace,
                    "owner_is_controller": "true",
                    "owner_kind": "Deployment",
                    "owner_name": w.name,
                    "replicaset": f"{w.name}-{template_hash}",
                }
                yield labels, [(t, 1) for t in self.grid if created is None or t >= created]

    def _pod_phase(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            times = self._alive_times(pod)
            for phase in PHASES:
                value = 1 if phase == "Running" else 0
                yield {**self._pod_labels(pod), "phase": phase}, [(t, value) for t in times]

    def _resources(self, *, limits: bool) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            times = self._alive_times(pod)
            for c in self._workloads[pod.workload].containers:
                cpu = c.cpu_limit if limits else c.cpu_request
                memory = c.memory_limit if limits else c.memory_request
                for resource, unit, value in (
                    ("cpu", "core", cpu),
                    ("memory", "byte", None if memory is None else float(memory)),
                ):
                    if value is None:
                        continue  # kube-state-metrics writes no series for an unset value
                    labels = {
                        **self._pod_labels(pod),
                        "container": c.name,
                        "node": pod.node,
                        "resource": resource,
                        "unit": unit,
                    }
                    yield labels, [(t, value) for t in times]

    def _restarts(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            model = self._models[pod.key]
            for c in model.workload.containers:
                labels = {**self._pod_labels(pod), "container": c.name}
                times = self._alive_times(pod)
                yield labels, [(t, model.restart_count(c.name, t)) for t in times]

    def _last_terminated_reason(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            model = self._models[pod.key]
            for c in model.workload.containers:
                by_reason: dict[str, list[Sample]] = defaultdict(list)
                for t in self._alive_times(pod):
                    last = model.last_restart(c.name, t)
                    if last is not None:
                        by_reason[last.reason].append((t, 1))
                for reason, samples in by_reason.items():
                    yield {**self._pod_labels(pod), "container": c.name, "reason": reason}, samples

    def _waiting_reason(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            model = self._models[pod.key]
            for c in model.workload.containers:
                if not model.restarts[c.name]:
                    continue
                # Only while waiting: kube-state-metrics v2 writes no 0 for other reasons.
                samples: list[Sample] = [
                    (t, 1) for t in self._alive_times(pod) if model.instance_at(c.name, t) is None
                ]
                if samples:
                    labels = {
                        **self._pod_labels(pod),
                        "container": c.name,
                        "reason": "CrashLoopBackOff",
                    }
                    yield labels, samples

    def _hpa_family(
        self, suffix: str
    ) -> Callable[[], Iterator[tuple[dict[str, str], Iterable[Sample]]]]:
        def series() -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
            for hpa in self.hpas:
                labels = {"horizontalpodautoscaler": hpa.name, "namespace": hpa.namespace}
                if suffix == "spec_min_replicas":
                    yield labels, self._constant(hpa.min_replicas)
                elif suffix == "spec_max_replicas":
                    yield labels, self._constant(hpa.max_replicas)
                else:
                    value = hpa.current if suffix == "status_current_replicas" else hpa.desired
                    yield labels, [(t, value(t)) for t in self.grid]

        return series

    def _available(self, workload: Workload, t: int) -> int:
        return sum(1 for m in self._pods_of(workload) if m.alive(t) and m.ready(t))

    def _dep(self, suffix: str) -> Callable[[], Iterator[tuple[dict[str, str], Iterable[Sample]]]]:
        def value(w: Workload, t: int) -> int:
            if suffix == "spec_replicas":
                return self._spec_replicas(w, t)
            if suffix == "status_replicas_available":
                return self._available(w, t)
            if suffix == "status_replicas_unavailable":
                return max(0, self._spec_replicas(w, t) - self._available(w, t))
            if suffix == "metadata_generation":
                return self._generation(w, t)
            # The controller catches up with a new generation one step later.
            return self._generation(w, t - self.step_seconds)

        def series() -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
            for w in self.workloads:
                if w.kind == "Deployment":
                    labels = {"deployment": w.name, "namespace": w.namespace}
                    yield labels, [(t, value(w, t)) for t in self.grid]

        return series

    def _cgroup(self, pod: Pod) -> str:
        qos = _qos(self._workloads[pod.workload].containers)
        uid = self.pod_uid(pod).replace("-", "_")
        if qos == "Guaranteed":
            return f"/kubepods.slice/kubepods-pod{uid}.slice"
        q = qos.lower()
        return f"/kubepods.slice/kubepods-{q}.slice/kubepods-{q}-pod{uid}.slice"

    def container_id(self, pod: Pod, container: str, index: int) -> str:
        return _digest(self.pod_uid(pod), container, index)

    def _cadvisor(self, *, memory: bool) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            trace = self._trace(pod)
            node = self._nodes[pod.node]
            cgroup = self._cgroup(pod)
            for scrape in self._cadvisor_scrapes(node):
                common = {**scrape, "namespace": pod.namespace, "node": pod.node, "pod": pod.name}
                yield from self._cadvisor_pod(pod, trace, cgroup, common, memory=memory)

    def _cadvisor_scrapes(self, node: Node) -> list[dict[str, str]]:
        """The target labels of each job that scrapes `node`'s kubelet cAdvisor endpoint:
        kube-prometheus' `kubelet` job, or the Prometheus chart's `kubernetes-nodes-cadvisor`
        (through the API server's node proxy, node labels mapped in)."""
        return [
            {"instance": f"{node.ip}:10250", "job": job, "metrics_path": "/metrics/cadvisor"}
            if job == "kubelet"
            else {
                "instance": node.name,
                "job": job,
                "kubernetes_io_hostname": node.name,
                "kubernetes_io_os": "linux",
            }
            for job in self.cadvisor_jobs
        ]

    def _cadvisor_pod(
        self, pod: Pod, trace: _PodTrace, cgroup: str, common: dict[str, str], *, memory: bool
    ) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for ct, cid, samples in self._container_runs(
            pod, trace, trace.containers, lambda ct: ct.memory if memory else ct.cpu
        ):
            labels = {
                **common,
                "container": ct.container.name,
                "id": f"{cgroup}/cri-containerd-{cid}.scope",
                "image": ct.container.image,
                "name": cid,
            }
            yield labels, samples
        # The sandbox (pause) container and the pod cgroup, which queries must exclude.
        sandbox = _digest(self.pod_uid(pod), "sandbox")
        pause = trace.pause_memory if memory else trace.pause_cpu
        pause_labels = {
            **common,
            "container": "POD",
            "id": f"{cgroup}/cri-containerd-{sandbox}.scope",
            "image": "pause:3.9",
            "name": sandbox,
        }
        yield pause_labels, list(zip(trace.times, pause, strict=True))
        totals: list[float] = []
        for i in range(len(trace.times)):
            if memory:
                running = (ct.memory[i] for ct in trace.containers if ct.instance_at[i] >= 0)
                totals.append(sum(running) + trace.pause_memory[i])
            else:
                totals.append(sum(ct.total_cpu[i] for ct in trace.containers) + pause[i])
        # An empty container label is no label: Prometheus drops empty label values.
        yield {**common, "id": cgroup}, list(zip(trace.times, totals, strict=True))

    def _cfs(self, *, throttled: bool) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        """CFS periods per container run, only for containers with a CPU limit (a CFS quota)."""
        for pod in self.pods:
            limited = [c for c in self._workloads[pod.workload].containers if c.cpu_limit]
            if not limited:
                continue
            trace = self._trace(pod)
            node = self._nodes[pod.node]
            cgroup = self._cgroup(pod)
            quota = [ct for ct in trace.containers if ct.container.cpu_limit is not None]
            for scrape in self._cadvisor_scrapes(node):
                for ct, cid, samples in self._container_runs(
                    pod, trace, quota, lambda ct: ct.throttled if throttled else ct.periods
                ):
                    labels = {
                        **scrape,
                        "container": ct.container.name,
                        "id": f"{cgroup}/cri-containerd-{cid}.scope",
                        "image": ct.container.image,
                        "name": cid,
                        "namespace": pod.namespace,
                        "node": pod.node,
                        "pod": pod.name,
                    }
                    yield labels, samples

    def _container_runs(
        self,
        pod: Pod,
        trace: _PodTrace,
        containers: Iterable[_ContainerTrace],
        values_of: Callable[[_ContainerTrace], list[float]],
    ) -> Iterator[tuple[_ContainerTrace, str, list[Sample]]]:
        """Each container instance's samples with its container id: a restart is a new cgroup."""
        for ct in containers:
            by_instance: dict[int, list[Sample]] = defaultdict(list)
            for t, k, v in zip(trace.times, ct.instance_at, values_of(ct), strict=True):
                if k >= 0:
                    by_instance[k].append((t, v))
            for k, samples in sorted(by_instance.items()):
                yield ct, self.container_id(pod, ct.container.name, k), samples

    def _up(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            workload = self._workloads[pod.workload]
            if workload.metrics_port is None:
                continue
            model = self._models[pod.key]
            labels = {
                "instance": f"{pod.ip}:{workload.metrics_port}",
                "job": workload.name,
                "namespace": pod.namespace,
                "pod": pod.name,
            }
            yield (
                labels,
                [
                    (t, 1 if model.up(t) else 0)
                    for t in self._alive_times(pod)
                    if not self._unscraped(pod, t)
                ],
            )

    def _unscraped(self, pod: Pod, t: int) -> bool:
        return any(
            (g.namespace, g.pod) == pod.key and g.start <= t < g.end for g in self.scrape_gaps
        )

    def _scrape_labels(self, pod: Pod) -> dict[str, str]:
        workload = self._workloads[pod.workload]
        return {
            "instance": f"{pod.ip}:{workload.metrics_port}",
            "job": workload.name,
            "namespace": pod.namespace,
            "pod": pod.name,
        }

    def _http_trace(self, pod: Pod) -> list[tuple[int, int, dict[str, list[int]]]]:
        """(time, run, handler -> [200, 404, 500 counts, bucket counts...]) at each scrape.

        Counters count from zero in each run of the main container (a restart resets them)
        and only while the pod serves (up); a scrape gap hides samples, not requests.
        """
        model = self._models[pod.key]
        handlers = model.workload.http
        main = model.workload.containers[0].name
        rng = random.Random(f"{self.seed}|http|{pod.namespace}|{pod.name}")
        out: list[tuple[int, int, dict[str, list[int]]]] = []
        counts: dict[str, list[int]] = {}
        owner = -1
        for t in self._alive_times(pod):
            draws = [(rng.gauss(1.0, 0.1), rng.uniform(0.5, 1.5)) for _ in handlers]
            inst = model.instance_at(main, t)
            if inst is None or not model.up(t):
                continue
            if inst.index != owner:
                counts = {h.path: [0] * (3 + len(LATENCY_BUCKETS) + 1) for h in handlers}
                owner = inst.index
            diurnal = 1.0 + 0.3 * math.sin(2 * math.pi * t / DAY)
            for h, (noise, error_noise) in zip(handlers, draws, strict=True):
                n = max(0, round(h.rps * self.step_seconds * diurnal * noise))
                errors = round(n * h.error_ratio * error_noise)
                missing = round(n * 0.01)
                row = counts[h.path]
                row[0] += n - errors - missing
                row[1] += missing
                row[2] += errors
                spread = [math.floor(n * share) for share in h.latency]
                slow = n - math.floor(n * sum(h.latency))  # above the last finite bucket
                # What rounding down left over goes to the busiest bucket.
                spread[h.latency.index(max(h.latency))] += n - slow - sum(spread)
                for i, k in enumerate(spread):
                    row[3 + i] += k
                row[3 + len(LATENCY_BUCKETS)] += slow
            if not self._unscraped(pod, t):
                out.append((t, owner, {path: list(row) for path, row in counts.items()}))
        return out

    def _http(self, *, latency: bool) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for pod in self.pods:
            if not self._workloads[pod.workload].http:
                continue
            trace = self._http_trace(pod)
            common = self._scrape_labels(pod)
            for h in self._workloads[pod.workload].http:
                if latency:
                    for i, le in enumerate((*LATENCY_BUCKETS, math.inf)):
                        samples: list[Sample] = []
                        for t, _, rows in trace:
                            row = rows[h.path]
                            if sum(row[:3]):  # buckets appear with the run's first request
                                samples.append((t, float(sum(row[3 : 4 + i]))))
                        label = "+Inf" if le == math.inf else format_value(le)
                        yield {**common, "handler": h.path, "le": label}, samples
                    continue
                for k, code in enumerate(("200", "404", "500")):
                    # A client library creates a code's series at its first request of the run.
                    samples = [
                        (t, float(rows[h.path][k])) for t, _, rows in trace if rows[h.path][k]
                    ]
                    yield {**common, "code": code, "handler": h.path}, samples

    def _alerts(self) -> Iterator[tuple[dict[str, str], Iterable[Sample]]]:
        for rule in self.alerts:
            labels = {"alertname": rule.name, "alertstate": "firing", "severity": rule.severity}
            if rule.namespace is not None:
                labels["namespace"] = rule.namespace
            labels.update(rule.labels)
            samples: list[Sample] = [
                (t, 1)
                for t in self.grid
                if any(start <= t and (end is None or t < end) for start, end in rule.firing)
            ]
            yield dict(sorted(labels.items())), samples

    # ---------------------------------------------------------------- outputs

    def write_openmetrics(self, path: Path) -> None:
        """The history from end - history_seconds to end + extend_seconds, both included."""
        with OpenMetricsWriter.open(path) as writer:
            for family in self._families():
                writer.family(family.name, family.type, family.help)
                for labels, samples in family.series():
                    writer.series(labels, samples)

    @cached_property
    def _materialized(self) -> dict[str, list[_Series]]:
        return {}

    def _series(self, name: str) -> list[_Series]:
        """A family's samples exactly as written (kept in memory: for demo-sized scenarios)."""
        if name not in self._materialized:
            family = next(f for f in self._families() if f.name == name)
            out: list[_Series] = []
            for labels, samples in family.series():
                pairs = list(samples)
                out.append(_Series(labels, [t for t, _ in pairs], [v for _, v in pairs]))
            self._materialized[name] = out
        return self._materialized[name]

    def expected(
        self,
        window_start: datetime,
        window_end: datetime,
        namespaces: set[str] | frozenset[str] | None = None,
    ) -> Expected:
        """Answers for the window, computed from the written samples, not from Prometheus.

        PromQL semantics follow Prometheus 2.42 for queries at time=window_end with
        `[W]` = window_end - window_start: range selectors take samples in [start, end]
        (both ends), rate/increase extrapolate as `extrapolatedRate` does, subqueries
        evaluate at multiples of their step within [start, end], quantiles interpolate
        at rank q * (n - 1). See promql() for the queries.
        """
        start, end = _ts(window_start), _ts(window_end)
        if end <= start:
            raise ValueError("empty window")
        scope = None if namespaces is None else frozenset(namespaces)

        def in_scope(labels: Mapping[str, str]) -> bool:
            return scope is None or labels.get("namespace") in scope

        restarts, last_reason, oom_kills, events = self._expected_restarts(start, end, in_scope)
        ratio, samples, ones, downtimes = self._expected_availability(start, end, in_scope)
        containers = self._expected_containers(start, end, scope)
        pod_workloads = {
            pod.key: pod.workload
            for pod in self.pods
            if (scope is None or pod.namespace in scope)
            and any(start <= t <= end for t in self._alive_times(pod))
        }
        workloads = self._expected_workloads(pod_workloads, restarts, oom_kills, containers)
        hpas = self._expected_hpas(start, end, scope)
        return Expected(
            window_start=window_start,
            window_end=window_end,
            namespaces=scope,
            restarts_by_container=restarts,
            restarts_total=sum(restarts.values()),
            last_reason_by_container=last_reason,
            oom_kills_by_container=oom_kills,
            restart_events=events,
            availability_ratio=ratio,
            up_samples=samples,
            up_ones=ones,
            downtime_intervals=downtimes,
            containers=containers,
            pod_workloads=pod_workloads,
            workloads=workloads,
            hpas=hpas,
            deployments=self._expected_deployments(start, end, in_scope),
            incidents=self._expected_incidents(start, end, in_scope),
            alerts=self._expected_alerts(start, end, scope),
            events=self._expected_events(start, end, scope),
            rollouts=self._expected_rollouts(start, end, scope),
        )

    def _expected_deployments(
        self, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
    ) -> dict[tuple[str, str], DeploymentSummary]:
        generations = {
            (s.labels["namespace"], s.labels["deployment"]): s for s in self._series(GENERATION)
        }
        out: dict[tuple[str, str], DeploymentSummary] = {}
        for series in self._series(UNAVAILABLE):
            if not in_scope(series.labels):
                continue
            key = (series.labels["namespace"], series.labels["deployment"])
            i, j = _window(series.times, start, end)
            times, values = series.times[i:j], series.values[i:j]
            generation = generations[key]
            gi, gj = _window(generation.times, start, end)
            changes = generation.values[gi:gj]
            out[key] = DeploymentSummary(
                namespace=key[0],
                name=key[1],
                max_unavailable=int(max(values)),
                seconds_unavailable=self.step_seconds
                * sum(1 for t, v in zip(times, values, strict=True) if v > 0 and t < end),
                spec_changes=sum(1 for a, b in itertools.pairwise(changes) if a != b),
            )
        return out

    def _expected_incidents(
        self, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
    ) -> list[Stretch]:
        """Targets down (a sample of 0) at grid points in [start, end), merged per job."""
        by_job: dict[tuple[str, str], list[tuple[tuple[int, int], str]]] = defaultdict(list)
        for series in self._series(UP):
            if not in_scope(series.labels):
                continue
            down = [
                t
                for t, v in zip(series.times, series.values, strict=True)
                if v == 0 and start <= t < end
            ]
            key = (series.labels["namespace"], series.labels["job"])
            for span in _grid_stretches(down, self.step_seconds, end):
                by_job[key].append((span, series.labels["pod"]))
        out: list[Stretch] = []
        for (namespace, job), spans in by_job.items():
            for a, b in _merge_stretches(span for span, _ in spans):
                pods = sorted({pod for (x, y), pod in spans if x < b and y > a})
                out.append(Stretch(namespace, job, _dt(a), _dt(b), tuple(pods)))
        out.sort(key=lambda i: (i.start, i.namespace, i.name))
        return out

    def _expected_alerts(
        self, start: int, end: int, scope: frozenset[str] | None
    ) -> list[AlertSummary]:
        points: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        at_end: set[tuple[str, str, str]] = set()
        for series in self._series(ALERTS):
            labels = series.labels
            namespace = labels.get("namespace")
            if scope is not None and namespace not in scope:
                continue
            key = (labels["alertname"], labels["severity"], namespace or "")
            points[key].extend(t for t in series.times if start <= t < end)
            if end in series.times:
                at_end.add(key)
        out: list[AlertSummary] = []
        for (name, severity, namespace), times in points.items():
            spans = _merge_stretches(_grid_stretches(times, self.step_seconds, end))
            if not spans:
                continue
            out.append(
                AlertSummary(
                    name=name,
                    severity=severity,
                    namespace=namespace,
                    first_firing=_dt(spans[0][0]),
                    last_firing=_dt(spans[-1][1]),
                    duration_seconds=sum(b - a for a, b in spans),
                    firings=len(spans),
                    firing_at_end=(name, severity, namespace) in at_end,
                )
            )
        return sorted(out, key=lambda a: (a.name, a.namespace))

    def _expected_events(
        self, start: int, end: int, scope: frozenset[str] | None
    ) -> list[EventSummary]:
        """Event series (as recorded up to `end` of the history) that overlap the window."""
        out: list[EventSummary] = []
        for e in self._event_series(self.end_ts):
            first, last = e.times[0], e.times[-1]
            if (scope is not None and e.namespace not in scope) or first > end or last < start:
                continue
            out.append(
                EventSummary(
                    namespace=e.namespace,
                    kind=e.involved["kind"],
                    name=e.involved["name"],
                    reason=e.reason,
                    message=e.message,
                    count=len(e.times),
                    first=_dt(first),
                    last=_dt(last),
                    count_in_window=len(e.times) if start <= first and last <= end else None,
                )
            )
        return out

    def _expected_rollouts(
        self, start: int, end: int, scope: frozenset[str] | None
    ) -> list[RolloutSummary]:
        """ReplicaSets created in [start, end); ControllerRevisions all predate the history."""
        out = [
            RolloutSummary(w.namespace, w.kind, w.name, revision, f"{w.name}-{h}", _dt(created))
            for w in self.workloads
            if scope is None or w.namespace in scope
            for revision, h, created in w.revisions()
            if created is not None and start <= created < end
        ]
        return sorted(out, key=lambda r: (r.started_at, r.namespace, r.name))

    def expected_traffic(
        self,
        window_start: datetime,
        window_end: datetime,
        namespaces: set[str] | frozenset[str],
        selector: Mapping[str, str],
    ) -> TrafficSummary:
        """Request figures over the window for series matching `selector` (label = value)."""
        start, end = _ts(window_start), _ts(window_end)

        def matches(labels: Mapping[str, str]) -> bool:
            return labels.get("namespace") in namespaces and all(
                labels.get(k) == v for k, v in selector.items()
            )

        def increases(name: str) -> list[tuple[dict[str, str], float]]:
            out = []
            for series in self._series(name):
                if matches(series.labels):
                    got = _extrapolated_rate(series.times, series.values, start, end, is_rate=False)
                    if got is not None:
                        out.append((series.labels, got))
            return out

        counters = increases(HTTP_REQUESTS)
        requests = math.fsum(v for _, v in counters) if counters else None
        errors_found = [v for labels, v in counters if labels["code"].startswith("5")]
        errors = math.fsum(errors_found) if errors_found else (0.0 if counters else None)
        by_le: dict[float, float] = defaultdict(float)
        for labels, value in increases(f"{HTTP_LATENCY}_bucket"):
            by_le[float(labels["le"])] += value
        buckets = list(by_le.items())
        return TrafficSummary(
            requests=requests,
            errors=errors,
            p50=_histogram_quantile(0.5, buckets),
            p95=_histogram_quantile(0.95, buckets),
            p99=_histogram_quantile(0.99, buckets),
        )

    def expected_series(
        self,
        window_start: datetime,
        window_end: datetime,
        namespaces: set[str] | frozenset[str],
        *,
        step: int,
        time_zone: str = "UTC",
        selector: Mapping[str, str] | None = None,
    ) -> SeriesSummary:
        """Per-step figures over the window and their ISO weeks (Monday 00:00 in `time_zone`).

        A step [t, t + step) holds the samples taken in it: `up` scrapes, the highest HPA replica
        counts, restart counter increments (a sample above the one before counts the difference,
        one below counts its value: the counter restarted; a series' first sample is its
        baseline). Requests, errors and latency buckets are Prometheus 2.42's `increase()` over
        [t, t + step] (both ends), summed over the series that match `selector`.
        """
        start, end = _ts(window_start), _ts(window_end)
        grid = range(start, end, step)

        def slot(x: int) -> int | None:
            return start + (x - start) // step * step if start <= x < end else None

        successful: dict[int, float] = defaultdict(float)
        total: dict[int, float] = defaultdict(float)
        for series in self._series(UP):
            if series.labels.get("namespace") in namespaces:
                for x, v in zip(series.times, series.values, strict=True):
                    if (t := slot(x)) is not None:
                        successful[t] += v
                        total[t] += 1
        restarts: dict[int, float] = defaultdict(float)
        for series in self._series(RESTARTS):
            if series.labels.get("namespace") in namespaces:
                pairs = list(zip(series.times, series.values, strict=True))
                for (_, before), (x, now) in itertools.pairwise(pairs):
                    if (t := slot(x)) is not None:
                        restarts[t] += now - before if now >= before else now
        replicas: dict[HPAKey, dict[str, dict[int, float]]] = {}
        for which, name in (("current", HPA_CURRENT), ("desired", HPA_DESIRED)):
            for series in self._series(name):
                key = (series.labels["namespace"], series.labels["horizontalpodautoscaler"])
                if key[0] not in namespaces:
                    continue
                peaks = replicas.setdefault(key, {}).setdefault(which, {})
                for x, v in zip(series.times, series.values, strict=True):
                    if (t := slot(x)) is not None:
                        peaks[t] = max(peaks.get(t, v), v)
        requests: dict[int, float] = {}
        errors: dict[int, float] = {}
        buckets: dict[int, dict[float, float]] = defaultdict(lambda: defaultdict(float))
        if selector is not None:

            def matches(labels: Mapping[str, str]) -> bool:
                return labels.get("namespace") in namespaces and all(
                    labels.get(k) == v for k, v in selector.items()
                )

            counters = [s for s in self._series(HTTP_REQUESTS) if matches(s.labels)]
            histogram = [s for s in self._series(f"{HTTP_LATENCY}_bucket") if matches(s.labels)]
            for t in grid:

                def increase(s: _Series, t: int = t) -> float | None:
                    return _extrapolated_rate(s.times, s.values, t, t + step, is_rate=False)

                found = [(s, got) for s in counters if (got := increase(s)) is not None]
                if found:
                    requests[t] = math.fsum(v for _, v in found)
                    failed = [v for s, v in found if s.labels["code"].startswith("5")]
                    errors[t] = math.fsum(failed) if failed else 0.0
                for s in histogram:
                    if (got := increase(s)) is not None:
                        buckets[t][float(s.labels["le"])] += got
        incidents = self._expected_incidents(start, end, lambda x: x.get("namespace") in namespaces)
        firing = [
            (series.labels["alertname"], series.labels["severity"], series.labels["namespace"], t)
            for series in self._series(ALERTS)
            if series.labels.get("namespace") in namespaces
            for t in series.times
            if start <= t < end
        ]
        weeks = []
        for week_start, week_end, iso in _iso_weeks(window_start, window_end, time_zone):
            lo, hi = _ts(week_start), _ts(week_end)
            overlaps = [
                min(_ts(i.end), hi) - max(_ts(i.start), lo)
                for i in incidents
                if _ts(i.start) < hi and _ts(i.end) > lo
            ]

            def inside(values: Mapping[int, float], lo: int = lo, hi: int = hi) -> list[float]:
                return [v for t, v in values.items() if lo <= t < hi]

            summed: dict[float, float] = defaultdict(float)
            for t, counts in buckets.items():
                if lo <= t < hi:
                    for le, count in counts.items():
                        summed[le] += count
            week_requests = inside(requests)
            weeks.append(
                WeekSummary(
                    start=week_start,
                    end=week_end,
                    iso_week=iso,
                    successful_scrapes=int(sum(inside(successful))),
                    total_scrapes=int(sum(inside(total))),
                    restarts=int(sum(inside(restarts))),
                    incidents=len(overlaps),
                    downtime_seconds=sum(overlaps),
                    alerts=len({(name, sev, ns) for name, sev, ns, t in firing if lo <= t < hi}),
                    requests=math.fsum(week_requests) if week_requests else None,
                    errors=math.fsum(inside(errors)) if week_requests else None,
                    latency_p95=_histogram_quantile(0.95, list(summed.items())),
                )
            )
        return SeriesSummary(
            steps=list(grid),
            availability={t: 100.0 * successful[t] / total[t] for t in grid if total.get(t)},
            replicas=replicas,
            latency_p95={
                t: q for t in grid if (q := _histogram_quantile(0.95, list(buckets[t].items())))
            }
            if selector is not None
            else {},
            weeks=weeks,
        )

    def nodes_at_end(self) -> tuple[int, list[str]]:
        """(nodes, names of the NotReady ones)."""
        return len(self.nodes), sorted(n.name for n in self.nodes if not n.ready)

    def workload_status_at_end(self) -> dict[WorkloadKey, tuple[int, int, int]]:
        """(desired, ready, unavailable) replicas of Deployments and StatefulSets at `end`."""
        end = self.end_ts
        out: dict[WorkloadKey, tuple[int, int, int]] = {}
        for w in self.workloads:
            if w.kind == "DaemonSet":
                continue
            ready = sum(1 for m in self._pods_of(w) if m.alive(end) and m.ready(end))
            desired = self._spec_replicas(w, end) if w.kind == "Deployment" else w.replicas
            out[w.key] = (desired, ready, max(0, desired - ready))
        return out

    def _expected_restarts(
        self, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
    ) -> tuple[
        dict[ContainerKey, int],
        dict[ContainerKey, str],
        dict[ContainerKey, int],
        list[RestartRecord],
    ]:
        by_container: dict[ContainerKey, int] = {}
        last_reason: dict[ContainerKey, str] = {}
        oom_kills: dict[ContainerKey, int] = {}
        records: list[RestartRecord] = []
        for series in self._series(RESTARTS):
            labels = series.labels
            key = (labels["namespace"], labels["pod"], labels["container"])
            model = self._models[key[:2]]
            in_window = [r for r in model.restarts[key[2]] if start < r.timestamp <= end]
            increase = _extrapolated_rate(series.times, series.values, start, end, is_rate=False)
            # Keep the docstring's promise: the history must not let rounding miscount.
            # PromQL's round() goes half up, unlike Python's.
            rounded = math.floor(increase + 0.5) if increase is not None else 0
            if rounded != len(in_window):
                raise AssertionError(
                    f"{key}: increase() would round {increase!r} to a different count "
                    f"than the {len(in_window)} restarts in the window; fix the scenario"
                )
            if increase is None or not in_scope(labels):
                continue
            by_container[key] = len(in_window)
            if in_window:
                last_reason[key] = in_window[-1].reason
            ooms = sum(1 for r in in_window if r.reason == "OOMKilled")
            if ooms:
                oom_kills[key] = ooms
            records.extend(
                RestartRecord(*key, _dt(r.timestamp), r.reason, r.exit_code) for r in in_window
            )
        records.sort(key=lambda r: (r.timestamp, r.namespace, r.pod, r.container))
        return by_container, last_reason, oom_kills, records

    def _expected_availability(
        self, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
    ) -> tuple[float | None, int, int, list[Downtime]]:
        samples = ones = 0
        downtimes: list[Downtime] = []
        for series in self._series(UP):
            if not in_scope(series.labels):
                continue
            i, j = _window(series.times, start, end)
            values = series.values[i:j]
            times = series.times[i:j]
            samples += len(values)
            ones += sum(1 for v in values if v == 1)
            run_start: int | None = None
            for k, (t, v) in enumerate(zip(times, values, strict=True)):
                if v == 0 and run_start is None:
                    run_start = t
                if run_start is not None and (v == 1 or k == len(values) - 1):
                    stop = t if v == 1 else t + self.step_seconds
                    labels = series.labels
                    downtimes.append(
                        Downtime(
                            labels["namespace"],
                            labels["pod"],
                            labels["job"],
                            labels["instance"],
                            _dt(run_start),
                            _dt(stop),
                        )
                    )
                    run_start = None
        downtimes.sort(key=lambda d: (d.start, d.namespace, d.pod))
        ratio = ones / samples if samples else None
        return ratio, samples, ones, downtimes

    def _expected_containers(
        self, start: int, end: int, scope: frozenset[str] | None
    ) -> dict[ContainerKey, ContainerUsage]:
        cpu_series: dict[ContainerKey, list[_Series]] = defaultdict(list)
        for series in self._series(CPU):
            name = series.labels.get("container", "")
            if name and name != "POD":
                cpu_series[(series.labels["namespace"], series.labels["pod"], name)].append(series)
        memory_series: dict[ContainerKey, list[_Series]] = defaultdict(list)
        for series in self._series(MEMORY):
            name = series.labels.get("container", "")
            if name and name != "POD":
                memory_series[(series.labels["namespace"], series.labels["pod"], name)].append(
                    series
                )
        cfs: dict[tuple[str, ContainerKey], list[_Series]] = defaultdict(list)
        for family in (PERIODS, THROTTLED):
            for series in self._series(family):
                labels = series.labels
                cfs[(family, (labels["namespace"], labels["pod"], labels["container"]))].append(
                    series
                )

        def increase(family: str, key: ContainerKey) -> float | None:
            """sum by container (increase()) over its runs' series, as the CFS queries do."""
            parts = [
                got
                for series in cfs.get((family, key), [])
                if (
                    got := _extrapolated_rate(
                        series.times, series.values, start, end, is_rate=False
                    )
                )
                is not None
            ]
            return math.fsum(parts) if parts else None

        steps = _subquery_steps(end, end - start, CPU_SUBQUERY_STEP)
        out: dict[ContainerKey, ContainerUsage] = {}
        for pod in self.pods:
            if scope is not None and pod.namespace not in scope:
                continue
            if not any(start <= t <= end for t in self._alive_times(pod)):
                continue
            for c in self._workloads[pod.workload].containers:
                key = (pod.namespace, pod.name, c.name)
                # sum by (namespace, pod, container) (rate(...[5m])) at each subquery step.
                rates: list[float] = []
                for ts in steps:
                    parts = [
                        r
                        for s in cpu_series[key]
                        if (
                            r := _extrapolated_rate(
                                s.times, s.values, ts - CPU_RATE_RANGE, ts, is_rate=True
                            )
                        )
                        is not None
                    ]
                    if parts:
                        rates.append(math.fsum(parts))
                raw: list[float] = []
                for s in memory_series[key]:
                    i, j = _window(s.times, start, end)
                    raw.extend(s.values[i:j])
                out[key] = ContainerUsage(
                    namespace=pod.namespace,
                    pod=pod.name,
                    container=c.name,
                    workload=pod.workload,
                    cpu_avg=math.fsum(rates) / len(rates) if rates else None,
                    cpu_p95=_quantile(0.95, rates) if rates else None,
                    cpu_max=max(rates) if rates else None,
                    memory_avg=math.fsum(raw) / len(raw) if raw else None,
                    memory_max=max(raw) if raw else None,
                    cpu_request=c.cpu_request,
                    cpu_limit=c.cpu_limit,
                    memory_request=c.memory_request,
                    memory_limit=c.memory_limit,
                    cpu_periods=increase(PERIODS, key),
                    cpu_throttled_periods=increase(THROTTLED, key),
                )
        return out

    def _expected_workloads(
        self,
        pod_workloads: dict[PodKey, WorkloadKey],
        restarts: dict[ContainerKey, int],
        oom_kills: dict[ContainerKey, int],
        containers: dict[ContainerKey, ContainerUsage],
    ) -> dict[WorkloadKey, WorkloadSummary]:
        pods: dict[WorkloadKey, set[str]] = defaultdict(set)
        for (_, pod), workload in pod_workloads.items():
            pods[workload].add(pod)
        out: dict[WorkloadKey, WorkloadSummary] = {}
        for key, names in sorted(pods.items()):
            mine = [c for c in containers.values() if c.workload == key]
            memory = [c.memory_max for c in mine if c.memory_max is not None]
            out[key] = WorkloadSummary(
                namespace=key[0],
                kind=self._workloads[key].kind,
                name=key[2],
                pods=frozenset(names),
                restarts=sum(n for k, n in restarts.items() if pod_workloads.get(k[:2]) == key),
                oom_kills=sum(n for k, n in oom_kills.items() if pod_workloads.get(k[:2]) == key),
                memory_max=max(memory) if memory else None,
            )
        return out

    def _expected_hpas(
        self, start: int, end: int, scope: frozenset[str] | None
    ) -> dict[HPAKey, HPASummary]:
        out: dict[HPAKey, HPASummary] = {}
        by_key = {h.key: h for h in self.hpas}
        desired_series = {
            (s.labels["namespace"], s.labels["horizontalpodautoscaler"]): s
            for s in self._series(HPA_DESIRED)
        }
        for series in self._series(HPA_CURRENT):
            key = (series.labels["namespace"], series.labels["horizontalpodautoscaler"])
            if scope is not None and key[0] not in scope:
                continue
            hpa = by_key[key]
            i, j = _window(series.times, start, end)
            values = series.values[i:j]
            times = series.times[i:j]
            if not values:
                continue
            at_max = [t for t, v in zip(times, values, strict=True) if v == hpa.max_replicas]
            desired = dict(zip(desired_series[key].times, desired_series[key].values, strict=True))
            differs = [t for t, v in zip(times, values, strict=True) if desired.get(t) != v]
            pinned = hpa.max_replicas == hpa.min_replicas
            out[key] = HPASummary(
                namespace=key[0],
                name=key[1],
                target=hpa.target,
                min_replicas=hpa.min_replicas,
                max_replicas=hpa.max_replicas,
                rescales=sum(1 for a, b in itertools.pairwise(values) if a != b),
                peak_replicas=int(max(values)),
                samples_at_max=len(at_max),
                seconds_at_max=0
                if pinned
                else self.step_seconds * sum(1 for t in at_max if t < end),
                current_replicas_at_end=hpa.current(end),
                seconds_not_at_desired=self.step_seconds * sum(1 for t in differs if t < end),
                desired_replicas_at_end=hpa.desired(end),
            )
        return out

    # ---------------------------------------------------------------- Kubernetes objects

    def kube_objects(self) -> list[dict[str, Any]]:
        """The objects a `kubectl get -o json` would show at `end`, deleted pods excluded."""
        end = self.end_ts
        objects: list[dict[str, Any]] = []
        for ns in self.namespaces:
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "uid": _uid(self.seed, "namespace", ns),
                        "labels": {"kubernetes.io/metadata.name": ns},
                        "creationTimestamp": _rfc3339(self.start_ts - 30 * DAY),
                    },
                    "status": {"phase": "Active"},
                }
            )
        objects.extend(self._node_object(n) for n in self.nodes)
        for w in self.workloads:
            objects.extend(self._workload_objects(w, end))
        objects.extend(self._pod_object(m, end) for m in self._models.values() if m.alive(end))
        objects.extend(self._hpa_object(h, end) for h in self.hpas)
        objects.extend(self._events(end))
        return objects

    def _meta(self, kind: str, namespace: str, name: str, created: int) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": namespace,
            "uid": _uid(self.seed, kind, namespace, name),
            "creationTimestamp": _rfc3339(created),
        }

    def _owner_ref(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        api = "apps/v1"
        return {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": _uid(self.seed, kind, namespace, name),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _node_object(self, node: Node) -> dict[str, Any]:
        since = _rfc3339(self.start_ts - 20 * DAY)
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "uid": _uid(self.seed, "Node", node.name),
                "creationTimestamp": since,
                "labels": {
                    "kubernetes.io/hostname": node.name,
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/worker": "",
                },
            },
            "spec": {"podCIDR": node.pod_cidr},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": node.ip},
                    {"type": "Hostname", "address": node.name},
                ],
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastTransitionTime": since,
                        "lastHeartbeatTime": _rfc3339(self.end_ts - 20),
                    }
                    if node.ready
                    else {
                        "type": "Ready",
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "lastTransitionTime": since,
                        "lastHeartbeatTime": since,
                    }
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.29.4",
                    "kubeProxyVersion": "v1.29.4",
                    "containerRuntimeVersion": "containerd://1.7.13",
                    "kernelVersion": "6.1.0-18-amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }

    def _template(self, w: Workload, extra_labels: Mapping[str, str]) -> dict[str, Any]:
        return {
            "metadata": {"labels": {**w.labels, **extra_labels}},
            "spec": {"containers": [self._container_spec(c) for c in w.containers]},
        }

    @staticmethod
    def _container_spec(c: Container) -> dict[str, Any]:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if c.cpu_request is not None:
            requests["cpu"] = _cpu_quantity(c.cpu_request)
        if c.memory_request is not None:
            requests["memory"] = _memory_quantity(c.memory_request)
        if c.cpu_limit is not None:
            limits["cpu"] = _cpu_quantity(c.cpu_limit)
        if c.memory_limit is not None:
            limits["memory"] = _memory_quantity(c.memory_limit)
        resources: dict[str, Any] = {}
        if requests:
            resources["requests"] = requests
        if limits:
            resources["limits"] = limits
        return {"name": c.name, "image": c.image, "resources": resources}

    def _workload_objects(self, w: Workload, end: int) -> list[dict[str, Any]]:
        pods = [m for m in self._pods_of(w) if m.alive(end)]
        ready = sum(1 for m in pods if m.ready(end))
        created = min((m.pod.created for m in self._pods_of(w)), default=self.start_ts)
        selector = {"matchLabels": {"app": w.labels["app"]}}
        if w.kind == "Deployment":
            spec_replicas = self._spec_replicas(w, end)
            generation = self._generation(w, end)
            # RollingUpdate's default maxUnavailable is 25%, rounded down.
            available = ready >= spec_replicas - spec_replicas // 4
            meta = {**self._meta("Deployment", w.namespace, w.name, created)}
            meta["generation"] = generation
            meta["labels"] = dict(w.labels)
            status: dict[str, Any] = {
                "observedGeneration": self._generation(w, end - self.step_seconds),
                "replicas": len(pods),
                "updatedReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True" if available else "False",
                        "reason": "MinimumReplicasAvailable"
                        if available
                        else "MinimumReplicasUnavailable",
                    },
                    {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "NewReplicaSetAvailable",
                    },
                ],
            }
            if spec_replicas > ready:
                status["unavailableReplicas"] = spec_replicas - ready
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": spec_replicas,
                    "selector": selector,
                    "template": self._template(w, {}),
                    "strategy": {"type": "RollingUpdate"},
                },
                "status": status,
            }
            replicasets = []
            for revision, template_hash, rs_created in w.revisions():
                current = template_hash == w.hash_at(None)
                name = f"{w.name}-{template_hash}"
                rs_meta = self._meta(
                    "ReplicaSet", w.namespace, name, created if rs_created is None else rs_created
                )
                rs_meta["labels"] = {**w.labels, "pod-template-hash": template_hash}
                rs_meta["ownerReferences"] = [self._owner_ref("Deployment", w.namespace, w.name)]
                rs_meta["annotations"] = {"deployment.kubernetes.io/revision": str(revision)}
                replicasets.append(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": rs_meta,
                        "spec": {
                            # Old ReplicaSets are kept, scaled to zero, for rollbacks.
                            "replicas": spec_replicas if current else 0,
                            "selector": {
                                "matchLabels": {
                                    **selector["matchLabels"],
                                    "pod-template-hash": template_hash,
                                }
                            },
                            "template": self._template(w, {"pod-template-hash": template_hash}),
                        },
                        "status": {
                            "replicas": len(pods) if current else 0,
                            "readyReplicas": ready if current else 0,
                            "availableReplicas": ready if current else 0,
                            "observedGeneration": 1,
                        },
                    }
                )
            return [deployment, *replicasets]
        meta = self._meta(w.kind, w.namespace, w.name, created)
        meta["generation"] = w.generation
        meta["labels"] = dict(w.labels)
        revision_meta = self._meta(
            "ControllerRevision", w.namespace, f"{w.name}-{w.template_hash}", created
        )
        revision_meta["labels"] = dict(w.labels)
        revision_meta["ownerReferences"] = [self._owner_ref(w.kind, w.namespace, w.name)]
        controller_revision = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": revision_meta,
            "revision": w.revision,
            "data": {"spec": {"template": {**self._template(w, {}), "$patch": "replace"}}},
        }
        if w.kind == "StatefulSet":
            revision = f"{w.name}-{w.template_hash}"
            return [
                controller_revision,
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": meta,
                    "spec": {
                        "replicas": w.replicas,
                        "serviceName": w.name,
                        "selector": selector,
                        "template": self._template(w, {}),
                    },
                    "status": {
                        "observedGeneration": w.generation,
                        "replicas": len(pods),
                        "readyReplicas": ready,
                        "availableReplicas": ready,
                        "currentReplicas": len(pods),
                        "updatedReplicas": len(pods),
                        "currentRevision": revision,
                        "updateRevision": revision,
                    },
                },
            ]
        return [
            controller_revision,
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": meta,
                "spec": {"selector": selector, "template": self._template(w, {})},
                "status": {
                    "observedGeneration": w.generation,
                    "desiredNumberScheduled": len(self.nodes),
                    "currentNumberScheduled": len(pods),
                    "updatedNumberScheduled": len(pods),
                    "numberReady": ready,
                    "numberAvailable": ready,
                    "numberMisscheduled": 0,
                },
            },
        ]

    def _pod_object(self, model: _PodModel, end: int) -> dict[str, Any]:
        pod, w = model.pod, model.workload
        kind, owner = self._owner(pod)
        labels = dict(w.labels)
        if w.kind == "Deployment":
            labels["pod-template-hash"] = pod.template_hash or w.template_hash
        elif w.kind == "StatefulSet":
            labels["controller-revision-hash"] = f"{w.name}-{w.template_hash}"
            labels["statefulset.kubernetes.io/pod-name"] = pod.name
        statuses = [self._container_status(model, c, end) for c in w.containers]
        ready = model.ready(end)
        # Readiness last changed at the latest crash, restart or dip edge before `end`.
        edges = [pod.created, *(t for dip in model.dips for t in dip)]
        for c in w.containers:
            edges += [
                t
                for r in model.restarts[c.name]
                for t in (r.timestamp, r.timestamp + r.backoff_seconds)
            ]
        ready_since = max(t for t in edges if t <= end)
        condition_ready = "True" if ready else "False"
        created = _rfc3339(pod.created)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod.name,
                "namespace": pod.namespace,
                "uid": self.pod_uid(pod),
                "creationTimestamp": created,
                "labels": labels,
                "ownerReferences": [self._owner_ref(kind, pod.namespace, owner)],
            },
            "spec": {
                "nodeName": pod.node,
                "restartPolicy": "Always",
                "containers": [self._container_spec(c) for c in w.containers],
            },
            "status": {
                "phase": "Running",
                "hostIP": self._nodes[pod.node].ip,
                "podIP": pod.ip,
                "podIPs": [{"ip": pod.ip}],
                "startTime": created,
                "qosClass": _qos(w.containers),
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": created},
                    {
                        "type": "Ready",
                        "status": condition_ready,
                        "lastTransitionTime": _rfc3339(ready_since),
                    },
                    {
                        "type": "ContainersReady",
                        "status": condition_ready,
                        "lastTransitionTime": _rfc3339(ready_since),
                    },
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
                ],
                "containerStatuses": statuses,
            },
        }

    def _container_status(self, model: _PodModel, c: Container, end: int) -> dict[str, Any]:
        pod = model.pod
        count = model.restart_count(c.name, end)
        inst = model.instance_at(c.name, end)
        last = model.last_restart(c.name, end)
        status: dict[str, Any] = {
            "name": c.name,
            "image": c.image,
            "imageID": _image_id(c.image),
            # While waiting, the status still names the container that terminated last.
            "containerID": "containerd://"
            + self.container_id(pod, c.name, count if inst else count - 1),
            "restartCount": count,
            "ready": inst is not None and model.ready(end),
            "started": inst is not None,
            "lastState": {},
        }
        if inst is not None:
            status["state"] = {"running": {"startedAt": _rfc3339(inst.started)}}
        else:
            assert last is not None
            backoff = f"{last.backoff_seconds // 60}m{last.backoff_seconds % 60}s"
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": (
                        f"back-off {backoff} restarting failed container={c.name} "
                        f"pod={pod.name}_{pod.namespace}({self.pod_uid(pod)})"
                    ),
                }
            }
        if last is not None:
            runs = model.instances[c.name]
            previous = runs[count - 1]
            status["lastState"] = {
                "terminated": {
                    "reason": last.reason,
                    "exitCode": last.exit_code,
                    "startedAt": _rfc3339(previous.started),
                    "finishedAt": _rfc3339(last.timestamp),
                    "containerID": "containerd://" + self.container_id(pod, c.name, previous.index),
                }
            }
        return status

    def _hpa_object(self, hpa: HPA, end: int) -> dict[str, Any]:
        desired = hpa.desired(end)
        current = hpa.current(end)
        past = [ts for ts, _ in hpa.rescales if ts <= end]
        created = self.start_ts - 30 * DAY
        meta = self._meta("HorizontalPodAutoscaler", hpa.namespace, hpa.name, created)
        limited = desired >= hpa.max_replicas or desired <= hpa.min_replicas
        status: dict[str, Any] = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 84, "averageValue": "210m"},
                    },
                }
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "reason": "ReadyForNewScale",
                    "message": "recommended size matches current size",
                },
                {
                    "type": "ScalingActive",
                    "status": "True",
                    "reason": "ValidMetricFound",
                    "message": "the HPA was able to successfully calculate a replica count "
                    "from cpu resource utilization (percentage of request)",
                },
                {
                    "type": "ScalingLimited",
                    "status": "True" if limited else "False",
                    "reason": (
                        "TooManyReplicas"
                        if desired >= hpa.max_replicas
                        else "TooFewReplicas"
                        if desired <= hpa.min_replicas
                        else "DesiredWithinRange"
                    ),
                    "message": (
                        "the desired replica count is more than the maximum replica count"
                        if desired >= hpa.max_replicas
                        else "the desired count is within the acceptable range"
                    ),
                },
            ],
        }
        if past:
            status["lastScaleTime"] = _rfc3339(max(past))
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": hpa.target,
                },
                "minReplicas": hpa.min_replicas,
                "maxReplicas": hpa.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
            "status": status,
        }

    def _event_series(self, end: int) -> list[EventSeries]:
        """Every event series of the history up to `end`, as the cluster recorded them.

        A real API server forgets events after --event-ttl (1 h by default); these are kept
        so that tests can exercise every kind.
        """
        out: list[EventSeries] = []

        def pod_ref(pod: Pod, container: str | None = None) -> dict[str, Any]:
            ref = {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.name,
                "namespace": pod.namespace,
                "uid": self.pod_uid(pod),
            }
            if container:
                ref["fieldPath"] = f"spec.containers{{{container}}}"
            return ref

        kubelet = {"component": "kubelet"}
        for model in self._models.values():
            pod = model.pod
            if not model.alive(end):
                continue
            for c in model.workload.containers:
                restarts = [
                    r for r in model.restarts[c.name] if self.start_ts <= r.timestamp <= end
                ]
                crashes = [r.timestamp for r in restarts if r.reason != "OOMKilled"]
                if crashes:
                    out.append(
                        EventSeries(
                            pod.namespace,
                            pod_ref(pod, c.name),
                            "BackOff",
                            f"Back-off restarting failed container {c.name} in pod "
                            f"{pod.name}_{pod.namespace}({self.pod_uid(pod)})",
                            "Warning",
                            tuple(crashes),
                            {**kubelet, "host": pod.node},
                        )
                    )
                for r in restarts:
                    if r.reason != "OOMKilled":
                        continue
                    pid = 4000 + int(_digest(pod.name, r.timestamp)[:4], 16) % 5000
                    out.append(
                        EventSeries(
                            "default",
                            {
                                "kind": "Node",
                                "name": pod.node,
                                "uid": _uid(self.seed, "Node", pod.node),
                            },
                            "OOMKilling",
                            f"Memory cgroup out of memory: Killed process {pid} ({c.name}) "
                            f"total-vm:{(c.memory_limit or 0) // KiB * 2}kB, "
                            f"anon-rss:{(c.memory_limit or 0) // KiB}kB, file-rss:0kB, "
                            f"shmem-rss:0kB, UID:0 pgtables:1024kB oom_score_adj:999",
                            "Warning",
                            (r.timestamp,),
                            {"component": "kernel-monitor", "host": pod.node},
                        )
                    )
        # Readiness probes fail every 10 s through a dip (through core/v1, as the kubelet).
        for dip in self.dips:
            for model in self._models.values():
                pod = model.pod
                if (pod.namespace, model.workload.name) != (dip.namespace, dip.workload):
                    continue
                times = tuple(t for t in range(dip.start, dip.end, 10) if model.alive(t))
                if times and self.start_ts <= times[0] and times[-1] <= end:
                    out.append(
                        EventSeries(
                            pod.namespace,
                            pod_ref(pod, model.workload.containers[0].name),
                            "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503",
                            "Warning",
                            times,
                            {**kubelet, "host": pod.node},
                        )
                    )
        for hpa in self.hpas:
            self._hpa_events(hpa, end, out)
        for w in self.workloads:
            self._rollout_events(w, end, out)
        out.extend(self._extra_events)
        return [e for e in out if e.times[0] >= self.start_ts and e.times[-1] <= end]

    def _hpa_events(self, hpa: HPA, end: int, out: list[EventSeries]) -> None:
        by_message: dict[str, list[int]] = defaultdict(list)
        scaled: dict[str, list[int]] = defaultdict(list)
        workload = self._workloads[(hpa.namespace, "Deployment", hpa.target)]
        previous = hpa.initial_replicas
        for ts, replicas in hpa.rescales:
            if ts > end:
                break
            up = replicas > previous
            why = (
                "cpu resource utilization (percentage of request) above target"
                if up
                else "All metrics below target"
            )
            if ts >= self.start_ts:
                by_message[f"New size: {replicas}; reason: {why}"].append(ts)
                rs = f"{workload.name}-{workload.hash_at(ts)}"
                verb = "up" if up else "down"
                scaled[f"Scaled {verb} replica set {rs} to {replicas}"].append(ts)
            previous = replicas
        about = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": hpa.name,
            "namespace": hpa.namespace,
            "uid": _uid(self.seed, "HorizontalPodAutoscaler", hpa.namespace, hpa.name),
        }
        for message, times in by_message.items():
            out.append(
                EventSeries(
                    hpa.namespace,
                    about,
                    "SuccessfulRescale",
                    message,
                    "Normal",
                    tuple(times),
                    {"component": "horizontal-pod-autoscaler"},
                )
            )
        deployment = self._deployment_ref(workload)
        for message, times in scaled.items():
            out.append(
                EventSeries(
                    hpa.namespace,
                    deployment,
                    "ScalingReplicaSet",
                    message,
                    "Normal",
                    tuple(times),
                    {"component": "deployment-controller"},
                )
            )
        # Pods of a slow rescale waited for capacity (through events.k8s.io/v1, as the scheduler).
        for ts, lag in hpa.slow:
            if not self.start_ts <= ts <= end:
                continue
            for model in self._models_by_workload[workload.key]:
                if model.pod.created != ts + lag:
                    continue
                times = tuple(range(ts + 60, min(ts + lag, end + 1), 60))
                out.append(
                    EventSeries(
                        hpa.namespace,
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": model.pod.name,
                            "namespace": model.pod.namespace,
                            "uid": self.pod_uid(model.pod),
                        },
                        "FailedScheduling",
                        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes "
                        "are available: 3 No preemption victims found for incoming pod.",
                        "Warning",
                        times,
                        {"component": "default-scheduler"},
                        api="events",
                    )
                )

    def _deployment_ref(self, w: Workload) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": w.name,
            "namespace": w.namespace,
            "uid": _uid(self.seed, "Deployment", w.namespace, w.name),
        }

    def _rollout_events(self, w: Workload, end: int, out: list[EventSeries]) -> None:
        """A rollout replaces pods one at a time: each new pod up, then one old pod down."""
        for ts, new_hash in w.rollouts:
            if not self.start_ts <= ts <= end:
                continue
            old = f"{w.name}-{w.hash_at(ts - 1)}"
            new = f"{w.name}-{new_hash}"
            created = sorted(
                m.pod.created for m in self._pods_of(w) if m.pod.template_hash == new_hash
            )
            for k, at in enumerate(created, 1):
                for verb, rs, size in (("up", new, k), ("down", old, len(created) - k)):
                    out.append(
                        EventSeries(
                            w.namespace,
                            self._deployment_ref(w),
                            "ScalingReplicaSet",
                            f"Scaled {verb} replica set {rs} to {size}",
                            "Normal",
                            (at,),
                            {"component": "deployment-controller"},
                        )
                    )

    @cached_property
    def _extra_events(self) -> list[EventSeries]:
        """Events with no other trace in the history (a mount that failed and then worked)."""
        out: list[EventSeries] = []
        for model in self._models.values():
            pod = model.pod
            if pod.name != "ledger-1":
                continue
            at = self.end_ts - 3 * HOUR
            out.append(
                EventSeries(
                    pod.namespace,
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": pod.name,
                        "namespace": pod.namespace,
                        "uid": self.pod_uid(pod),
                    },
                    "FailedMount",
                    'MountVolume.SetUp failed for volume "backup-config" : configmap '
                    '"ledger-backup" not found',
                    "Warning",
                    (at, at + 120, at + 240),
                    {"component": "kubelet", "host": pod.node},
                )
            )
        return out

    def _events(self, end: int) -> list[dict[str, Any]]:
        """Each event series as the object its writer posted (`EventSeries.api`): a core/v1 Event,
        or an events.k8s.io/v1 one with eventTime and series. The API server (and the emulator)
        serves each through the other API too, converted; seeding both would be a conflict."""
        objects: list[dict[str, Any]] = []
        for e in self._event_series(end):
            name = f"{e.involved['name']}.{_digest(e.reason, e.message, e.times[0])[:16]}"
            meta = {
                "name": name,
                "namespace": e.namespace,
                "uid": _uid(self.seed, "Event", e.namespace, name),
                "creationTimestamp": _rfc3339(e.times[0]),
            }
            instance = e.source.get("host", e.source["component"])
            if e.api == "core":
                objects.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": meta,
                        "involvedObject": e.involved,
                        "reason": e.reason,
                        "message": e.message,
                        "type": e.type,
                        "count": len(e.times),
                        "firstTimestamp": _rfc3339(e.times[0]),
                        "lastTimestamp": _rfc3339(e.times[-1]),
                        "source": e.source,
                        "reportingComponent": e.source["component"],
                        "reportingInstance": instance,
                    }
                )
                continue
            view: dict[str, Any] = {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": meta,
                "regarding": e.involved,
                "reason": e.reason,
                "note": e.message,
                "type": e.type,
                "eventTime": _rfc3339(e.times[0]).replace("Z", ".000000Z"),
                "action": "Scheduling",
                "reportingController": e.source["component"],
                "reportingInstance": instance,
            }
            if len(e.times) > 1:
                view["series"] = {"count": len(e.times), "lastObservedTime": _rfc3339(e.times[-1])}
            objects.append(view)
        objects.sort(key=lambda o: (o["apiVersion"], o["metadata"]["name"]))
        return objects


# ----------------------------------------------------------------------- builders


class _Builder:
    """Accumulates a cluster: names, IPs and uids stay deterministic in insertion order."""

    def __init__(self, seed: int, nodes: int) -> None:
        self.rng = random.Random(f"{seed}|names")
        self.nodes = tuple(
            Node(
                f"node-{chr(ord('a') + i)}" if nodes <= 26 else f"node-{i:03d}",
                f"10.0.{i // 200 + 1}.{i % 200 + 11}",
                f"10.{244 + i // 256}.{i % 256}.0/24",
            )
            for i in range(nodes)
        )
        self._next_ip = [2] * nodes
        self._next_node = 0
        self.workloads: list[Workload] = []
        self.pods: list[Pod] = []

    def workload(
        self,
        namespace: str,
        kind: WorkloadKind,
        name: str,
        replicas: int,
        containers: tuple[Container, ...],
        *,
        tier: str,
        metrics_port: int | None,
        http: tuple[Handler, ...] = (),
    ) -> Workload:
        template_hash = _name_suffix(self.rng, 10 if kind == "Deployment" else 9)
        w = Workload(
            namespace,
            kind,
            name,
            replicas,
            containers,
            labels={"app": name, "tier": tier},
            template_hash=template_hash,
            metrics_port=metrics_port,
            generation=1 + self.rng.randrange(5),
            http=http,
        )
        self.workloads.append(w)
        return w

    def rollout(self, w: Workload, at: int) -> Workload:
        """A new pod template at `at`; its pods are built with the returned hash."""
        # Not from self.rng: names drawn after this stay what they were without the rollout.
        new_hash = _name_suffix(random.Random(f"{w.namespace}|{w.name}|{at}"), 10)
        rolled = dataclasses.replace(
            w, rollouts=(*w.rollouts, (at, new_hash)), revision=w.revision + 2
        )
        self.workloads[self.workloads.index(w)] = rolled
        return rolled

    def pod(
        self,
        w: Workload,
        created: int,
        *,
        name: str | None = None,
        node: int | None = None,
        deleted: int | None = None,
        restarts: Iterable[Restart] = (),
        template_hash: str = "",
    ) -> Pod:
        if node is None:
            node, self._next_node = self._next_node, (self._next_node + 1) % len(self.nodes)
        if name is None:
            suffix = _name_suffix(self.rng, 5)
            replicaset = f"{w.name}-{template_hash or w.template_hash}"
            name = f"{replicaset}-{suffix}" if w.kind == "Deployment" else f"{w.name}-{suffix}"
        ip = f"10.{244 + node // 256}.{node % 256}.{self._next_ip[node]}"
        self._next_ip[node] += 1
        pod = Pod(
            w.namespace,
            name,
            self.nodes[node].name,
            ip,
            w.key,
            created,
            deleted,
            tuple(sorted(restarts, key=_restart_ts)),
            template_hash,
        )
        self.pods.append(pod)
        return pod


def _crash_loop(
    container: str, *, first: int | None = None, last: int | None = None, crashes: int, run: int
) -> list[Restart]:
    """Crashes with kubelet's doubling back-off (10 s .. 5 min), anchored at either end."""
    backoffs = [min(10 * 2**k, 300) for k in range(crashes)]
    times: list[int] = []
    if first is not None:
        t = first
        for b in backoffs:
            times.append(t)
            t += b + run
    else:
        assert last is not None
        t = last
        for b in reversed(backoffs[:-1]):
            times.append(t)
            t -= run + b
        times.append(t)
        times.reverse()
    return [Restart(t, container, "Error", 1, b) for t, b in zip(times, backoffs, strict=True)]


def _build_demo(end: int, seed: int, history: int = 2 * DAY) -> Scenario:
    b = _Builder(seed, nodes=3)
    long_ago = end - max(9 * DAY, history + DAY)  # before the history, however long

    checkout = b.workload(
        "shop",
        "Deployment",
        "checkout",
        2,
        (
            Container(
                "checkout", "shop/checkout:1.14.2", 0.25, 256 * MiB, 1.0, 512 * MiB, 0.18, 300 * MiB
            ),
            # The sidecar has requests but no limits.
            Container(
                "envoy", "envoyproxy/envoy:v1.29.2", 0.05, 64 * MiB, None, None, 0.02, 40 * MiB
            ),
        ),
        tier="backend",
        metrics_port=8080,
        http=(
            Handler("/cart", 4.0, 0.004, (0.05, 0.15, 0.35, 0.25, 0.12, 0.05, 0.027)),
            # Quotes and a backslash: a user's selector must match it literally.
            Handler('/search?q="a\\b"', 1.0, 0.02, (0.01, 0.04, 0.15, 0.3, 0.3, 0.13, 0.065)),
        ),
    )
    frontend = b.workload(
        "shop",
        "Deployment",
        "frontend",
        2,
        # A memory limit but no CPU limit.
        (
            Container(
                "web", "shop/frontend:3.2.0", 0.1, 128 * MiB, None, 256 * MiB, 0.06, 150 * MiB
            ),
        ),
        tier="web",
        metrics_port=8080,
    )
    api = b.workload(
        "payments",
        "Deployment",
        "api",
        2,
        (Container("api", "payments/api:2.7.1", 0.2, 256 * MiB, 0.5, 512 * MiB, 0.12, 200 * MiB),),
        tier="backend",
        metrics_port=9090,
    )
    ledger = b.workload(
        "payments",
        "StatefulSet",
        "ledger",
        2,
        (
            Container(
                "ledger", "payments/ledger:5.0.3", 0.5, 1 * GiB, 1.0, 2 * GiB, 0.3, 1200 * MiB
            ),
            Container(
                "backup", "payments/backup:0.9.0", 0.01, 32 * MiB, None, None, 0.005, 20 * MiB
            ),
        ),
        tier="data",
        metrics_port=9187,
    )
    coredns = b.workload(
        "kube-system",
        "Deployment",
        "coredns",
        2,
        (
            Container(
                "coredns", "coredns/coredns:v1.11.1", 0.1, 70 * MiB, None, 170 * MiB, 0.01, 30 * MiB
            ),
        ),
        tier="system",
        metrics_port=9153,
    )
    kube_proxy = b.workload(
        "kube-system",
        "DaemonSet",
        "kube-proxy",
        3,
        # No requests and no limits at all: a BestEffort pod.
        (Container("kube-proxy", "kube-proxy:v1.29.4", cpu_usage=0.005, memory_usage=25 * MiB),),
        tier="system",
        metrics_port=None,
    )

    # shop/checkout: two long-lived pods, the rest follow the HPA.
    hpa = HPA(
        "shop",
        "checkout",
        "checkout",
        min_replicas=2,
        max_replicas=6,
        initial_replicas=2,
        rescales=tuple(
            (end - hours * HOUR, replicas)
            for hours, replicas in (
                (40, 3),
                (38, 4),
                (35, 3),
                (31, 2),  # the previous day
                (20, 4),
                (18, 6),
                (14, 5),
                (12, 3),
                (9, 2),
                (3, 4),
                (2, 6),  # the last day
            )
        ),
        # Its new pods waited 15 minutes for capacity: desired and current differ that long.
        slow=((end - 20 * HOUR, 15 * MINUTE),),
    )
    b.pod(
        checkout,
        long_ago,
        node=0,
        restarts=[
            Restart(end - 30 * HOUR + 17, "checkout", "OOMKilled", 137),
            Restart(end - 6 * HOUR - 10 * MINUTE + 17, "checkout", "OOMKilled", 137),
        ],
    )
    b.pod(checkout, long_ago, node=1, restarts=[Restart(end - 5 * DAY, "checkout", "Error", 2)])
    scaled: list[tuple[int, Workload]] = []  # (created, ...) of live HPA pods, newest last
    current = hpa.initial_replicas
    for ts, replicas in hpa.rescales:
        at = ts + hpa.lag(ts)  # pods follow the current replica count
        while current < replicas:
            scaled.append((at, checkout))
            current += 1
        while current > replicas:
            created, w = scaled.pop()
            b.pod(w, created, deleted=at)
            current -= 1
    for created, w in scaled:
        b.pod(w, created)

    # shop/frontend: a rollout 10 h before end replaces pod X by Z, then Y by W.
    rollout = end - 10 * HOUR
    frontend = b.rollout(frontend, rollout)
    new_hash = frontend.rollouts[-1][1]
    b.pod(
        frontend,
        long_ago,
        node=0,
        deleted=rollout,
        restarts=[
            Restart(end - 8 * DAY, "web", "Error", 1),
            Restart(end - 6 * DAY, "web", "OOMKilled", 137),
            Restart(end - 16 * HOUR + 23, "web", "Error", 1),
        ],
    )
    b.pod(
        frontend,
        long_ago,
        node=1,
        deleted=rollout + 2 * MINUTE,
        restarts=[Restart(end - 4 * DAY, "web", "Error", 143)],
    )
    b.pod(frontend, rollout, node=2, template_hash=new_hash)
    b.pod(frontend, rollout + 2 * MINUTE, node=0, template_hash=new_hash)

    # payments/api: P crash-loops twice; the second loop is still backing off at end.
    b.pod(
        api,
        long_ago,
        node=2,
        restarts=[
            *_crash_loop("api", first=end - 40 * HOUR + 7, crashes=4, run=50),
            *_crash_loop("api", last=end - 170, crashes=6, run=45),
        ],
    )
    b.pod(api, long_ago, node=0)

    b.pod(
        ledger,
        long_ago,
        name="ledger-0",
        node=1,
        restarts=[
            Restart(end - 36 * HOUR + 41, "ledger", "Error", 143),
            Restart(end - 20 * HOUR + 5, "backup", "Completed", 0),
        ],
    )
    b.pod(ledger, long_ago, name="ledger-1", node=2)

    b.pod(coredns, long_ago, node=0, restarts=[Restart(end - 8 * HOUR + 33, "coredns", "Error", 2)])
    b.pod(coredns, long_ago, node=1)
    for i in range(3):
        b.pod(kube_proxy, end - 20 * DAY, node=i)

    # An HPA that never rescales: payments/api stays at its minimum.
    steady = HPA("payments", "api", "api", min_replicas=2, max_replicas=4, initial_replicas=2)
    pods = sorted(b.pods, key=lambda p: (p.namespace, p.name))
    crash_looping = next(p for p in pods if p.restarts and p.workload == api.key)
    checkout_b = next(
        p
        for p in pods
        if p.workload == checkout.key and p.node == "node-b" and p.created == long_ago
    )
    return Scenario(
        end=_dt(end),
        seed=seed,
        namespaces=("default", "kube-system", "payments", "shop"),
        # node-d is NotReady and runs nothing.
        nodes=(*b.nodes, Node("node-d", "10.0.1.14", "10.244.3.0/24", ready=False)),
        workloads=tuple(b.workloads),
        pods=tuple(pods),
        hpas=(hpa, steady),
        dips=(
            Dip("shop", "checkout", end - 5 * HOUR, end - 5 * HOUR + 10 * MINUTE),
            Dip("payments", "ledger", end - 44 * HOUR, end - 44 * HOUR + 6 * MINUTE),
        ),
        alerts=(
            AlertRule(
                "KubePodCrashLooping",
                "warning",
                "payments",
                (("container", "api"), ("pod", crash_looping.name)),
                # The second loop still fires at the end of the history.
                (
                    (end - 40 * HOUR + 2 * MINUTE, end - 40 * HOUR + 10 * MINUTE),
                    (end - 9 * MINUTE, None),
                ),
            ),
            AlertRule(
                "TargetDown",
                "warning",
                "shop",
                (("job", "checkout"),),
                ((end - 5 * HOUR + 2 * MINUTE, end - 5 * HOUR + 10 * MINUTE),),
            ),
            AlertRule(
                "TargetDown",
                "warning",
                "payments",
                (("job", "ledger"),),
                ((end - 44 * HOUR + 2 * MINUTE, end - 44 * HOUR + 6 * MINUTE),),
            ),
            AlertRule(
                "KubeHpaMaxedOut",
                "warning",
                "shop",
                (("horizontalpodautoscaler", "checkout"),),
                _sustained(end, lambda t: hpa.current(t) == hpa.max_replicas, 15 * MINUTE),
            ),
            # Cluster-wide: no namespace, so no namespace scope includes them.
            AlertRule("Watchdog", "none", None, (), ((end - 3 * DAY, None),)),
            AlertRule(
                "KubeNodeNotReady", "warning", None, (("node", "node-d"),), ((end - 3 * DAY, None),)
            ),
        ),
        scrape_gaps=(
            ScrapeGap("shop", checkout_b.name, end - 15 * HOUR, end - 15 * HOUR + 15 * MINUTE),
        ),
    )


def _sustained(
    end: int, condition: Callable[[int], bool], hold: int, step: int = MINUTE
) -> tuple[tuple[int, int | None], ...]:
    """Where `condition` held for `hold` seconds on the step grid: an alert's `for:`."""
    stretches: list[tuple[int, int | None]] = []
    since: int | None = None
    firing_from: int | None = None
    for t in range(end - 3 * DAY, end + DAY, step):
        if condition(t):
            since = t if since is None else since
            if t - since >= hold and firing_from is None:
                firing_from = t
        else:
            if firing_from is not None:
                stretches.append((firing_from, t))
            since = firing_from = None
    if firing_from is not None:
        stretches.append((firing_from, None))
    return tuple(stretches)


def _build_scaled(pods: int, end: int, seed: int, history: int, step: int) -> Scenario:
    if pods < 1:
        raise ValueError("pods must be positive")
    b = _Builder(seed, nodes=max(1, -(-pods // 30)))
    rng = random.Random(f"{seed}|scaled")
    start = end - history
    created = start - 3 * DAY
    namespaces: list[str] = []
    made = 0
    index = 0
    while made < pods:
        namespace = f"team-{made // 50:02d}"
        if namespace not in namespaces:
            namespaces.append(namespace)
        size = min(5, pods - made)
        kind: WorkloadKind = "StatefulSet" if index % 7 == 6 else "Deployment"
        cpu = rng.choice((0.1, 0.25, 0.5))
        memory = rng.choice((128, 256, 512)) * MiB
        limited = index % 4 != 3
        containers = [
            Container(
                "app",
                f"team/svc-{index}:1.0.{index % 10}",
                cpu,
                memory,
                2 * cpu if limited else None,
                2 * memory if limited else None,
                cpu * rng.uniform(0.3, 0.9),
                int(memory * rng.uniform(0.5, 0.9)),
            )
        ]
        if index % 3 == 0:
            containers.append(Container("sidecar", "team/sidecar:0.3", 0.02, 32 * MiB, None, None))
        w = b.workload(
            namespace,
            kind,
            f"svc-{index:04d}",
            size,
            tuple(containers),
            tier="backend",
            metrics_port=8080,
        )
        for i in range(size):
            restarts: list[Restart] = []
            number = made + i
            # Fixed strides rather than dice, so that even a dozen pods have restarts.
            slots = range(start + HOUR, end - HOUR, 10 * MINUTE)
            if number % 16 == 5:
                restarts = [
                    Restart(t + rng.randrange(step), "app", "Error", 1)
                    for t in sorted(rng.sample(slots, rng.randint(1, 3)))
                ]
            elif number % 40 == 11 and limited:
                restarts = [Restart(rng.choice(slots) + 17, "app", "OOMKilled", 137)]
            name = f"{w.name}-{i}" if kind == "StatefulSet" else None
            b.pod(w, created, name=name, restarts=restarts)
        made += size
        index += 1
    first = b.workloads[0]
    return Scenario(
        end=_dt(end),
        history_seconds=history,
        step_seconds=step,
        seed=seed,
        namespaces=tuple(namespaces),
        nodes=b.nodes,
        workloads=tuple(b.workloads),
        pods=tuple(b.pods),
        dips=(Dip(first.namespace, first.name, end - 3 * HOUR, end - 3 * HOUR + 10 * MINUTE),),
    )


def window(end: datetime, seconds: int = DAY, *, back: int = 0) -> tuple[datetime, datetime]:
    """(start, end) of the window ending `back` windows before `end`."""
    stop = end - timedelta(seconds=seconds * back)
    return stop - timedelta(seconds=seconds), stop


@dataclass(frozen=True)
class WeekSummary:
    start: datetime
    end: datetime
    iso_week: int
    successful_scrapes: int
    total_scrapes: int
    restarts: int
    incidents: int  # the window's incidents that overlap the week
    downtime_seconds: int  # their time inside the week
    alerts: int  # alerts (name, severity, namespace) with a firing sample in the week
    requests: float | None
    errors: float | None
    latency_p95: float | None


@dataclass(frozen=True)
class SeriesSummary:
    """Scenario.expected_series(): values by the start of their step (Unix seconds)."""

    steps: list[int]
    availability: dict[int, float]  # percent of successful scrapes; no entry: no scrape
    replicas: dict[HPAKey, dict[str, dict[int, float]]]  # "current"/"desired" -> step -> peak
    latency_p95: dict[int, float]
    weeks: list[WeekSummary]


def _iso_weeks(
    start: datetime, end: datetime, time_zone: str
) -> list[tuple[datetime, datetime, int]]:
    """[start, end) cut at every Monday 00:00 in the zone: (from, to, ISO week number)."""
    zone = ZoneInfo(time_zone)
    cuts = [start]
    day = start.astimezone(zone).date() + timedelta(days=1)
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        if midnight >= end:
            break
        if day.isoweekday() == 1 and midnight > start:
            cuts.append(midnight)
        day += timedelta(days=1)
    cuts.append(end)
    return [(a, b, a.astimezone(zone).isocalendar().week) for a, b in itertools.pairwise(cuts)]
