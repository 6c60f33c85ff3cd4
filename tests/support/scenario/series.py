"""Writing series: the OpenMetrics families of a scenario's history, as Prometheus scraped them.

kube-state-metrics v2 (through kube-prometheus' ServiceMonitor: `KSM_TARGET` with honorLabels),
the kubelet's cAdvisor (CPU, memory, CFS throttling; one set of target labels per job in
`cadvisor_jobs`), scrape targets' `up`, an application's request counter and latency histogram,
and `ALERTS`. CPU and memory come from a per-pod simulation with seeded noise.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tests.support.openmetrics import MetricType, OpenMetricsWriter, Sample, format_value
from tests.support.scenario.model import (
    DAY,
    MINUTE,
    Container,
    KiB,
    Node,
    Pod,
    Story,
    Workload,
    _digest,
    _Instance,
    _qos,
    _uid,
)
from tests.support.scenario.names import (
    ALERTS,
    CFS_PERIODS_PER_SECOND,
    CPU,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    LATENCY_BUCKETS,
    MEMORY,
    PERIODS,
    RESTARTS,
    THROTTLED,
    UP,
)

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


@dataclass
class _Series:
    labels: dict[str, str]
    times: list[int]
    values: list[float]


SeriesSource = Callable[[], Iterator[tuple[dict[str, str], Iterable[Sample]]]]


@dataclass(frozen=True)
class _Family:
    name: str
    type: MetricType
    help: str
    series: SeriesSource


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


class SeriesWriter(Story):
    """The series of a `Story`: simulated per pod, streamed family by family."""

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

    def _hpa_family(self, suffix: str) -> SeriesSource:
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

    def _dep(self, suffix: str) -> SeriesSource:
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
            yield (
                self._scrape_labels(pod),
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
