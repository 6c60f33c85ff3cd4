"""The fixed set of PromQL queries behind a report, folded into report sections.

The number of queries depends on the spec (traffic, KPIs), never on the cluster: every query
aggregates on the server. Sections run concurrently; a failing query never sinks the report: its
section is left unmeasured and a DataGap says why.

Count: 28 queries (27 when the scope has no autoscaler to draw), 30 with spec.traffic, plus 2 per
KPI (at most 5): never more than 40.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean

from opsreport.collect import history, queries, series
from opsreport.collect.judge import kpi_result
from opsreport.collect.prometheus import PrometheusClient, PrometheusError, Sample, Series
from opsreport.model import figures as headline
from opsreport.model.report import (
    Alert,
    Availability,
    CpuUsage,
    DataGap,
    HpaActivity,
    Incident,
    KpiResult,
    Latency,
    MemoryUsage,
    Point,
    QueryRecord,
    ReplicaSeries,
    RestartRow,
    Restarts,
    TimeSeries,
    Traffic,
    Week,
    WorkloadStatus,
    WorkloadUsage,
)
from opsreport.model.spec import KpiSpec, TrafficSpec
from opsreport.scheduling import Window

ContainerKey = tuple[str, str, str]
WorkloadKey = tuple[str, str, str, str]  # namespace, kind, name, container
Owners = dict[tuple[str, str], tuple[str, str]]
Values = dict[str, float | None]

# Sections a report has whatever its spec; all of them are gaps without Prometheus.
SECTIONS = (
    "availability",
    "restarts",
    "resources",
    "scaling",
    "workloads",
    "incidents",
    "alerts",
    "trends",
    "availability series",
)


@dataclass
class MetricFacts:
    availability: Availability = field(default_factory=Availability)
    restarts: Restarts | None = None
    last_reasons: dict[ContainerKey, str] = field(default_factory=dict)
    workloads: list[WorkloadUsage] | None = None
    hpas: list[HpaActivity] | None = None
    deployments: dict[tuple[str, str], WorkloadStatus] | None = None
    incidents: list[Incident] | None = None
    alerts: list[Alert] | None = None
    traffic: Traffic | None = None  # None: spec.traffic not set
    # The previous window's headline figures (model.figures names); None: not measured.
    previous: Values | None = None
    kpis: list[KpiResult] = field(default_factory=list)
    series: TimeSeries = field(default_factory=TimeSeries)
    weeks: list[Week] = field(default_factory=list)
    gaps: list[DataGap] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)


class _Run:
    """One report's queries: records each, turns failures into DataGaps."""

    def __init__(self, client: PrometheusClient, facts: MetricFacts, window: Window) -> None:
        self.client, self.facts, self.window = client, facts, window

    def gap(self, section: str, reason: str) -> None:
        self.facts.gaps.append(DataGap(section=section, source="prometheus", reason=reason))

    async def instant(
        self, section: str, figures: dict[str, str], at: datetime | None = None
    ) -> dict[str, list[Sample]] | None:
        """All of a section's instant queries together; any failure marks the section missing."""
        at = at or self.window.end
        for figure, expr in figures.items():
            self.facts.queries.append(QueryRecord(figure=figure, expr=expr, time=at))
        try:
            results = await asyncio.gather(
                *(self.client.query(expr, at) for expr in figures.values())
            )
        except PrometheusError as error:
            self.gap(section, str(error))
            return None
        return dict(zip(figures, results, strict=True))

    async def range(
        self, section: str, figure: str, expr: str, start: datetime, step: int
    ) -> list[Series] | None:
        end = self.window.end
        self.facts.queries.append(
            QueryRecord(figure=figure, expr=expr, time=end, start=start, step_seconds=step)
        )
        try:
            return await self.client.query_range(expr, start, end, step)
        except PrometheusError as error:
            self.gap(section, str(error))
            return None


def _container(sample: Sample) -> ContainerKey:
    labels = sample.labels
    return labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", "")


def _scalar(samples: list[Sample]) -> float | None:
    return samples[0].value if samples else None


# ------------------------------------------------------------------ availability and restarts


