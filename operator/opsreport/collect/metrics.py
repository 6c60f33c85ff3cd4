"""The fixed set of PromQL queries behind a report, folded into report sections.

Each section's queries run concurrently. A failing query never sinks the report: its section is
left unmeasured and a DataGap says why.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean

from opsreport.collect import queries
from opsreport.collect.prometheus import PrometheusClient, PrometheusError, Sample
from opsreport.model.report import (
    Availability,
    CpuUsage,
    DataGap,
    HpaActivity,
    MemoryUsage,
    QueryRecord,
    RestartRow,
    Restarts,
    WorkloadUsage,
)
from opsreport.scheduling import Window

ContainerKey = tuple[str, str, str]
WorkloadKey = tuple[str, str, str]


@dataclass
class MetricFacts:
    availability: Availability = field(default_factory=Availability)
    restarts: Restarts | None = None
    last_reasons: dict[ContainerKey, str] = field(default_factory=dict)
    workloads: list[WorkloadUsage] | None = None
    hpas: list[HpaActivity] | None = None
    gaps: list[DataGap] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)


class _Section:
    """Runs one section's queries together; any failure marks the whole section missing."""

    def __init__(self, client: PrometheusClient, facts: MetricFacts, name: str, at: datetime):
        self._client, self._facts, self._name, self._at = client, facts, name, at

    async def run(self, figures: dict[str, str]) -> dict[str, list[Sample]] | None:
        for figure, expr in figures.items():
            self._facts.queries.append(QueryRecord(figure=figure, expr=expr))
        try:
            results = await asyncio.gather(
                *(self._client.query(expr, self._at) for expr in figures.values())
            )
        except PrometheusError as error:
            self._facts.gaps.append(
                DataGap(section=self._name, source="prometheus", reason=str(error))
            )
            return None
        return dict(zip(figures, results, strict=True))


def _container(sample: Sample) -> ContainerKey:
    labels = sample.labels
    return labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", "")


def _scalar(samples: list[Sample]) -> float | None:
    return samples[0].value if samples else None


