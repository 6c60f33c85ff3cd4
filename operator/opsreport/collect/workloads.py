"""Workloads, their rollouts, HPAs and nodes from the Kubernetes API, folded object by object.

A rollout is a revision created in the window: a ReplicaSet owned by a Deployment, or a
ControllerRevision owned by a StatefulSet or DaemonSet, by creation time. (A rollback reuses an
old ReplicaSet, so it is not counted: its creation time is not in the window.)
"""

from __future__ import annotations

from datetime import datetime

from opsreport.kube import Json
from opsreport.model.report import Condition, HpaActivity, Nodes, Rollout, WorkloadStatus
from opsreport.scheduling import Window, parse_rfc3339

WorkloadKey = tuple[str, str, str]  # namespace, kind, name
MAX_IMAGES = 8


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _created(obj: Json) -> datetime | None:
    text = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_rfc3339(text) if isinstance(text, str) and text else None
    except ValueError:
        return None


def _controller(obj: Json) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None


def _images(template: Json) -> list[str]:
    containers = ((template.get("spec") or {}).get("containers")) or []
    return [str(c.get("image")) for c in containers if c.get("image")][:MAX_IMAGES]


def workload_status(kind: str, obj: Json) -> WorkloadStatus:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if kind == "DaemonSet":
        desired = _int(status.get("desiredNumberScheduled"))
        ready = _int(status.get("numberReady")) or 0
        unavailable = _int(status.get("numberUnavailable")) or 0
    else:
        # spec.replicas defaults to 1; the API always fills it in, so absent means 1.
        desired = _int(spec.get("replicas"))
        desired = 1 if desired is None else desired
        ready = _int(status.get("readyReplicas")) or 0
        if kind == "Deployment":
            unavailable = _int(status.get("unavailableReplicas")) or 0
        else:
            available = _int(status.get("availableReplicas")) or 0
            unavailable = max(0, desired - available)
    return WorkloadStatus(
        namespace=str(meta.get("namespace", "")),
        kind=kind,
        name=str(meta.get("name", "")),
        desired_replicas=desired,
        ready_replicas=ready,
        unavailable_replicas=unavailable,
        rollouts=0,
    )


def rollout_of(kind: str, obj: Json, window: Window) -> Rollout | None:
    """A ReplicaSet or ControllerRevision created in the window, as the rollout it started."""
    created = _created(obj)
    owner = _controller(obj)
    if created is None or owner is None or not window.start <= created < window.end:
        return None
    owner_kind, owner_name = owner
    meta = obj.get("metadata") or {}
    if kind == "ReplicaSet":
        if owner_kind != "Deployment":
            return None
        text = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
        revision = int(text) if isinstance(text, str) and text.isdigit() else None
        template = (obj.get("spec") or {}).get("template") or {}
    else:
        if owner_kind not in ("StatefulSet", "DaemonSet"):
            return None
        revision = _int(obj.get("revision"))
        template = ((obj.get("data") or {}).get("spec") or {}).get("template") or {}
    return Rollout(
        namespace=str(meta.get("namespace", "")),
        kind=owner_kind,
        name=owner_name,
        revision=revision,
        revision_name=str(meta.get("name", "")),
        started_at=created,
        images=_images(template),
    )


def _condition(conditions: list[Json], kind: str) -> Condition | None:
    for condition in conditions:
        if condition.get("type") == kind:
            return Condition(
                status=str(condition.get("status", "Unknown")),
                reason=condition.get("reason"),
                message=(str(condition["message"])[:300] if condition.get("message") else None),
            )
    return None


def hpa_from_api(obj: Json) -> HpaActivity:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    minimum = _int(spec.get("minReplicas"))
    return HpaActivity(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        min_replicas=1 if minimum is None else minimum,  # the API's default
        max_replicas=_int(spec.get("maxReplicas")),
        current_replicas=_int(status.get("currentReplicas")),
        desired_replicas=_int(status.get("desiredReplicas")),
        able_to_scale=_condition(conditions, "AbleToScale"),
        scaling_limited=_condition(conditions, "ScalingLimited"),
    )


def fold_node(nodes: Nodes, obj: Json) -> None:
    nodes.total = (nodes.total or 0) + 1
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    if not ready:
        nodes.not_ready = (nodes.not_ready or 0) + 1
        nodes.not_ready_names.append(str((obj.get("metadata") or {}).get("name", "")))
