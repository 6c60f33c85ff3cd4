"""What the Kubernetes API shows: pods, events, HPAs, workloads and their rollouts, nodes.

Every list is read page by page (limit/continue) and each page is folded into small summaries
as it arrives, so memory holds one page of raw objects at a time whatever the cluster's size.
Each kind of object is its own section: one that cannot be read becomes a DataGap, the others
still appear.

Requests grow with pages, not namespaces: a scope of CLUSTER_WIDE_MIN_NAMESPACES or more is
read with one cluster-wide list per resource, dropping other namespaces' objects as pages
arrive; a smaller scope, or a resource whose cluster-wide list is forbidden (namespaced Roles),
is read per namespace. Four pages at a time are fetched and folded. Events are read once, through
events.k8s.io/v1 (core/v1 serves the same objects) or core/v1 when that is not served.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
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

logger = logging.getLogger(__name__)

# From this many namespaces in scope each resource is listed once cluster-wide. Below it,
# per-namespace lists (PAGES_IN_HAND at a time) cost at most two round trips and read no other
# namespace's objects, which a cluster-wide list of a large cluster would.
CLUSTER_WIDE_MIN_NAMESPACES = 5
# List pages fetched and folded at once by all of a report's lists together: 500 of the
# benchmark's pods decode to 3.6 MiB (real pods, with managedFields, to several times that), and
# the API side ends long before the Prometheus side anyway.
PAGES_IN_HAND = 4
# A refused cluster-wide list (403) or an unserved events.k8s.io is not asked again by the same
# client for this long, so a namespaced install pays the refusal once an hour, not every
# report, and still notices RBAC being widened without a restart.
FALLBACK_MEMORY_SECONDS = 3600.0
_EVENTS_API = "events.k8s.io"


@dataclass(frozen=True)
class Resource:
    prefix: str  # /api/v1, /apis/apps/v1, ...
    plural: str
    namespaced: bool = True

    @property
    def cluster_path(self) -> str:
        return f"{self.prefix}/{self.plural}"

    def namespace_path(self, namespace: str) -> str:
        return f"{self.prefix}/namespaces/{namespace}/{self.plural}"


PODS = Resource("/api/v1", "pods")
CORE_EVENTS = Resource("/api/v1", "events")
EVENTS = Resource(f"/apis/{_EVENTS_API}/v1", "events")
HPAS = Resource("/apis/autoscaling/v2", "horizontalpodautoscalers")
NODES = Resource("/api/v1", "nodes", namespaced=False)


def _apps(plural: str) -> Resource:
    return Resource("/apis/apps/v1", plural)


# Per client (the operator has one for its lifetime): what was refused, and when (monotonic).
_fallbacks: weakref.WeakKeyDictionary[KubeApi, dict[str, float]] = weakref.WeakKeyDictionary()


def _remembered(api: KubeApi, key: str) -> bool:
    since = _fallbacks.get(api, {}).get(key)
    return since is not None and time.monotonic() - since < FALLBACK_MEMORY_SECONDS


def _remember(api: KubeApi, key: str) -> None:
    _fallbacks.setdefault(api, {})[key] = time.monotonic()


class _Refused(Exception):
    """A cluster-wide list answered 403 before any object was folded."""


class _Lister:
    """Lists a resource over the scope: cluster-wide when that is allowed and worth it."""

    def __init__(self, api: KubeApi, namespaces: tuple[str, ...]) -> None:
        self.api, self.namespaces = api, namespaces
        self.scope = frozenset(namespaces)
        self.pages_in_hand = asyncio.Semaphore(PAGES_IN_HAND)

    async def _fold_pages(self, path: str, fold: Fold, label_selector: str | None = None) -> None:
        """Fold a list page by page, each page fetched and folded holding a slot: a report holds
        at most PAGES_IN_HAND decoded pages, however many lists run side by side."""
        pages = self.api.list_pages(path, label_selector=label_selector)
        try:
            while True:
                async with self.pages_in_hand:
                    try:
                        page = await anext(pages)
                    except StopAsyncIteration:
                        return
                    for item in page:
                        fold(item)
                    del page
        finally:
            await pages.aclose()

    async def each(self, resource: Resource, fold: Fold, label_selector: str | None = None) -> None:
        if not resource.namespaced:
            await self._fold_pages(resource.cluster_path, fold)
            return
        if not self.namespaces:
            return
        path = resource.cluster_path
        if len(self.namespaces) >= CLUSTER_WIDE_MIN_NAMESPACES and not _remembered(self.api, path):
            try:
                await self._cluster_wide(path, fold, label_selector)
                return
            except _Refused:
                _remember(self.api, path)
                logger.info(
                    "listing %s cluster-wide is forbidden; listing it per namespace "
                    "for the next %g s",
                    path,
                    FALLBACK_MEMORY_SECONDS,
                )
        await self._per_namespace(resource, fold, label_selector)

    async def _cluster_wide(self, path: str, fold: Fold, label_selector: str | None) -> None:
        scope, folded = self.scope, False

        def fold_in_scope(item: Json) -> None:
            nonlocal folded
            folded = True
            if (item.get("metadata") or {}).get("namespace") in scope:
                fold(item)

        try:
            await self._fold_pages(path, fold_in_scope, label_selector)
        except KubeError as error:
            # A refusal after some pages cannot fall back: those objects would be folded twice.
            if error.status == 403 and not folded:
                raise _Refused from None
            raise

    async def _per_namespace(
        self, resource: Resource, fold: Fold, label_selector: str | None
    ) -> None:
        async def one(namespace: str) -> None:
            await self._fold_pages(resource.namespace_path(namespace), fold, label_selector)

        try:
            # A TaskGroup cancels the other namespaces' lists once one fails.
            async with asyncio.TaskGroup() as group:
                for namespace in self.namespaces:
                    group.create_task(one(namespace))
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None


class _Collector:
    def __init__(self, api: KubeApi, namespaces: tuple[str, ...], window: Window) -> None:
        self.api, self.namespaces, self.window = api, namespaces, window
        self.lister = _Lister(api, namespaces)
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
            await self.lister.each(PODS, lambda pod: fold_pod(facts, pod, window), label_selector)

        if not await self.section("pods", work):
            facts.pods = Pods()
            return
        facts.pods.waiting.sort(key=lambda w: (w.namespace, w.pod, w.container))
        # Newest first; ties by name, as pages of several namespaces may arrive in any order.
        facts.pods.terminated_in_window.sort(
            key=lambda t: (
                -(t.finished_at or window.start).timestamp(),
                t.namespace,
                t.pod,
                t.container,
            )
        )

    async def events(self) -> None:
        fold = EventFold(self.window)

        async def work() -> None:
            # One list: core/v1 and events.k8s.io/v1 serve the same objects. core/v1 when
            # events.k8s.io is not served (404) or not granted (403); the fold keys both
            # shapes alike, so events already folded from a failed attempt count once.
            if not _remembered(self.api, _EVENTS_API):
                try:
                    await self.lister.each(EVENTS, fold.add)
                    return
                except KubeError as error:
                    if error.status not in (403, 404):
                        raise
                    _remember(self.api, _EVENTS_API)
                    logger.info(
                        "%s answered %d; reading Events from core/v1", EVENTS.prefix, error.status
                    )
            await self.lister.each(CORE_EVENTS, fold.add)

        if await self.section("events", work):
            self.facts.scaling_events = fold.scaling()
            self.facts.failures = fold.failures()

    async def hpas(self) -> None:
        found: dict[tuple[str, str], HpaActivity] = {}

        def fold(obj: Json) -> None:
            hpa = hpa_from_api(obj)
            found[(hpa.namespace, hpa.name)] = hpa

        if await self.section("scaling", lambda: self.lister.each(HPAS, fold)):
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
                await self.lister.each(_apps(plural), folder(kind))

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
                await self.lister.each(_apps(plural), folder(kind))

        if await self.section("rollouts", work):
            found.sort(key=lambda r: (r.started_at, r.namespace, r.name))
            self.facts.rollouts = found

    async def nodes(self) -> None:
        nodes = Nodes(total=0, not_ready=0)
        if await self.section(
            "nodes", lambda: self.lister.each(NODES, lambda n: fold_node(nodes, n))
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