async def _availability(run: _Run, scope: queries.Scope, seconds: int) -> Availability:
    results = await run.instant(
        "availability",
        {
            "availability.successfulScrapes": queries.availability_successful(scope, seconds),
            "availability.totalScrapes": queries.availability_total(scope, seconds),
        },
    )
    if results is None:
        return Availability()
    successful = _scalar(results["availability.successfulScrapes"])
    total = _scalar(results["availability.totalScrapes"])
    if successful is None or not total:
        run.gap("availability", "no `up` series of a scrape target in scope")
        return Availability()
    return Availability(
        percent=100.0 * successful / total,
        successful_scrapes=round(successful),
        total_scrapes=round(total),
    )


def _newest_reasons(samples: list[Sample]) -> dict[ContainerKey, str]:
    newest: dict[ContainerKey, tuple[float, str]] = {}
    for sample in samples:
        key = _container(sample)
        if key not in newest or sample.value > newest[key][0]:
            newest[key] = (sample.value, sample.labels.get("reason", ""))
    return {key: reason for key, (_, reason) in newest.items()}


async def _restarts(
    run: _Run,
    scope: queries.Scope,
    seconds: int,
    weeks: list[series.WeekSpan],
    steps: series.StepFacts,
) -> tuple[Restarts | None, dict[ContainerKey, str]]:
    """Restarts per container, their last reasons, and (in the same query, rows labelled `week`)
    the weeks' totals into `steps`."""
    spans = [(w.start.timestamp(), w.end.timestamp()) for w in weeks]
    by_week = queries.restarts_by_week(scope, run.window.end.timestamp(), spans)
    results = await run.instant(
        "restarts",
        {
            "restarts": f"{queries.restarts(scope, seconds)} or {by_week}",
            "restarts.lastReason": queries.last_terminated_reason(scope, seconds),
        },
    )
    if results is None:
        return None, {}
    per_week: dict[str, float] = {}
    containers: list[Sample] = []
    for sample in results["restarts"]:
        if "week" in sample.labels:
            per_week[sample.labels["week"]] = sample.value
        else:
            containers.append(sample)
    if not containers:
        # Without a counter there is nothing to count; 0 would be invented.
        run.gap("restarts", "no kube_pod_container_status_restarts_total series in scope")
        return None, {}
    steps.weekly_restarts = [
        None if (value := per_week.get(str(index))) is None else round(value)
        for index in range(len(weeks))
    ]
    reasons = _newest_reasons(results["restarts.lastReason"])
    rows = [
        RestartRow(
            namespace=ns,
            pod=pod,
            container=container,
            restarts=round(sample.value),
            last_reason=reasons.get((ns, pod, container)),
        )
        for sample in containers
        for ns, pod, container in [_container(sample)]
        if round(sample.value) > 0
    ]
    rows.sort(key=lambda r: (-r.restarts, r.namespace, r.pod, r.container))
    by_reason: dict[str, int] = defaultdict(int)
    for row in rows:
        by_reason[row.last_reason or "Unknown"] += row.restarts
    return (
        Restarts(total=sum(r.restarts for r in rows), by_reason=dict(by_reason), top=rows),
        reasons,
    )


# ------------------------------------------------------------------ resources


# kube-state-metrics before 2.8 writes an owner-less object's owner as "<none>"; from 2.8 the
# labels are empty, which Prometheus stores as absent.
_NO_OWNER = ("", "<none>")


def _owner_map(rows: list[Sample]) -> Owners:
    """(namespace, pod) -> (workload kind, workload name): a ReplicaSet resolves to what owns
    it (a Deployment, an Argo Rollout), a Job to its CronJob; an owner-less one stays itself."""
    by_figure: dict[str, dict[tuple[str, str], tuple[str, str]]] = defaultdict(dict)
    child_label = {"pod": "pod", "replicaset": "replicaset", "job": "job_name"}
    for sample in rows:
        labels = sample.labels
        figure = labels.get("figure", "")
        kind, name = labels.get("owner_kind", ""), labels.get("owner_name", "")
        child = labels.get(child_label.get(figure, ""), "")
        if child and kind not in _NO_OWNER:
            by_figure[figure][(labels.get("namespace", ""), child)] = (kind, name)
    parents = {"ReplicaSet": by_figure["replicaset"], "Job": by_figure["job"]}
    owners: Owners = {}
    for (namespace, pod), (kind, name) in by_figure["pod"].items():
        if kind in parents:
            kind, name = parents[kind].get((namespace, name), (kind, name))
        owners[(namespace, pod)] = (kind, name)
    return owners


