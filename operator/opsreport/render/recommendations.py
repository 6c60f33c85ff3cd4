"""Rule-based recommendations from a report's own figures, each explained with its numbers.

Pure functions of ReportData. A rule only fires on figures that were measured: a missing figure
never produces advice. The thresholds keep advice to changes worth a deploy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from opsreport.model.report import HpaActivity, ReportData, WorkloadUsage
from opsreport.render.filters import bytes_iec, cores, human_duration

Priority = Literal["high", "medium", "low"]
Kind = Literal["cpu-request", "memory-request", "memory-limit", "oom", "hpa-max", "crashloop"]

# Right-size only when the change is at least this share of the current value, and this large.
RELATIVE_SLACK = 0.3
MIN_CPU_CHANGE = 0.05  # cores
MIN_MEMORY_CHANGE = 32 * 2**20  # bytes
MEMORY_HEADROOM = 1.15  # memory request and limit: the peak plus 15%
OOM_LIMIT_GROWTH = 1.25  # after an OOMKill the peak seen is the limit, so grow from the limit
CPU_STEP = 0.01  # round CPU up to 10m
MEMORY_STEP = 2**20  # round memory up to 1 MiB

_ORDER: dict[Priority, int] = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Recommendation:
    kind: Kind
    priority: Priority
    target: str  # what to change, e.g. `shop/api (Deployment), container api`
    action: str  # the change, one sentence
    evidence: str  # the measured figures behind it


def _round_up(value: float, step: float) -> float:
    return max(step, math.ceil(value / step - 1e-9) * step)


def _target(w: WorkloadUsage) -> str:
    return f"{w.namespace}/{w.name} ({w.kind}), container {w.container}"


def _changed_enough(new: float, old: float, minimum: float) -> bool:
    return abs(new - old) >= minimum and abs(new - old) > RELATIVE_SLACK * old


def _cpu_request(w: WorkloadUsage) -> Recommendation | None:
    p95, request = w.cpu.p95, w.cpu.request
    if p95 is None:
        return None
    new = _round_up(p95, CPU_STEP)
    peak = f", peak {cores(w.cpu.max)}" if w.cpu.max is not None else ""
    if request is None:
        return Recommendation(
            "cpu-request",
            "medium",
            _target(w),
            f"Set a CPU request of {cores(new)}.",
            f"It has no CPU request, so the scheduler places it as if it used none;"
            f" its p95 was {cores(p95)}{peak} over the window.",
        )
    if not _changed_enough(new, request, MIN_CPU_CHANGE):
        return None
    if new > request:
        return Recommendation(
            "cpu-request",
            "high",
            _target(w),
            f"Raise the CPU request from {cores(request)} to {cores(new)}.",
            f"Its p95 was {cores(p95)}{peak}, above the request of {cores(request)}:"
            " under contention it gets less CPU than it uses.",
        )
    idle = 100 * (1 - p95 / request)
    return Recommendation(
        "cpu-request",
        "low",
        _target(w),
        f"Lower the CPU request from {cores(request)} to {cores(new)}.",
        f"Its p95 was {cores(p95)}{peak}: {idle:.0f}% of the request went unused at the 95th"
        " percentile.",
    )


def _memory_request(w: WorkloadUsage) -> Recommendation | None:
    peak, request = w.memory.max, w.memory.request
    if peak is None:
        return None
    new = _round_up(peak * MEMORY_HEADROOM, MEMORY_STEP)
    basis = f"its working set peaked at {bytes_iec(peak)}; the peak plus 15% is {bytes_iec(new)}"
    if request is None:
        return Recommendation(
            "memory-request",
            "medium",
            _target(w),
            f"Set a memory request of {bytes_iec(new)}.",
            f"It has no memory request; {basis}.",
        )
    if not _changed_enough(new, request, MIN_MEMORY_CHANGE):
        return None
    verb = "Raise" if new > request else "Lower"
    return Recommendation(
        "memory-request",
        "medium" if new > request else "low",
        _target(w),
        f"{verb} the memory request from {bytes_iec(request)} to {bytes_iec(new)}.",
        f"The request is {bytes_iec(request)}; {basis}.",
    )


def _memory_limit(w: WorkloadUsage) -> Recommendation | None:
    if w.memory.limit is not None or w.memory.max is None:
        return None
    new = _round_up(max(w.memory.max * MEMORY_HEADROOM, w.memory.request or 0), MEMORY_STEP)
    return Recommendation(
        "memory-limit",
        "medium",
        _target(w),
        f"Add a memory limit of {bytes_iec(new)}.",
        f"It has no memory limit, so a leak can take the node's memory; its working set peaked"
        f" at {bytes_iec(w.memory.max)} (limit = peak + 15%, at least the request).",
    )


WorkloadIndex = dict[tuple[str, str, str], WorkloadUsage]


def _workload_index(report: ReportData) -> WorkloadIndex:
    """Usage rows by (namespace, container, workload name); the first row wins a tie."""
    index: WorkloadIndex = {}
    for w in report.resources.workloads:
        index.setdefault((w.namespace, w.container, w.name), w)
    return index


def _workload_of(
    index: WorkloadIndex, namespace: str, pod: str, container: str
) -> WorkloadUsage | None:
    """The workload a pod belongs to, by name: `api-7d9f-x2` and `db-0` start with `api-`, `db-`.

    The longest name that is the pod's name or a prefix of it ending before a `-`; looked up per
    prefix rather than by scanning every workload, which grew with the square of the workloads.
    """
    ends = [len(pod), *(i for i in range(len(pod) - 1, -1, -1) if pod[i] == "-")]
    for end in ends:
        found = index.get((namespace, container, pod[:end]))
        if found is not None:
            return found
    return None


def _oom_kills(report: ReportData) -> dict[tuple[str, str, str], int]:
    """OOMKilled restarts per (namespace, pod, container) from Prometheus and the API."""
    kills: dict[tuple[str, str, str], int] = {}
    for row in report.restarts.top:
        if row.last_reason == "OOMKilled":
            kills[(row.namespace, row.pod, row.container)] = row.restarts
    for t in report.pods.terminated_in_window:
        if t.reason == "OOMKilled":
            kills.setdefault((t.namespace, t.pod, t.container), 1)
    return kills


def _oom(report: ReportData) -> list[Recommendation]:
    by_workload: dict[str, tuple[WorkloadUsage | None, str, int]] = {}
    index = _workload_index(report)
    for (namespace, pod, container), count in _oom_kills(report).items():
        workload = _workload_of(index, namespace, pod, container)
        key = _target(workload) if workload else f"{namespace}/{pod}, container {container}"
        _, _, seen = by_workload.get(key, (workload, pod, 0))
        by_workload[key] = (workload, pod, seen + count)
    recommendations = []
    for target, (workload, pod, count) in sorted(by_workload.items()):
        times = "once" if count == 1 else f"{count} times"
        if workload is None or workload.memory.limit is None:
            recommendations.append(
                Recommendation(
                    "oom",
                    "high",
                    target,
                    "Raise its memory limit, or find what allocates.",
                    f"It was OOMKilled {times} in the window (pod {pod}); its usage and limit were"
                    " not measured.",
                )
            )
            continue
        limit = workload.memory.limit
        new = _round_up(
            max(limit * OOM_LIMIT_GROWTH, (workload.memory.max or 0) * MEMORY_HEADROOM), MEMORY_STEP
        )
        peak = (
            f"; its working set peaked at {bytes_iec(workload.memory.max)}"
            if workload.memory.max is not None
            else ""
        )
        recommendations.append(
            Recommendation(
                "oom",
                "high",
                target,
                f"Raise the memory limit from {bytes_iec(limit)} to {bytes_iec(new)} (+25%),"
                " or find what allocates.",
                f"It was OOMKilled {times} in the window with a limit of {bytes_iec(limit)}{peak}"
                " (a sample rarely catches the moment of the kill).",
            )
        )
    return recommendations


def _hpa_at_max(hpa: HpaActivity) -> Recommendation | None:
    if hpa.max_replicas is None or hpa.peak_replicas is None or hpa.max_replicas <= 0:
        return None
    if hpa.peak_replicas < hpa.max_replicas:
        return None
    at_max = hpa.seconds_at_max
    duration = f" and stayed there for {human_duration(at_max)}" if at_max else ""
    suggestion = math.ceil(hpa.max_replicas * 1.5)
    rescaled = ""
    if hpa.rescales is not None:
        rescaled = (
            f"; it rescaled {hpa.rescales} time{'s' if hpa.rescales != 1 else ''} in the window"
        )
    return Recommendation(
        "hpa-max",
        "high" if at_max and at_max >= 3600 else "medium",
        f"{hpa.namespace}/{hpa.name} (HorizontalPodAutoscaler)",
        f"Raise maxReplicas above {hpa.max_replicas} (for example to {suggestion}),"
        " or make each replica handle more load.",
        f"It reached its maximum of {hpa.max_replicas} replicas{duration}{rescaled}."
        " At the maximum it cannot add capacity when load grows.",
    )


def _crashloops(report: ReportData) -> list[Recommendation]:
    restarts = {(r.namespace, r.pod, r.container): r for r in report.restarts.top}
    recommendations = []
    for waiting in report.pods.waiting:
        if waiting.reason != "CrashLoopBackOff":
            continue
        row = restarts.get((waiting.namespace, waiting.pod, waiting.container))
        history = ""
        if row is not None:
            exit_code = f", exit code {row.exit_code}" if row.exit_code is not None else ""
            history = (
                f"; it restarted {row.restarts} time{'s' if row.restarts != 1 else ''} in the"
                f" window, last terminated {row.last_reason or 'for an unknown reason'}{exit_code}"
            )
        recommendations.append(
            Recommendation(
                "crashloop",
                "high",
                f"{waiting.namespace}/{waiting.pod}, container {waiting.container}",
                f"Investigate the crash: `kubectl logs -n {waiting.namespace} {waiting.pod}"
                f" -c {waiting.container} --previous`.",
                f"It is in CrashLoopBackOff now{history}.",
            )
        )
    return recommendations


def _per_workload(workloads: Iterable[WorkloadUsage]) -> list[Recommendation]:
    found = []
    for w in workloads:
        for rule in (_cpu_request, _memory_request, _memory_limit):
            recommendation = rule(w)
            if recommendation is not None:
                found.append(recommendation)
    return found


def recommend(report: ReportData) -> list[Recommendation]:
    """Every recommendation the report's figures support, most urgent first."""
    found = [
        *_crashloops(report),
        *_oom(report),
        *(r for hpa in report.scaling.hpas or [] if (r := _hpa_at_max(hpa)) is not None),
        *_per_workload(report.resources.workloads),
    ]
    return sorted(found, key=lambda r: (_ORDER[r.priority], r.target, r.kind))
