"""The expectations: report figures computed in Python, independently of the engines.

`Oracle` reads a scenario's model and the samples exactly as they were written (never the
writer's code paths), and emulates Prometheus 2.42's PromQL on them: range selectors that take
both ends, `extrapolatedRate`, subquery steps, `quantile` and `histogram_quantile`.
tests/support_tests compare it with a real Prometheus running promql()'s queries.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from tests.support.scenario.model import (
    ContainerKey,
    HPAKey,
    PodKey,
    WorkloadKey,
    WorkloadKind,
    _dt,
    _ts,
)
from tests.support.scenario.names import (
    ALERTS,
    CPU,
    CPU_RATE_RANGE,
    CPU_SUBQUERY_STEP,
    GENERATION,
    HPA_CURRENT,
    HPA_DESIRED,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    MEMORY,
    PERIODS,
    RESTARTS,
    THROTTLED,
    UNAVAILABLE,
    UP,
)

if TYPE_CHECKING:
    from tests.support.scenario import Scenario
    from tests.support.scenario.series import _Series


# ------------------------------------------------------------------------ expected answers


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


# ------------------------------------------------------------------- PromQL 2.42 emulation


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


def _matcher(
    namespaces: set[str] | frozenset[str], selector: Mapping[str, str]
) -> Callable[[Mapping[str, str]], bool]:
    """Series in the namespaces whose labels equal the selector's values."""

    def matches(labels: Mapping[str, str]) -> bool:
        return labels.get("namespace") in namespaces and all(
            labels.get(k) == v for k, v in selector.items()
        )

    return matches


# ------------------------------------------------------------------------------ the oracle
# Functions of a scenario: `Scenario` takes the public ones as its methods. They read its model
# and the samples exactly as written (`_series`), and nothing of the writer's code paths.


def expected(
    scenario: Scenario,
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

    restarts, last_reason, oom_kills, events = _expected_restarts(scenario, start, end, in_scope)
    ratio, samples, ones, downtimes = _expected_availability(scenario, start, end, in_scope)
    containers = _expected_containers(scenario, start, end, scope)
    pod_workloads = {
        pod.key: pod.workload
        for pod in scenario.pods
        if (scope is None or pod.namespace in scope)
        and any(start <= t <= end for t in scenario._alive_times(pod))
    }
    workloads = _expected_workloads(scenario, pod_workloads, restarts, oom_kills, containers)
    hpas = _expected_hpas(scenario, start, end, scope)
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
        deployments=_expected_deployments(scenario, start, end, in_scope),
        incidents=_expected_incidents(scenario, start, end, in_scope),
        alerts=_expected_alerts(scenario, start, end, scope),
        events=_expected_events(scenario, start, end, scope),
        rollouts=_expected_rollouts(scenario, start, end, scope),
    )


def _expected_deployments(
    scenario: Scenario, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
) -> dict[tuple[str, str], DeploymentSummary]:
    generations = {
        (s.labels["namespace"], s.labels["deployment"]): s for s in scenario._series(GENERATION)
    }
    out: dict[tuple[str, str], DeploymentSummary] = {}
    for series in scenario._series(UNAVAILABLE):
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
            seconds_unavailable=scenario.step_seconds
            * sum(1 for t, v in zip(times, values, strict=True) if v > 0 and t < end),
            spec_changes=sum(1 for a, b in itertools.pairwise(changes) if a != b),
        )
    return out