def _workload(owners: Owners, sample: Sample) -> WorkloadKey:
    namespace, pod, container = _container(sample)
    kind, name = owners.get((namespace, pod), ("Pod", pod))
    return namespace, kind, name, container


@dataclass
class _Accumulator:
    pods: set[str] = field(default_factory=set)
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _fold(results: dict[str, list[Sample]], owners: Owners) -> list[WorkloadUsage]:
    groups: dict[WorkloadKey, _Accumulator] = defaultdict(_Accumulator)
    for figure, samples in results.items():
        if figure.startswith(("cpu.", "memory.")):
            for sample in samples:
                group = groups[_workload(owners, sample)]
                group.pods.add(sample.labels.get("pod", ""))
                group.values[figure].append(sample.value)
    for figure in ("requests", "limits"):
        for sample in results[figure]:
            key = _workload(owners, sample)
            if key in groups:  # only containers that ran in the window
                groups[key].values[f"{sample.labels.get('resource')}.{figure}"].append(sample.value)

    def stat(
        group: _Accumulator, figure: str, combine: Callable[[list[float]], float]
    ) -> float | None:
        values = group.values.get(figure)
        return combine(values) if values else None

    workloads = [
        WorkloadUsage(
            namespace=namespace,
            kind=kind,
            name=name,
            container=container,
            pods=len(group.pods),
            cpu=CpuUsage(
                avg=stat(group, "cpu.avg", fmean),
                p95=stat(group, "cpu.p95", max),
                max=stat(group, "cpu.max", max),
                request=stat(group, "cpu.requests", max),
                limit=stat(group, "cpu.limits", max),
            ),
            memory=MemoryUsage(
                avg=stat(group, "memory.avg", fmean),
                max=stat(group, "memory.max", max),
                request=stat(group, "memory.requests", max),
                limit=stat(group, "memory.limits", max),
            ),
        )
        for (namespace, kind, name, container), group in groups.items()
    ]
    workloads.sort(key=lambda w: (w.namespace, w.kind, w.name, w.container))
    return workloads


async def _resources(
    run: _Run, scope: queries.Scope, seconds: int
) -> tuple[list[WorkloadUsage] | None, Owners]:
    results = await run.instant(
        "resources",
        {
            "cpu.avg": queries.cpu_usage(scope, seconds, "avg"),
            "cpu.p95": queries.cpu_usage(scope, seconds, "p95"),
            "cpu.max": queries.cpu_usage(scope, seconds, "max"),
            "memory.avg": queries.memory_usage(scope, seconds, "avg"),
            "memory.max": queries.memory_usage(scope, seconds, "max"),
            "requests": queries.resource_quantity(scope, seconds, "requests"),
            "limits": queries.resource_quantity(scope, seconds, "limits"),
            "owners": queries.owners(scope, seconds),
        },
    )
    if results is None:
        return None, {}
    owners = _owner_map(results.pop("owners"))
    workloads = _fold(results, owners)
    if not workloads:
        run.gap(
            "resources",
            "no container CPU or memory series with namespace, pod and container labels in scope"
            " (the kubelet's cAdvisor or resource endpoint; a standalone cAdvisor writes none)",
        )
    return workloads, owners


async def _throttling(
    run: _Run, scope: queries.Scope, seconds: int
) -> dict[str, list[Sample]] | None:
    return await run.instant(
        "throttling",
        {
            "cpu.throttledPeriods": queries.cpu_throttling(scope, seconds, "throttled"),
            "cpu.periods": queries.cpu_throttling(scope, seconds, "periods"),
        },
    )


def _add_throttling(
    run: _Run,
    workloads: list[WorkloadUsage],
    owners: Owners,
    results: dict[str, list[Sample]],
) -> None:
    """Throttled periods / periods over all of a workload container's pods."""
    sums: dict[WorkloadKey, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for index, figure in enumerate(("cpu.throttledPeriods", "cpu.periods")):
        for sample in results[figure]:
            sums[_workload(owners, sample)][index] += sample.value
    for w in workloads:
        throttled, periods = sums.get((w.namespace, w.kind, w.name, w.container), (0.0, 0.0))
        if periods > 0:
            w.cpu.throttled_ratio = throttled / periods
    limited = [w for w in workloads if w.cpu.limit is not None]
    if limited and all(w.cpu.throttled_ratio is None for w in limited):
        run.gap("throttling", "no CFS period series (cAdvisor) for containers with a CPU limit")


# ------------------------------------------------------------------ scaling and Deployments


def _by(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], int]:
    return {tuple(s.labels.get(label, "") for label in labels): round(s.value) for s in samples}


