"""CPU and memory per workload container against requests and limits, and CPU throttling."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import fmean

from opsreport.collect import queries
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import Context, Owners, Section, container, fixed, named
from opsreport.model.report import CpuUsage, MemoryUsage, WorkloadUsage

WorkloadKey = tuple[str, str, str, str]  # namespace, kind, name, container

NO_USAGE = (
    "no container CPU or memory series with namespace, pod and container labels in scope"
    " (the kubelet's cAdvisor or resource endpoint; a standalone cAdvisor writes none)"
)
NO_CFS = "no CFS period series (cAdvisor) for containers with a CPU limit"

# kube-state-metrics before 2.8 writes an owner-less object's owner as "<none>"; from 2.8 the
# labels are empty, which Prometheus stores as absent.
_NO_OWNER = ("", "<none>")


def owner_map(rows: list[Sample]) -> Owners:
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
    namespace, pod, name = container(sample)
    kind, workload = owners.get((namespace, pod), ("Pod", pod))
    return namespace, kind, workload, name


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
            container=container_name,
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
        for (namespace, kind, name, container_name), group in groups.items()
    ]
    workloads.sort(key=lambda w: (w.namespace, w.kind, w.name, w.container))
    return workloads


def _add_throttling(
    ctx: Context, workloads: list[WorkloadUsage], owners: Owners, results: dict[str, list[Sample]]
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
        ctx.run.gap("throttling", NO_CFS)


async def _figures(ctx: Context) -> None:
    scope, seconds = ctx.scope, ctx.seconds
    usage = ctx.run.instant(
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
    throttling = ctx.run.instant(
        "throttling",
        {
            "cpu.throttledPeriods": queries.cpu_throttling(scope, seconds, "throttled"),
            "cpu.periods": queries.cpu_throttling(scope, seconds, "periods"),
        },
    )
    results, throttled = await asyncio.gather(usage, throttling)
    if results is None:
        return
    owners = owner_map(results.pop("owners"))
    workloads = _fold(results, owners)
    if not workloads:
        ctx.run.gap("resources", NO_USAGE)
    if throttled is not None:
        _add_throttling(ctx, workloads, owners, throttled)
    ctx.facts.workloads = workloads


SECTION = Section(
    name="resources",
    budget=fixed(10),  # CPU 3, memory 2, requests, limits, owners; throttling 2
    gaps=named("resources"),
    figures=_figures,
)
