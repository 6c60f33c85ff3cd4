"""The model of a cluster and its story: what exists when, and which time queries it answers.

Everything here is the story the outputs tell: nodes, workloads, pods with their restarts, HPAs
with their rescales, dips, alerts and scrape gaps. `Story` holds them as a `Scenario`'s fields,
checks them and answers the lookups its writers share (a pod's samples times, its runs,
readiness, owners, ids). Nothing here writes a series or an object.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

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

_UUID_NAMESPACE = uuid.UUID("6f1c1d52-8d4e-4b7e-9a34-1f0d8a0c5e11")


# ------------------------------------------------------------------------------- the story


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


# ---------------------------------------------------------------------------- pods in time


@dataclass(frozen=True)
class _Instance:
    """One run of a container: a container id and its own cAdvisor series."""

    index: int  # restarts before it
    started: int
    terminated: int | None
    reason: str | None
    exit_code: int | None


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


# --------------------------------------------------------------------- time, ids and names


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


def window(end: datetime, seconds: int = DAY, *, back: int = 0) -> tuple[datetime, datetime]:
    """(start, end) of the window ending `back` windows before `end`."""
    stop = end - timedelta(seconds=seconds * back)
    return stop - timedelta(seconds=seconds), stop


# -------------------------------------------------------------------- the story as a whole


@dataclass(frozen=True)
class Story:
    """A cluster and its history: the fields of a `Scenario`, checked, and the lookups that its
    outputs (series, objects) and the oracle share.

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

    def pod_uid(self, pod: Pod) -> str:
        return _uid(self.seed, "pod", pod.namespace, pod.name)

    def _owner(self, pod: Pod) -> tuple[str, str]:
        workload = self._workloads[pod.workload]
        if workload.kind == "Deployment":
            return "ReplicaSet", f"{workload.name}-{pod.template_hash or workload.template_hash}"
        return workload.kind, workload.name

    def container_id(self, pod: Pod, container: str, index: int) -> str:
        return _digest(self.pod_uid(pod), container, index)