async def _scaling(
    run: _Run, scope: queries.Scope, seconds: int, step: int
) -> list[HpaActivity] | None:
    results = await run.instant(
        "scaling",
        {
            "scaling.rescales": queries.hpa_rescales(scope, seconds, step),
            "scaling.peakReplicas": queries.hpa_replicas(scope, seconds, "peak"),
            "scaling.minReplicas": queries.hpa_replicas(scope, seconds, "min"),
            "scaling.maxReplicas": queries.hpa_replicas(scope, seconds, "max"),
            "scaling.secondsAtMax": queries.hpa_seconds_at_max(scope, seconds, step),
            "scaling.secondsNotAtDesired": queries.hpa_seconds_not_at_desired(scope, seconds, step),
        },
    )
    if results is None:
        return None
    hpa = ("namespace", "horizontalpodautoscaler")
    figures = {figure: _by(samples, *hpa) for figure, samples in results.items()}
    return [
        HpaActivity(
            namespace=ns,
            name=name,
            rescales=count,
            peak_replicas=figures["scaling.peakReplicas"].get((ns, name)),
            min_replicas=figures["scaling.minReplicas"].get((ns, name)),
            max_replicas=figures["scaling.maxReplicas"].get((ns, name)),
            # No step counted means none in the window: the HPA's series are there (rescales).
            seconds_at_max=figures["scaling.secondsAtMax"].get((ns, name), 0),
            seconds_not_at_desired=figures["scaling.secondsNotAtDesired"].get((ns, name), 0),
        )
        for (ns, name), count in sorted(figures["scaling.rescales"].items())
    ]


async def _deployments(
    run: _Run, scope: queries.Scope, seconds: int, step: int
) -> dict[tuple[str, str], WorkloadStatus] | None:
    results = await run.instant(
        "workloads",
        {
            "workloads.maxUnavailableReplicas": queries.deployment_max_unavailable(scope, seconds),
            "workloads.secondsUnavailable": queries.deployment_seconds_unavailable(
                scope, seconds, step
            ),
            "workloads.specChanges": queries.deployment_spec_changes(scope, seconds),
        },
    )
    if results is None:
        return None
    figures = {
        figure: _by(samples, "namespace", "deployment") for figure, samples in results.items()
    }
    return {
        (ns, name): WorkloadStatus(
            namespace=ns,
            kind="Deployment",
            name=name,
            max_unavailable_replicas=peak,
            seconds_unavailable=figures["workloads.secondsUnavailable"].get((ns, name), 0),
            spec_changes=figures["workloads.specChanges"].get((ns, name)),
        )
        for (ns, name), peak in sorted(figures["workloads.maxUnavailableReplicas"].items())
    }


# ------------------------------------------------------------------ incidents and alerts


async def _history(
    run: _Run, scope: queries.Scope, previous: Window
) -> tuple[
    list[Incident] | None,
    list[Alert] | None,
    history.HistoryTotals | None,
    history.HistoryTotals | None,
    dict[history.AlertKey, list[history.Stretch]] | None,
]:
    """Both windows in one range query each, at the same step, so a trend compares like with
    like."""
    step = queries.history_step(previous.seconds + run.window.seconds)
    down, firing = await asyncio.gather(
        run.range(
            "incidents", "incidents", queries.down_targets(scope, step), previous.start, step
        ),
        run.range("alerts", "alerts", queries.firing_alerts(scope, step), previous.start, step),
    )
    incidents = before_incidents = alerts = before_alerts = stretches = None
    if down is not None:
        incidents = history.incidents(down, step, run.window)
        before_incidents = history.incident_totals(history.incidents(down, step, previous))
    if firing is not None:
        alerts = history.alerts(firing, step, run.window)
        before_alerts = history.alert_totals(history.alerts(firing, step, previous))
        stretches = history.alert_stretches(firing, step, run.window)
    return incidents, alerts, before_incidents, before_alerts, stretches


