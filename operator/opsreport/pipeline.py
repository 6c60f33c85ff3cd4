"""One report run: collect → model → render → deliver. Plain Python; kopf never reaches in here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsreport import __version__
from opsreport.collect import access, judge, queries, sections, series
from opsreport.collect.access import AccessError
from opsreport.collect.cluster import ClusterFacts, collect_cluster
from opsreport.collect.judge import kpi_result
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import (
    PrometheusClient,
    PrometheusSettings,
    QueryObserver,
    thanos_params,
)
from opsreport.collect.sections.base import Plan
from opsreport.deliver.base import OutputResult, ReportIdentity, ScheduleIdentity, Sink
from opsreport.kube import KubeApi
from opsreport.model.assessment import assess
from opsreport.model.report import (
    DataGap,
    HpaActivity,
    Meta,
    ReportData,
    Resources,
    Restarts,
    Scaling,
    ScheduleRef,
    ScopeData,
    Traffic,
    Week,
    WindowData,
    WorkloadStatus,
)
from opsreport.model.spec import ReportScheduleSpec
from opsreport.render.documents import CustomTemplate, Document, render_documents
from opsreport.scheduling import Clock, Window


@dataclass(frozen=True)
class ReportRequest:
    schedule: ScheduleIdentity
    spec: ReportScheduleSpec
    window: Window

    @property
    def identity(self) -> ReportIdentity:
        return ReportIdentity(self.schedule, self.window)

    @property
    def namespaces(self) -> tuple[str, ...]:
        return self.spec.namespaces_for(self.schedule.namespace)


# Hooks for the operator's metrics, so this module stays free of prometheus_client.
PhaseObserver = Callable[[str, float], None]  # (collect | render | deliver, seconds)


@dataclass
class Sources:
    """Where data comes from. Either may be absent; the report then says what is missing."""

    kube: KubeApi | None
    prometheus: PrometheusSettings | None
    on_query: QueryObserver | None = None


@dataclass
class ReportOutcome:
    report: ReportData
    documents: list[Document]
    outputs: list[OutputResult] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.outputs) and all(result.ok for result in self.outputs)

    @property
    def degraded(self) -> bool:
        return bool(self.report.data_gaps)


def _title(request: ReportRequest) -> str:
    return (
        request.spec.title
        or f"Operations report: {request.schedule.namespace}/{request.schedule.name}"
    )


_API_SECTIONS = ("pods", "events", "scaling", "workloads", "rollouts", "nodes")


async def _cluster(request: ReportRequest, kube: KubeApi | None) -> ClusterFacts:
    if kube is None:
        facts = ClusterFacts()
        facts.gaps = [
            DataGap(section=section, source="kubernetes", reason="no Kubernetes API configured")
            for section in _API_SECTIONS
        ]
        return facts
    selector = request.spec.scope.selector
    return await collect_cluster(
        kube, request.namespaces, selector.to_query() if selector else None, request.window
    )


def _unmeasured(spec: ReportScheduleSpec, reason: str) -> MetricFacts:
    facts = MetricFacts(traffic=Traffic() if spec.traffic is not None else None)
    unmeasured = sections.gap_sections(Plan(traffic=spec.traffic, kpis=spec.kpis))
    facts.gaps = [DataGap(section=s, source="prometheus", reason=reason) for s in unmeasured]
    facts.kpis = [kpi_result(kpi, kpi.query, None, None) for kpi in spec.kpis]
    return facts


def _weeks_unmeasured(request: ReportRequest) -> list[Week]:
    spans = series.week_spans(request.window, request.spec.time_zone)
    return series.fold_weeks(
        spans, series.StepFacts(), None, None, request.spec.traffic is not None
    )


async def _metrics(
    request: ReportRequest,
    settings: PrometheusSettings | None,
    kube: KubeApi | None,
    on_query: QueryObserver | None,
) -> tuple[MetricFacts, int]:
    spec = request.spec
    if settings is None:
        return _unmeasured(spec, "no Prometheus URL configured"), 0
    try:
        settings = await access.resolve(settings, kube, request.schedule.namespace)
    except AccessError as error:
        return _unmeasured(spec, f"cannot reach Prometheus: {error}"), 0
    params = thanos_params(request.window.seconds) if settings.thanos else None
    async with PrometheusClient(settings, params=params, on_query=on_query) as client:
        facts = await collect_metrics(
            client,
            queries.Scope(request.namespaces),
            request.window,
            traffic=spec.traffic,
            kpis=spec.kpis,
            time_zone=spec.time_zone,
        )
        return facts, client.queries_sent


def _hpas(cluster: ClusterFacts, metrics: MetricFacts) -> list[HpaActivity] | None:
    """Prometheus' history of each HPA with the API's view of it now; either may be missing."""
    if metrics.hpas is None and cluster.hpas is None:
        return None
    merged = {(h.namespace, h.name): h for h in metrics.hpas or []}
    for key, api in (cluster.hpas or {}).items():
        hpa = merged.setdefault(key, HpaActivity(namespace=api.namespace, name=api.name))
        hpa.current_replicas, hpa.desired_replicas = api.current_replicas, api.desired_replicas
        hpa.able_to_scale, hpa.scaling_limited = api.able_to_scale, api.scaling_limited
        # Bounds: the window's last from Prometheus, else the spec now.
        hpa.min_replicas = api.min_replicas if hpa.min_replicas is None else hpa.min_replicas
        hpa.max_replicas = api.max_replicas if hpa.max_replicas is None else hpa.max_replicas
    return [merged[key] for key in sorted(merged)]


def _workloads(cluster: ClusterFacts, metrics: MetricFacts) -> list[WorkloadStatus] | None:
    if cluster.workloads is None and metrics.deployments is None:
        return None
    merged = dict(cluster.workloads or {})
    for (namespace, name), measured in (metrics.deployments or {}).items():
        status = merged.setdefault(
            (namespace, "Deployment", name),
            WorkloadStatus(namespace=namespace, kind="Deployment", name=name),
        )
        status.max_unavailable_replicas = measured.max_unavailable_replicas
        status.seconds_unavailable = measured.seconds_unavailable
        status.spec_changes = measured.spec_changes
    return [merged[key] for key in sorted(merged)]


def _current_values(report: ReportData) -> dict[str, float | None]:
    """This window's headline figures, as the sections that measure them name them."""
    return {
        headline.figure: headline.current(report)
        for headline in sections.headlines()
        if headline.present(report)
    }


