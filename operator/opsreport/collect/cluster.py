"""What the Kubernetes API shows: pods' restarts, termination and waiting reasons.

Pages are folded into small summaries as they arrive, so memory holds one page of raw objects at a
time whatever the cluster's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opsreport.kube import Json, KubeApi
from opsreport.model.report import Pods, TerminatedContainer, WaitingContainer
from opsreport.scheduling import Window, parse_rfc3339


@dataclass
class ClusterFacts:
    pods: Pods = field(default_factory=Pods)
    # (namespace, pod, container) -> (last termination reason, exit code), for live pods.
    last_terminations: dict[tuple[str, str, str], tuple[str | None, int | None]] = field(
        default_factory=dict
    )


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


async def collect_cluster(
    api: KubeApi, namespaces: tuple[str, ...], label_selector: str | None, window: Window
) -> ClusterFacts:
    facts = ClusterFacts(pods=Pods(total=0, not_ready=0))
    for namespace in namespaces:
        async for page in api.list_pages(
            f"/api/v1/namespaces/{namespace}/pods", label_selector=label_selector
        ):
            for pod in page:
                fold_pod(facts, pod, window)
    facts.pods.waiting.sort(key=lambda w: (w.namespace, w.pod, w.container))
    facts.pods.terminated_in_window.sort(key=lambda t: t.finished_at or window.start, reverse=True)
    return facts