# ------------------------------------------------------------------ traffic


def _traffic_queries(scope: queries.Scope, seconds: int, spec: TrafficSpec) -> dict[str, str]:
    figures = {}
    if spec.latency_histogram:
        figures["traffic.latency"] = queries.latency_quantiles(
            scope, seconds, spec.latency_histogram, spec.selector
        )
    if spec.requests_counter:
        figures["traffic.requests"] = queries.requests_total(
            scope, seconds, spec.requests_counter, spec.selector
        )
        figures["traffic.errors"] = queries.requests_failed(
            scope, seconds, spec.requests_counter, spec.selector
        )
    return figures


def _quantiles(samples: list[Sample]) -> Latency:
    by_q = {s.labels.get("quantile"): s.value for s in samples}
    return Latency(p50=by_q.get("0.5"), p95=by_q.get("0.95"), p99=by_q.get("0.99"))


def _traffic_values(
    results: dict[str, list[Sample]],
) -> tuple[Latency, float | None, float | None]:
    latency = _quantiles(results.get("traffic.latency", []))
    requests = _scalar(results.get("traffic.requests", []))
    errors = _scalar(results.get("traffic.errors", []))
    return latency, requests, errors


async def _traffic(run: _Run, scope: queries.Scope, seconds: int, spec: TrafficSpec) -> Traffic:
    # One query: latency, requests and errors told apart by a `figure` label.
    results = await run.instant(
        "traffic", {"traffic": queries.labelled(_traffic_queries(scope, seconds, spec))}
    )
    if results is None:
        return Traffic()
    rows: dict[str, list[Sample]] = defaultdict(list)
    for sample in results["traffic"]:
        rows[sample.labels.get("figure", "")].append(sample)
    latency, requests, errors = _traffic_values(rows)
    matched = f"{{{', '.join(queries.label_equals(spec.selector))}}}" if spec.selector else ""
    if spec.latency_histogram and latency.p95 is None:
        run.gap(
            "traffic",
            f"no latency: no {spec.latency_histogram}_bucket series in scope matched"
            f" {matched or 'the scope'}, or none counted a request in the window",
        )
    if spec.requests_counter and requests is None:
        run.gap(
            "traffic",
            f"no {spec.requests_counter} series in scope matched {matched or 'the scope'}",
        )
    elif spec.requests_counter and errors is None:
        run.gap("traffic", f"{spec.requests_counter} has no `code` label: errors are unknown")
    return Traffic(
        latency=latency,
        requests=requests,
        errors=errors,
        error_ratio=errors / requests if errors is not None and requests else None,
        requests_per_second=requests / seconds if requests is not None else None,
    )


# ------------------------------------------------------------------ the previous window


async def _previous(
    run: _Run, scope: queries.Scope, seconds: int, traffic: TrafficSpec | None
) -> Values | None:
    """The previous window's headline figures in one query, evaluated at this window's start."""
    exprs = {
        "availability": queries.availability_ratio(scope, seconds),
        "restarts": queries.restarts_total(scope, seconds),
        "rescales": queries.hpa_rescales_total(scope, seconds, queries.history_step(seconds)),
    }
    if traffic is not None:
        for figure, expr in _traffic_queries(scope, seconds, traffic).items():
            exprs[figure.removeprefix("traffic.")] = expr
    results = await run.instant(
        "trends", {"previous": queries.labelled(exprs)}, at=run.window.start
    )
    if results is None:
        return None
    rows: dict[str, list[Sample]] = defaultdict(list)
    for sample in results["previous"]:
        rows[sample.labels.get("figure", "")].append(sample)
    ratio = _scalar(rows["availability"])
    values: Values = {
        headline.AVAILABILITY: None if ratio is None else 100.0 * ratio,
        headline.RESTARTS: _scalar(rows["restarts"]),
        headline.RESCALES: _scalar(rows["rescales"]),
    }
    if traffic is not None:
        latency, requests, errors = _traffic_values(
            {f"traffic.{name}": samples for name, samples in rows.items()}
        )
        values[headline.LATENCY_P50] = latency.p50
        values[headline.LATENCY_P95] = latency.p95
        values[headline.LATENCY_P99] = latency.p99
        values[headline.ERROR_RATIO] = (
            errors / requests if errors is not None and requests else None
        )
        values[headline.REQUESTS_PER_SECOND] = requests / seconds if requests is not None else None
    return values


