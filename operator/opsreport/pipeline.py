"""One report run: collect → model → render → deliver. Plain Python; kopf never reaches in here."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from opsreport import __version__
from opsreport.collect import queries
from opsreport.collect.cluster import ClusterFacts, collect_cluster
from opsreport.collect.metrics import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.deliver.base import OutputResult, ReportIdentity, ScheduleIdentity, Sink
from opsreport.kube import KubeApi, KubeError
from opsreport.model.assessment import assess
from opsreport.model.report import (
    DataGap,
    Meta,
    Pods,
    ReportData,
    Resources,
    Restarts,
    Scaling,
    ScheduleRef,
    ScopeData,
    WindowData,
)
from opsreport.model.spec import ReportScheduleSpec
from opsreport.render.report import Document, render_documents
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


@dataclass
class Sources:
    """Where data comes from. Either may be absent; the report then says what is missing."""

    kube: KubeApi | None
    prometheus: PrometheusSettings | None


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


async def _cluster(request: ReportRequest, kube: KubeApi | None) -> ClusterFacts | DataGap:
    if kube is None:
        return DataGap(section="pods", source="kubernetes", reason="no Kubernetes API configured")
    selector = request.spec.scope.selector
    try:
        return await collect_cluster(
            kube, request.namespaces, selector.to_query() if selector else None, request.window
        )
    except KubeError as error:
        return DataGap(section="pods", source="kubernetes", reason=str(error))


async def _metrics(
    request: ReportRequest, settings: PrometheusSettings | None
) -> tuple[MetricFacts, int]:
    if settings is None:
        facts = MetricFacts()
        for section in ("availability", "restarts", "resources", "scaling"):
            facts.gaps.append(
                DataGap(section=section, source="prometheus", reason="no Prometheus URL configured")
            )
        return facts, 0
    async with PrometheusClient(settings) as client:
        facts = await collect_metrics(client, queries.Scope(request.namespaces), request.window)
        return facts, client.queries_sent


async def collect_report(request: ReportRequest, sources: Sources, clock: Clock) -> ReportData:
    started = time.perf_counter()
    requests_before = sources.kube.requests_sent if sources.kube else 0
    cluster, (metrics, prom_queries) = await asyncio.gather(
        _cluster(request, sources.kube), _metrics(request, sources.prometheus)
    )
    gaps = list(metrics.gaps)
    pods = Pods()
    if isinstance(cluster, DataGap):
        gaps.append(cluster)
    else:
        pods = cluster.pods
    restarts = metrics.restarts or Restarts()
    if metrics.restarts is not None and not isinstance(cluster, DataGap):
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
        scaling=Scaling(hpas=metrics.hpas),
        pods=pods,
        data_gaps=gaps,
        meta=Meta(
            prom_queries=prom_queries,
            api_requests=(sources.kube.requests_sent - requests_before) if sources.kube else 0,
            queries=metrics.queries,
            operator_version=__version__,
            collect_seconds=round(time.perf_counter() - started, 3),
        ),
    )
    report.status, report.status_reasons = assess(report)
    return report


async def run_report(
    request: ReportRequest, sources: Sources, sinks: list[Sink], clock: Clock
) -> ReportOutcome:
    """Collect, render and deliver to every sink; one failing sink never blocks another."""
    report = await collect_report(request, sources, clock)
    documents = render_documents(report, request.spec.template.name, request.spec.formats)
    results = await asyncio.gather(
        *(sink.deliver(request.identity, report, documents, report.generated_at) for sink in sinks)
    )
    return ReportOutcome(report=report, documents=documents, outputs=list(results))