def _expected_incidents(
    scenario: Scenario, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
) -> list[Stretch]:
    """Targets down (a sample of 0) at grid points in [start, end), merged per job."""
    by_job: dict[tuple[str, str], list[tuple[tuple[int, int], str]]] = defaultdict(list)
    for series in scenario._series(UP):
        if not in_scope(series.labels):
            continue
        down = [
            t
            for t, v in zip(series.times, series.values, strict=True)
            if v == 0 and start <= t < end
        ]
        key = (series.labels["namespace"], series.labels["job"])
        for span in _grid_stretches(down, scenario.step_seconds, end):
            by_job[key].append((span, series.labels["pod"]))
    out: list[Stretch] = []
    for (namespace, job), spans in by_job.items():
        for a, b in _merge_stretches(span for span, _ in spans):
            pods = sorted({pod for (x, y), pod in spans if x < b and y > a})
            out.append(Stretch(namespace, job, _dt(a), _dt(b), tuple(pods)))
    out.sort(key=lambda i: (i.start, i.namespace, i.name))
    return out


def _expected_alerts(
    scenario: Scenario, start: int, end: int, scope: frozenset[str] | None
) -> list[AlertSummary]:
    points: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    at_end: set[tuple[str, str, str]] = set()
    for series in scenario._series(ALERTS):
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
        spans = _merge_stretches(_grid_stretches(times, scenario.step_seconds, end))
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
    scenario: Scenario, start: int, end: int, scope: frozenset[str] | None
) -> list[EventSummary]:
    """Event series (as recorded up to `end` of the history) that overlap the window."""
    out: list[EventSummary] = []
    for e in scenario._event_series(scenario.end_ts):
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
    scenario: Scenario, start: int, end: int, scope: frozenset[str] | None
) -> list[RolloutSummary]:
    """ReplicaSets created in [start, end); ControllerRevisions all predate the history."""
    out = [
        RolloutSummary(w.namespace, w.kind, w.name, revision, f"{w.name}-{h}", _dt(created))
        for w in scenario.workloads
        if scope is None or w.namespace in scope
        for revision, h, created in w.revisions()
        if created is not None and start <= created < end
    ]
    return sorted(out, key=lambda r: (r.started_at, r.namespace, r.name))