# ------------------------------------------------------------------ series over the window


async def _scope_series(
    run: _Run, scope: queries.Scope, step: int, steps: series.StepFacts
) -> list[Series] | None:
    """Availability per step: the availability chart and the weeks."""
    found = await run.range(
        "availability series",
        "series.scope",
        queries.scope_series(scope, step),
        run.window.start + timedelta(seconds=step),
        step,
    )
    if found is None:
        steps.notes["availability"] = "not measured (see Data gaps)"
        return None
    rows = series.by_figure(found)
    steps.successful = series.by_step(rows.get("successful", []), step)
    steps.total = series.by_step(rows.get("total", []), step)
    return found


async def _replica_series(
    run: _Run, scope: queries.Scope, step: int, hpas: list[HpaActivity] | None
) -> list[ReplicaSeries] | None:
    """Current and desired replicas per step of the autoscalers that rescaled most; after the
    scaling query, which picks them (no autoscaler, no query)."""
    if not hpas:
        return None if hpas is None else []
    ranked = sorted(hpas, key=lambda h: (-(h.rescales or 0), h.namespace, h.name))
    picked = [(h.namespace, h.name, h.rescales) for h in ranked[: series.MAX_HPAS]]
    found = await run.range(
        "replica series",
        "series.replicas",
        queries.hpa_replica_series(scope, sorted({name for _, name, _ in picked}), step),
        run.window.start + timedelta(seconds=step),
        step,
    )
    if found is None:
        return None
    return series.replica_series(found, picked, step, run.window)


async def _traffic_series(
    run: _Run, scope: queries.Scope, step: int, spec: TrafficSpec, steps: series.StepFacts
) -> list[Point] | None:
    """Latency p95, requests and errors per step: the latency chart and the weeks."""
    found = await run.range(
        "traffic series",
        "series.traffic",
        queries.traffic_series(
            scope, step, spec.latency_histogram, spec.requests_counter, spec.selector
        ),
        run.window.start + timedelta(seconds=step),
        step,
    )
    if found is None:
        for figure in ("requests", "errors", "latency p95"):
            steps.notes[figure] = "not measured (see Data gaps)"
        return None
    rows = series.by_figure(found)
    if spec.requests_counter:
        steps.requests = series.by_step(rows.get("requests", []), step)
        steps.errors = series.by_step(rows.get("errors", []), step)
    else:
        for figure in ("requests", "errors"):
            steps.notes[figure] = "spec.traffic names no requests counter"
    if not spec.latency_histogram:
        steps.notes["latency p95"] = "spec.traffic names no latency histogram"
        return None
    steps.buckets = series.buckets_by_step(rows.get("buckets", []), step)
    p95 = {t: series.bucket_quantile(0.95, b) for t, b in steps.buckets.items()}
    return series.points(p95, run.window, step)


# ------------------------------------------------------------------ KPIs


def _one_value(samples: list[Sample]) -> tuple[float | None, str | None]:
    if not samples:
        return None, "returned no data"
    if len(samples) > 1:
        return None, f"returned {len(samples)} series; a KPI needs one value (aggregate it)"
    return samples[0].value, None


async def _kpi(run: _Run, spec: KpiSpec, seconds: int) -> KpiResult:
    query = queries.substitute_window(spec.query, seconds)
    section = f"kpi {spec.name}"
    now, before = await asyncio.gather(
        run.instant(section, {f"kpis.{spec.name}": query}),
        run.instant(section, {f"kpis.{spec.name}.previous": query}, at=run.window.start),
    )
    value = previous = None
    if now is not None:
        value, problem = _one_value(now[f"kpis.{spec.name}"])
        if problem:
            run.gap(section, f"the query {problem}")
    if before is not None:
        previous, _ = _one_value(before[f"kpis.{spec.name}.previous"])
    return kpi_result(spec, query, value, previous)


# ------------------------------------------------------------------ the whole set


