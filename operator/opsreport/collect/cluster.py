"""What the Kubernetes API shows: pods, events, HPAs, workloads and their rollouts, nodes.

Every list is read page by page (limit/continue) and each page is folded into small summaries
as it arrives, so memory holds one page of raw objects at a time whatever the cluster's size.
Each kind of object is its own section: one that cannot be read becomes a DataGap, the others
still appear.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from opsreport.collect.events import EventFold
from opsreport.collect.workloads import (
    WorkloadKey,
    fold_node,
    hpa_from_api,
    rollout_of,
    workload_status,
)
from opsreport.kube import Json, KubeApi, KubeError
from opsreport.model.report import (
    DataGap,
    FailureEvents,
    HpaActivity,
    KubeEvent,
    Nodes,
    Pods,
    Rollout,
    TerminatedContainer,
    WaitingContainer,
    WorkloadStatus,
)
from opsreport.scheduling import Window, parse_rfc3339


@dataclass
class ClusterFacts:
    pods: Pods = field(default_factory=Pods)
    # (namespace, pod, container) -> (last termination reason, exit code), for live pods.
    last_terminations: dict[tuple[str, str, str], tuple[str | None, int | None]] = field(
        default_factory=dict
    )
    hpas: dict[tuple[str, str], HpaActivity] | None = None
    scaling_events: list[KubeEvent] | None = None
    failures: FailureEvents | None = None
    workloads: dict[WorkloadKey, WorkloadStatus] | None = None
    rollouts: list[Rollout] | None = None
    nodes: Nodes = field(default_factory=Nodes)
    gaps: list[DataGap] = field(default_factory=list)


def _timestamp(value: object) -> datetime | None:
    return parse_rfc3339(value) if isinstance(value, str) and value else None


def _is_ready(pod: Json) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def fold_pod(facts: ClusterFacts, pod: Json, window: Window) -> None:
    meta = pod.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    status = pod.get("status") or {}
    summary = facts.pods
    summary.total = (summary.total or 0) + 1
    if status.get("phase") != "Succeeded" and not _is_ready(pod):
        summary.not_ready = (summary.not_ready or 0) + 1
    for container in status.get("containerStatuses") or []:
        cname = str(container.get("name", ""))
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            summary.waiting.append(
                WaitingContainer(
                    namespace=namespace, pod=name, container=cname, reason=waiting["reason"]
                )
            )
        terminated = (container.get("lastState") or {}).get("terminated") or {}
        if not terminated:
            continue
        reason = terminated.get("reason")
        exit_code = terminated.get("exitCode")
        facts.last_terminations[(namespace, name, cname)] = (reason, exit_code)
        finished = _timestamp(terminated.get("finishedAt"))
        if finished is not None and window.start <= finished <= window.end:
            summary.terminated_in_window.append(
                TerminatedContainer(
                    namespace=namespace,
                    pod=name,
                    container=cname,
                    reason=reason,
                    exit_code=exit_code,
                    finished_at=finished,
                    lifetime_restarts=int(container.get("restartCount") or 0),
                )
            )


Fold = Callable[[Json], None]


async def _each(
    api: KubeApi, paths: list[str], fold: Fold, label_selector: str | None = None
) -> None:
    for path in paths:
        async for page in api.list_pages(path, label_selector=label_selector):
            for item in page:
                fold(item)


def _paths(namespaces: tuple[str, ...], prefix: str, plural: str) -> list[str]:
    return [f"{prefix}/namespaces/{namespace}/{plural}" for namespace in namespaces]


class _Collector:
    def __init__(self, api: KubeApi, namespaces: tuple[str, ...], window: Window) -> None:
        self.api, self.namespaces, self.window = api, namespaces, window
        self.facts = ClusterFacts(pods=Pods(total=0, not_ready=0))

    async def section(self, name: str, work: Callable[[], Awaitable[None]]) -> bool:
        try:
            await work()
        except KubeError as error:
            self.facts.gaps.append(DataGap(section=name, source="kubernetes", reason=str(error)))
            return False
        return True

    async def pods(self, label_selector: str | None) -> None:
        facts, window = self.facts, self.window

        async def work() -> None:
            await _each(
                self.api,
                _paths(self.namespaces, "/api/v1", "pods"),
                lambda pod: fold_pod(facts, pod, window),
                label_selector,
            )

        if not await self.section("pods", work):
            facts.pods = Pods()
            return
        facts.pods.waiting.sort(key=lambda w: (w.namespace, w.pod, w.container))
        facts.pods.terminated_in_window.sort(
            key=lambda t: t.finished_at or window.start, reverse=True
        )

    async def events(self) -> None:
        fold = EventFold(self.window)

        async def work() -> None:
            await _each(self.api, _paths(self.namespaces, "/api/v1", "events"), fold.add)
            try:
                await _each(
                    self.api, _paths(self.namespaces, "/apis/events.k8s.io/v1", "events"), fold.add
                )
            except KubeError as error:
                if error.status != 404:  # a cluster without events.k8s.io: core/v1 has them all
                    raise

        if await self.section("events", work):
            self.facts.scaling_events = fold.scaling()
            self.facts.failures = fold.failures()

    async def hpas(self) -> None:
        found: dict[tuple[str, str], HpaActivity] = {}

        def fold(obj: Json) -> None:
            hpa = hpa_from_api(obj)
            found[(hpa.namespace, hpa.name)] = hpa

        paths = _paths(self.namespaces, "/apis/autoscaling/v2", "horizontalpodautoscalers")
        if await self.section("scaling", lambda: _each(self.api, paths, fold)):
            self.facts.hpas = found

    async def workloads(self) -> None:
        found: dict[WorkloadKey, WorkloadStatus] = {}

        def folder(kind: str) -> Fold:
            def fold(obj: Json) -> None:
                status = workload_status(kind, obj)
                found[(status.namespace, kind, status.name)] = status

            return fold

        async def work() -> None:
            for kind, plural in (
                ("Deployment", "deployments"),
                ("StatefulSet", "statefulsets"),
                ("DaemonSet", "daemonsets"),
            ):
                await _each(
                    self.api, _paths(self.namespaces, "/apis/apps/v1", plural), folder(kind)
                )

        if await self.section("workloads", work):
            self.facts.workloads = found

    async def rollouts(self) -> None:
        found: list[Rollout] = []

        def folder(kind: str) -> Fold:
            def fold(obj: Json) -> None:
                rollout = rollout_of(kind, obj, self.window)
                if rollout is not None:
                    found.append(rollout)

            return fold

        async def work() -> None:
            for kind, plural in (
                ("ReplicaSet", "replicasets"),
                ("ControllerRevision", "controllerrevisions"),
            ):
                await _each(
                    self.api, _paths(self.namespaces, "/apis/apps/v1", plural), folder(kind)
                )

        if await self.section("rollouts", work):
            found.sort(key=lambda r: (r.started_at, r.namespace, r.name))
            self.facts.rollouts = found

    async def nodes(self) -> None:
        nodes = Nodes(total=0, not_ready=0)
        if await self.section(
            "nodes", lambda: _each(self.api, ["/api/v1/nodes"], lambda n: fold_node(nodes, n))
        ):
            nodes.not_ready_names.sort()
            self.facts.nodes = nodes


async def collect_cluster(
    api: KubeApi, namespaces: tuple[str, ...], label_selector: str | None, window: Window
) -> ClusterFacts:
    collector = _Collector(api, namespaces, window)
    await asyncio.gather(
        collector.pods(label_selector),
        collector.events(),
        collector.hpas(),
        collector.workloads(),
        collector.rollouts(),
        collector.nodes(),
    )
    facts = collector.facts
    if facts.workloads is not None and facts.rollouts is not None:
        for rollout in facts.rollouts:
            status = facts.workloads.get((rollout.namespace, rollout.kind, rollout.name))
            if status is not None:
                status.rollouts = (status.rollouts or 0) + 1
    elif facts.workloads is not None:
        for status in facts.workloads.values():
            status.rollouts = None
    return facts