def expected_traffic(
    scenario: Scenario,
    window_start: datetime,
    window_end: datetime,
    namespaces: set[str] | frozenset[str],
    selector: Mapping[str, str],
) -> TrafficSummary:
    """Request figures over the window for series matching `selector` (label = value)."""
    start, end = _ts(window_start), _ts(window_end)
    matches = _matcher(namespaces, selector)

    def increases(name: str) -> list[tuple[dict[str, str], float]]:
        out = []
        for series in scenario._series(name):
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
    scenario: Scenario,
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
    for series in scenario._series(UP):
        if series.labels.get("namespace") in namespaces:
            for x, v in zip(series.times, series.values, strict=True):
                if (t := slot(x)) is not None:
                    successful[t] += v
                    total[t] += 1
    restarts: dict[int, float] = defaultdict(float)
    for series in scenario._series(RESTARTS):
        if series.labels.get("namespace") in namespaces:
            pairs = list(zip(series.times, series.values, strict=True))
            for (_, before), (x, now) in itertools.pairwise(pairs):
                if (t := slot(x)) is not None:
                    restarts[t] += now - before if now >= before else now
    replicas: dict[HPAKey, dict[str, dict[int, float]]] = {}
    for which, name in (("current", HPA_CURRENT), ("desired", HPA_DESIRED)):
        for series in scenario._series(name):
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
        matches = _matcher(namespaces, selector)
        counters = [s for s in scenario._series(HTTP_REQUESTS) if matches(s.labels)]
        histogram = [s for s in scenario._series(f"{HTTP_LATENCY}_bucket") if matches(s.labels)]
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
    incidents = _expected_incidents(
        scenario, start, end, lambda x: x.get("namespace") in namespaces
    )
    firing = [
        (series.labels["alertname"], series.labels["severity"], series.labels["namespace"], t)
        for series in scenario._series(ALERTS)
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


def nodes_at_end(scenario: Scenario) -> tuple[int, list[str]]:
    """(nodes, names of the NotReady ones)."""
    return len(scenario.nodes), sorted(n.name for n in scenario.nodes if not n.ready)


def workload_status_at_end(scenario: Scenario) -> dict[WorkloadKey, tuple[int, int, int]]:
    """(desired, ready, unavailable) replicas of Deployments and StatefulSets at `end`."""
    end = scenario.end_ts
    out: dict[WorkloadKey, tuple[int, int, int]] = {}
    for w in scenario.workloads:
        if w.kind == "DaemonSet":
            continue
        ready = sum(1 for m in scenario._pods_of(w) if m.alive(end) and m.ready(end))
        desired = scenario._spec_replicas(w, end) if w.kind == "Deployment" else w.replicas
        out[w.key] = (desired, ready, max(0, desired - ready))
    return out


def _expected_restarts(
    scenario: Scenario, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
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
    for series in scenario._series(RESTARTS):
        labels = series.labels
        key = (labels["namespace"], labels["pod"], labels["container"])
        model = scenario._models[key[:2]]
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
    scenario: Scenario, start: int, end: int, in_scope: Callable[[Mapping[str, str]], bool]
) -> tuple[float | None, int, int, list[Downtime]]:
    samples = ones = 0
    downtimes: list[Downtime] = []
    for series in scenario._series(UP):
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
                stop = t if v == 1 else t + scenario.step_seconds
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
    scenario: Scenario, start: int, end: int, scope: frozenset[str] | None
) -> dict[ContainerKey, ContainerUsage]:

    def by_container(family: str) -> dict[ContainerKey, list[_Series]]:
        """The family's series of each container (its runs), without the sandbox (POD) and
        the pod cgroup (no container label)."""
        out: dict[ContainerKey, list[_Series]] = defaultdict(list)
        for series in scenario._series(family):
            name = series.labels.get("container", "")
            if name and name != "POD":
                out[(series.labels["namespace"], series.labels["pod"], name)].append(series)
        return out

    cpu_series, memory_series = by_container(CPU), by_container(MEMORY)
    cfs = {family: by_container(family) for family in (PERIODS, THROTTLED)}

    def increase(family: str, key: ContainerKey) -> float | None:
        """sum by container (increase()) over its runs' series, as the CFS queries do."""
        parts = [
            got
            for series in cfs[family].get(key, [])
            if (got := _extrapolated_rate(series.times, series.values, start, end, is_rate=False))
            is not None
        ]
        return math.fsum(parts) if parts else None

    steps = _subquery_steps(end, end - start, CPU_SUBQUERY_STEP)
    out: dict[ContainerKey, ContainerUsage] = {}
    for pod in scenario.pods:
        if scope is not None and pod.namespace not in scope:
            continue
        if not any(start <= t <= end for t in scenario._alive_times(pod)):
            continue
        for c in scenario._workloads[pod.workload].containers:
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
    scenario: Scenario,
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
            kind=scenario._workloads[key].kind,
            name=key[2],
            pods=frozenset(names),
            restarts=sum(n for k, n in restarts.items() if pod_workloads.get(k[:2]) == key),
            oom_kills=sum(n for k, n in oom_kills.items() if pod_workloads.get(k[:2]) == key),
            memory_max=max(memory) if memory else None,
        )
    return out


def _expected_hpas(
    scenario: Scenario, start: int, end: int, scope: frozenset[str] | None
) -> dict[HPAKey, HPASummary]:
    out: dict[HPAKey, HPASummary] = {}
    by_key = {h.key: h for h in scenario.hpas}
    desired_series = {
        (s.labels["namespace"], s.labels["horizontalpodautoscaler"]): s
        for s in scenario._series(HPA_DESIRED)
    }
    for series in scenario._series(HPA_CURRENT):
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
            else scenario.step_seconds * sum(1 for t in at_max if t < end),
            current_replicas_at_end=hpa.current(end),
            seconds_not_at_desired=scenario.step_seconds * sum(1 for t in differs if t < end),
            desired_replicas_at_end=hpa.desired(end),
        )
    return out