async def collect_metrics(
    client: PrometheusClient,
    scope: queries.Scope,
    window: Window,
    *,
    traffic: TrafficSpec | None = None,
    kpis: tuple[KpiSpec, ...] = (),
    time_zone: str = "UTC",
) -> MetricFacts:
    facts = MetricFacts()
    run = _Run(client, facts, window)
    seconds = window.seconds
    step = queries.history_step(seconds)
    previous = window.previous()
    weeks = series.week_spans(window, time_zone)
    series_step, aligned = queries.series_step(seconds, series.boundaries(window, weeks))
    steps = series.StepFacts(step=series_step)

    async def scaling_then_replicas() -> tuple[
        list[HpaActivity] | None, list[ReplicaSeries] | None
    ]:
        found = await _scaling(run, scope, seconds, step)
        return found, await _replica_series(run, scope, series_step, found)

    async with asyncio.TaskGroup() as group:
        availability = group.create_task(_availability(run, scope, seconds))
        restarts = group.create_task(_restarts(run, scope, seconds, weeks, steps))
        resources = group.create_task(_resources(run, scope, seconds))
        throttling = group.create_task(_throttling(run, scope, seconds))
        hpas = group.create_task(scaling_then_replicas())
        deployments = group.create_task(_deployments(run, scope, seconds, step))
        stretches = group.create_task(_history(run, scope, previous))
        measured = group.create_task(_traffic(run, scope, seconds, traffic)) if traffic else None
        before_task = group.create_task(_previous(run, scope, seconds, traffic))
        kpi_tasks = [group.create_task(_kpi(run, kpi, seconds)) for kpi in kpis]
        scope_steps = group.create_task(_scope_series(run, scope, series_step, steps))
        latency_steps = (
            group.create_task(_traffic_series(run, scope, series_step, traffic, steps))
            if traffic
            else None
        )
    workloads, owners = resources.result()
    incidents, alerts, before_incidents, before_alerts, alert_stretches = stretches.result()
    before = before_task.result()
    if workloads is not None and (throttled := throttling.result()) is not None:
        _add_throttling(run, workloads, owners, throttled)
    facts.availability = availability.result()
    facts.restarts, facts.last_reasons = restarts.result()
    facts.hpas, replicas = hpas.result()
    facts.workloads, facts.deployments = workloads, deployments.result()
    facts.incidents, facts.alerts = incidents, alerts
    facts.traffic = measured.result() if measured else None
    facts.kpis = [task.result() for task in kpi_tasks]
    if facts.incidents is not None and facts.availability.percent is None:
        # No `up` at all is no evidence of uptime either: not "no incidents".
        facts.incidents = None
        run.gap("incidents", "no `up` series of a scrape target in scope")
    if before is not None:
        # The same for the previous window; with no `up` there, Prometheus had no data for it.
        had_data = before.get(headline.AVAILABILITY) is not None
        for count, seconds_name, totals in (
            (headline.INCIDENTS, headline.DOWNTIME_SECONDS, before_incidents),
            (headline.ALERTS, headline.ALERT_SECONDS, before_alerts),
        ):
            before[count] = totals.count if totals and had_data else None
            before[seconds_name] = totals.seconds if totals and had_data else None
    facts.previous = before
    facts.series = _time_series(
        run,
        steps,
        scope_steps.result(),
        replicas,
        latency_steps.result() if latency_steps else None,
    )
    if not aligned:
        for figure in ("availability", "requests", "errors", "latency p95"):
            steps.notes[figure] = (
                "the window does not start and end on whole minutes, so no step fits its weeks"
            )
        for name in ("successful", "total", "buckets", "requests", "errors"):
            setattr(steps, name, None)
    facts.weeks = series.fold_weeks(
        weeks,
        steps,
        facts.incidents,
        alert_stretches if facts.alerts is not None else None,
        traffic is not None,
    )
    return facts


def _time_series(
    run: _Run,
    steps: series.StepFacts,
    scope_found: list[Series] | None,
    replicas: list[ReplicaSeries] | None,
    latency: list[Point] | None,
) -> TimeSeries:
    availability: list[Point] | None = None
    step = steps.step
    if scope_found is not None and steps.successful is not None and steps.total is not None:
        percent = {
            t: 100.0 * steps.successful.get(t, 0.0) / total
            for t, total in steps.total.items()
            if total
        }
        # No `up` at all is already the availability section's gap.
        availability = series.points(percent, run.window, step) or None
    return TimeSeries(
        step_seconds=steps.step,
        availability=availability,
        replicas=replicas,
        latency_p95=latency or None,
    )