async def collect_report(request: ReportRequest, sources: Sources, clock: Clock) -> ReportData:
    started = time.perf_counter()
    requests_before = sources.kube.requests_sent if sources.kube else 0
    cluster, (metrics, prom_queries) = await asyncio.gather(
        _cluster(request, sources.kube),
        _metrics(request, sources.prometheus, sources.kube, sources.on_query),
    )
    restarts = metrics.restarts or Restarts()
    if metrics.restarts is not None:
        # Prometheus may lack a reason a live pod's status still shows.
        for row in restarts.top:
            if row.last_reason is None:
                api_reason = cluster.last_terminations.get((row.namespace, row.pod, row.container))
                if api_reason:
                    row.last_reason, row.exit_code = api_reason
    selector = request.spec.scope.selector
    report = ReportData(
        title=_title(request),
        schedule=ScheduleRef(namespace=request.schedule.namespace, name=request.schedule.name),
        window=WindowData(
            start=request.window.start, end=request.window.end, time_zone=request.spec.time_zone
        ),
        generated_at=clock(),
        scope=ScopeData(
            namespaces=list(request.namespaces), selector=selector.to_query() if selector else None
        ),
        availability=metrics.availability,
        restarts=restarts,
        resources=Resources(workloads=metrics.workloads or []),
        scaling=Scaling(hpas=_hpas(cluster, metrics), events=cluster.scaling_events),
        workloads=_workloads(cluster, metrics),
        rollouts=cluster.rollouts,
        events=cluster.failures,
        nodes=cluster.nodes,
        incidents=metrics.incidents,
        alerts=metrics.alerts,
        traffic=metrics.traffic,
        kpis=metrics.kpis,
        series=metrics.series,
        weeks=metrics.weeks or _weeks_unmeasured(request),
        pods=cluster.pods,
        data_gaps=sorted(
            [*metrics.gaps, *cluster.gaps], key=lambda g: (g.section, g.source, g.reason)
        ),
        meta=Meta(
            prom_queries=prom_queries,
            api_requests=(sources.kube.requests_sent - requests_before) if sources.kube else 0,
            queries=metrics.queries,
            operator_version=__version__,
            collect_seconds=round(time.perf_counter() - started, 3),
        ),
    )
    current = _current_values(report)
    report.trends = judge.trends(current, metrics.previous)
    report.objectives = judge.objectives(request.spec.objectives, current, metrics.previous)
    report.status, report.status_reasons = assess(report)
    return report


async def run_report(
    request: ReportRequest,
    sources: Sources,
    sinks: list[Sink],
    clock: Clock,
    on_phase: PhaseObserver | None = None,
    custom_template: CustomTemplate | None = None,
) -> ReportOutcome:
    """Collect, render and deliver to every sink; one failing sink never blocks another."""
    observe = on_phase or (lambda phase, seconds: None)
    started = time.perf_counter()
    report = await collect_report(request, sources, clock)
    collected = time.perf_counter()
    observe("collect", collected - started)
    # In a thread: a slow user template must not stall the event loop (the render has a budget).
    documents = await asyncio.to_thread(
        render_documents,
        report,
        request.spec.template.name,
        request.spec.formats,
        top_n=request.spec.template.top_n,
        custom=custom_template,
    )
    rendered = time.perf_counter()
    observe("render", rendered - collected)
    results = await asyncio.gather(
        *(sink.deliver(request.identity, report, documents, report.generated_at) for sink in sinks)
    )
    observe("deliver", time.perf_counter() - rendered)
    return ReportOutcome(report=report, documents=documents, outputs=list(results))