async def _availability(section: _Section, scope: queries.Scope, seconds: int) -> Availability:
    results = await section.run(
        {
            "availability.successfulScrapes": queries.availability_successful(scope, seconds),
            "availability.totalScrapes": queries.availability_total(scope, seconds),
        }
    )
    if results is None:
        return Availability()
    successful = _scalar(results["availability.successfulScrapes"])
    total = _scalar(results["availability.totalScrapes"])
    if successful is None or not total:
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
    section: _Section, scope: queries.Scope, seconds: int
) -> tuple[Restarts | None, dict[ContainerKey, str]]:
    results = await section.run(
        {
            "restarts": queries.restarts(scope, seconds),
            "restarts.lastReason": queries.last_terminated_reason(scope, seconds),
        }
    )
    if results is None:
        return None, {}
    reasons = _newest_reasons(results["restarts.lastReason"])
    rows = [
        RestartRow(
            namespace=ns,
            pod=pod,
            container=container,
            restarts=round(sample.value),
            last_reason=reasons.get((ns, pod, container)),
        )
        for sample in results["restarts"]
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


def _owner_map(
    pod_owners: list[Sample], rs_owners: list[Sample]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(namespace, pod) -> (workload kind, workload name), resolving ReplicaSets to Deployments."""
    replicasets = {
        (s.labels.get("namespace", ""), s.labels.get("replicaset", "")): (
            s.labels.get("owner_kind", ""),
            s.labels.get("owner_name", ""),
        )
        for s in rs_owners
        if s.labels.get("owner_kind") not in (None, "", "<none>")
    }
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for sample in pod_owners:
        namespace, pod = sample.labels.get("namespace", ""), sample.labels.get("pod", "")
        kind, name = sample.labels.get("owner_kind", ""), sample.labels.get("owner_name", "")
        if kind in ("", "<none>"):
            continue
        if kind == "ReplicaSet":
            kind, name = replicasets.get((namespace, name), (kind, name))
        owners[(namespace, pod)] = (kind, name)
    return owners


@dataclass
class _Accumulator:
    pods: set[str] = field(default_factory=set)
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _fold(
    results: dict[str, list[Sample]], owners: dict[tuple[str, str], tuple[str, str]]
) -> list[WorkloadUsage]:
    groups: dict[tuple[str, str, str, str], _Accumulator] = defaultdict(_Accumulator)

    def add(figure: str, sample: Sample) -> None:
        namespace, pod, container = _container(sample)
        kind, name = owners.get((namespace, pod), ("Pod", pod))
        group = groups[(namespace, kind, name, container)]
        group.pods.add(pod)
        group.values[figure].append(sample.value)

    for figure, samples in results.items():
        if figure.startswith(("cpu.", "memory.")):
            for sample in samples:
                add(figure, sample)
    for figure in ("requests", "limits"):
        for sample in results[figure]:
            namespace, pod, container = _container(sample)
            kind, name = owners.get((namespace, pod), ("Pod", pod))
            key = (namespace, kind, name, container)
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
    section: _Section, scope: queries.Scope, seconds: int
) -> list[WorkloadUsage] | None:
    results = await section.run(
        {
            "cpu.avg": queries.cpu_usage(scope, seconds, "avg"),
            "cpu.p95": queries.cpu_usage(scope, seconds, "p95"),
            "cpu.max": queries.cpu_usage(scope, seconds, "max"),
            "memory.avg": queries.memory_usage(scope, seconds, "avg"),
            "memory.max": queries.memory_usage(scope, seconds, "max"),
            "requests": queries.resource_quantity(scope, seconds, "requests"),
            "limits": queries.resource_quantity(scope, seconds, "limits"),
            "owners.pods": queries.pod_owners(scope, seconds),
            "owners.replicasets": queries.replicaset_owners(scope, seconds),
        }
    )
    if results is None:
        return None
    owners = _owner_map(results["owners.pods"], results["owners.replicasets"])
    return _fold(results, owners)


def _by_hpa(samples: list[Sample]) -> dict[tuple[str, str], int]:
    return {
        (s.labels.get("namespace", ""), s.labels.get("horizontalpodautoscaler", "")): round(s.value)
        for s in samples
    }


async def _scaling(
    section: _Section, scope: queries.Scope, seconds: int
) -> list[HpaActivity] | None:
    results = await section.run(
        {
            "scaling.rescales": queries.hpa_rescales(scope, seconds),
            "scaling.peakReplicas": queries.hpa_replicas(scope, seconds, "peak"),
            "scaling.minReplicas": queries.hpa_replicas(scope, seconds, "min"),
            "scaling.maxReplicas": queries.hpa_replicas(scope, seconds, "max"),
        }
    )
    if results is None:
        return None
    rescales = _by_hpa(results["scaling.rescales"])
    peak = _by_hpa(results["scaling.peakReplicas"])
    low = _by_hpa(results["scaling.minReplicas"])
    high = _by_hpa(results["scaling.maxReplicas"])
    return [
        HpaActivity(
            namespace=ns,
            name=name,
            rescales=count,
            peak_replicas=peak.get((ns, name)),
            min_replicas=low.get((ns, name)),
            max_replicas=high.get((ns, name)),
        )
        for (ns, name), count in sorted(rescales.items())
    ]


async def collect_metrics(
    client: PrometheusClient, scope: queries.Scope, window: Window
) -> MetricFacts:
    facts = MetricFacts()
    seconds = window.seconds

    def section(name: str) -> _Section:
        return _Section(client, facts, name, window.end)

    availability, (restarts, reasons), workloads, hpas = await asyncio.gather(
        _availability(section("availability"), scope, seconds),
        _restarts(section("restarts"), scope, seconds),
        _resources(section("resources"), scope, seconds),
        _scaling(section("scaling"), scope, seconds),
    )
    facts.availability, facts.restarts, facts.last_reasons = availability, restarts, reasons
    facts.workloads, facts.hpas = workloads, hpas
    return facts
