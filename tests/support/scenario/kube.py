"""Building the Kubernetes objects for the emulator: the cluster as of `end`, and its events.

Namespaces, Nodes, Deployments with every ReplicaSet of their rollouts, StatefulSets and
DaemonSets with their ControllerRevisions, live Pods with their container statuses, HPAs, and
each event series of the history through the API that wrote it (core/v1 or events.k8s.io/v1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from tests.support.scenario.model import (
    DAY,
    HOUR,
    HPA,
    Container,
    EventSeries,
    GiB,
    KiB,
    MiB,
    Node,
    Pod,
    Story,
    Workload,
    _digest,
    _PodModel,
    _qos,
    _rfc3339,
    _uid,
)


def _cpu_quantity(cores: float) -> str:
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _memory_quantity(size: int) -> str:
    for unit, factor in (("Gi", GiB), ("Mi", MiB), ("Ki", KiB)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _image_id(image: str) -> str:
    return f"{image.rsplit(':', 1)[0]}@sha256:{_digest('image', image)}"


class KubeObjects(Story):
    """The API objects of a `Story` at its end, and the event series of its history."""

    def kube_objects(self) -> list[dict[str, Any]]:
        """The objects a `kubectl get -o json` would show at `end`, deleted pods excluded."""
        end = self.end_ts
        objects: list[dict[str, Any]] = []
        for ns in self.namespaces:
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "uid": _uid(self.seed, "namespace", ns),
                        "labels": {"kubernetes.io/metadata.name": ns},
                        "creationTimestamp": _rfc3339(self.start_ts - 30 * DAY),
                    },
                    "status": {"phase": "Active"},
                }
            )
        objects.extend(self._node_object(n) for n in self.nodes)
        for w in self.workloads:
            objects.extend(self._workload_objects(w, end))
        objects.extend(self._pod_object(m, end) for m in self._models.values() if m.alive(end))
        objects.extend(self._hpa_object(h, end) for h in self.hpas)
        objects.extend(self._events(end))
        return objects

    def _meta(self, kind: str, namespace: str, name: str, created: int) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": namespace,
            "uid": _uid(self.seed, kind, namespace, name),
            "creationTimestamp": _rfc3339(created),
        }

    def _owner_ref(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        api = "apps/v1"
        return {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": _uid(self.seed, kind, namespace, name),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _node_object(self, node: Node) -> dict[str, Any]:
        since = _rfc3339(self.start_ts - 20 * DAY)
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "uid": _uid(self.seed, "Node", node.name),
                "creationTimestamp": since,
                "labels": {
                    "kubernetes.io/hostname": node.name,
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/worker": "",
                },
            },
            "spec": {"podCIDR": node.pod_cidr},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": node.ip},
                    {"type": "Hostname", "address": node.name},
                ],
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastTransitionTime": since,
                        "lastHeartbeatTime": _rfc3339(self.end_ts - 20),
                    }
                    if node.ready
                    else {
                        "type": "Ready",
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "lastTransitionTime": since,
                        "lastHeartbeatTime": since,
                    }
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.29.4",
                    "kubeProxyVersion": "v1.29.4",
                    "containerRuntimeVersion": "containerd://1.7.13",
                    "kernelVersion": "6.1.0-18-amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }

    def _template(self, w: Workload, extra_labels: Mapping[str, str]) -> dict[str, Any]:
        return {
            "metadata": {"labels": {**w.labels, **extra_labels}},
            "spec": {"containers": [self._container_spec(c) for c in w.containers]},
        }

    @staticmethod
    def _container_spec(c: Container) -> dict[str, Any]:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if c.cpu_request is not None:
            requests["cpu"] = _cpu_quantity(c.cpu_request)
        if c.memory_request is not None:
            requests["memory"] = _memory_quantity(c.memory_request)
        if c.cpu_limit is not None:
            limits["cpu"] = _cpu_quantity(c.cpu_limit)
        if c.memory_limit is not None:
            limits["memory"] = _memory_quantity(c.memory_limit)
        resources: dict[str, Any] = {}
        if requests:
            resources["requests"] = requests
        if limits:
            resources["limits"] = limits
        return {"name": c.name, "image": c.image, "resources": resources}

    def _workload_objects(self, w: Workload, end: int) -> list[dict[str, Any]]:
        pods = [m for m in self._pods_of(w) if m.alive(end)]
        ready = sum(1 for m in pods if m.ready(end))
        created = min((m.pod.created for m in self._pods_of(w)), default=self.start_ts)
        selector = {"matchLabels": {"app": w.labels["app"]}}
        if w.kind == "Deployment":
            spec_replicas = self._spec_replicas(w, end)
            generation = self._generation(w, end)
            # RollingUpdate's default maxUnavailable is 25%, rounded down.
            available = ready >= spec_replicas - spec_replicas // 4
            meta = {**self._meta("Deployment", w.namespace, w.name, created)}
            meta["generation"] = generation
            meta["labels"] = dict(w.labels)
            status: dict[str, Any] = {
                "observedGeneration": self._generation(w, end - self.step_seconds),
                "replicas": len(pods),
                "updatedReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True" if available else "False",
                        "reason": "MinimumReplicasAvailable"
                        if available
                        else "MinimumReplicasUnavailable",
                    },
                    {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "NewReplicaSetAvailable",
                    },
                ],
            }
            if spec_replicas > ready:
                status["unavailableReplicas"] = spec_replicas - ready
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": spec_replicas,
                    "selector": selector,
                    "template": self._template(w, {}),
                    "strategy": {"type": "RollingUpdate"},
                },
                "status": status,
            }
            replicasets = []
            for revision, template_hash, rs_created in w.revisions():
                current = template_hash == w.hash_at(None)
                name = f"{w.name}-{template_hash}"
                rs_meta = self._meta(
                    "ReplicaSet", w.namespace, name, created if rs_created is None else rs_created
                )
                rs_meta["labels"] = {**w.labels, "pod-template-hash": template_hash}
                rs_meta["ownerReferences"] = [self._owner_ref("Deployment", w.namespace, w.name)]
                rs_meta["annotations"] = {"deployment.kubernetes.io/revision": str(revision)}
                replicasets.append(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": rs_meta,
                        "spec": {
                            # Old ReplicaSets are kept, scaled to zero, for rollbacks.
                            "replicas": spec_replicas if current else 0,
                            "selector": {
                                "matchLabels": {
                                    **selector["matchLabels"],
                                    "pod-template-hash": template_hash,
                                }
                            },
                            "template": self._template(w, {"pod-template-hash": template_hash}),
                        },
                        "status": {
                            "replicas": len(pods) if current else 0,
                            "readyReplicas": ready if current else 0,
                            "availableReplicas": ready if current else 0,
                            "observedGeneration": 1,
                        },
                    }
                )
            return [deployment, *replicasets]
        meta = self._meta(w.kind, w.namespace, w.name, created)
        meta["generation"] = w.generation
        meta["labels"] = dict(w.labels)
        revision_meta = self._meta(
            "ControllerRevision", w.namespace, f"{w.name}-{w.template_hash}", created
        )
        revision_meta["labels"] = dict(w.labels)
        revision_meta["ownerReferences"] = [self._owner_ref(w.kind, w.namespace, w.name)]
        controller_revision = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": revision_meta,
            "revision": w.revision,
            "data": {"spec": {"template": {**self._template(w, {}), "$patch": "replace"}}},
        }
        if w.kind == "StatefulSet":
            revision = f"{w.name}-{w.template_hash}"
            return [
                controller_revision,
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": meta,
                    "spec": {
                        "replicas": w.replicas,
                        "serviceName": w.name,
                        "selector": selector,
                        "template": self._template(w, {}),
                    },
                    "status": {
                        "observedGeneration": w.generation,
                        "replicas": len(pods),
                        "readyReplicas": ready,
                        "availableReplicas": ready,
                        "currentReplicas": len(pods),
                        "updatedReplicas": len(pods),
                        "currentRevision": revision,
                        "updateRevision": revision,
                    },
                },
            ]
        return [
            controller_revision,
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": meta,
                "spec": {"selector": selector, "template": self._template(w, {})},
                "status": {
                    "observedGeneration": w.generation,
                    "desiredNumberScheduled": len(self.nodes),
                    "currentNumberScheduled": len(pods),
                    "updatedNumberScheduled": len(pods),
                    "numberReady": ready,
                    "numberAvailable": ready,
                    "numberMisscheduled": 0,
                },
            },
        ]

    def _pod_object(self, model: _PodModel, end: int) -> dict[str, Any]:
        pod, w = model.pod, model.workload
        kind, owner = self._owner(pod)
        labels = dict(w.labels)
        if w.kind == "Deployment":
            labels["pod-template-hash"] = pod.template_hash or w.template_hash
        elif w.kind == "StatefulSet":
            labels["controller-revision-hash"] = f"{w.name}-{w.template_hash}"
            labels["statefulset.kubernetes.io/pod-name"] = pod.name
        statuses = [self._container_status(model, c, end) for c in w.containers]
        ready = model.ready(end)
        # Readiness last changed at the latest crash, restart or dip edge before `end`.
        edges = [pod.created, *(t for dip in model.dips for t in dip)]
        for c in w.containers:
            edges += [
                t
                for r in model.restarts[c.name]
                for t in (r.timestamp, r.timestamp + r.backoff_seconds)
            ]
        ready_since = max(t for t in edges if t <= end)
        condition_ready = "True" if ready else "False"
        created = _rfc3339(pod.created)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod.name,
                "namespace": pod.namespace,
                "uid": self.pod_uid(pod),
                "creationTimestamp": created,
                "labels": labels,
                "ownerReferences": [self._owner_ref(kind, pod.namespace, owner)],
            },
            "spec": {
                "nodeName": pod.node,
                "restartPolicy": "Always",
                "containers": [self._container_spec(c) for c in w.containers],
            },
            "status": {
                "phase": "Running",
                "hostIP": self._nodes[pod.node].ip,
                "podIP": pod.ip,
                "podIPs": [{"ip": pod.ip}],
                "startTime": created,
                "qosClass": _qos(w.containers),
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": created},
                    {
                        "type": "Ready",
                        "status": condition_ready,
                        "lastTransitionTime": _rfc3339(ready_since),
                    },
                    {
                        "type": "ContainersReady",
                        "status": condition_ready,
                        "lastTransitionTime": _rfc3339(ready_since),
                    },
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
                ],
                "containerStatuses": statuses,
            },
        }

    def _container_status(self, model: _PodModel, c: Container, end: int) -> dict[str, Any]:
        pod = model.pod
        count = model.restart_count(c.name, end)
        inst = model.instance_at(c.name, end)
        last = model.last_restart(c.name, end)
        status: dict[str, Any] = {
            "name": c.name,
            "image": c.image,
            "imageID": _image_id(c.image),
            # While waiting, the status still names the container that terminated last.
            "containerID": "containerd://"
            + self.container_id(pod, c.name, count if inst else count - 1),
            "restartCount": count,
            "ready": inst is not None and model.ready(end),
            "started": inst is not None,
            "lastState": {},
        }
        if inst is not None:
            status["state"] = {"running": {"startedAt": _rfc3339(inst.started)}}
        else:
            assert last is not None
            backoff = f"{last.backoff_seconds // 60}m{last.backoff_seconds % 60}s"
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": (
                        f"back-off {backoff} restarting failed container={c.name} "
                        f"pod={pod.name}_{pod.namespace}({self.pod_uid(pod)})"
                    ),
                }
            }
        if last is not None:
            runs = model.instances[c.name]
            previous = runs[count - 1]
            status["lastState"] = {
                "terminated": {
                    "reason": last.reason,
                    "exitCode": last.exit_code,
                    "startedAt": _rfc3339(previous.started),
                    "finishedAt": _rfc3339(last.timestamp),
                    "containerID": "containerd://" + self.container_id(pod, c.name, previous.index),
                }
            }
        return status

    def _hpa_object(self, hpa: HPA, end: int) -> dict[str, Any]:
        desired = hpa.desired(end)
        current = hpa.current(end)
        past = [ts for ts, _ in hpa.rescales if ts <= end]
        created = self.start_ts - 30 * DAY
        meta = self._meta("HorizontalPodAutoscaler", hpa.namespace, hpa.name, created)
        limited = desired >= hpa.max_replicas or desired <= hpa.min_replicas
        status: dict[str, Any] = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 84, "averageValue": "210m"},
                    },
                }
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "reason": "ReadyForNewScale",
                    "message": "recommended size matches current size",
                },
                {
                    "type": "ScalingActive",
                    "status": "True",
                    "reason": "ValidMetricFound",
                    "message": "the HPA was able to successfully calculate a replica count "
                    "from cpu resource utilization (percentage of request)",
                },
                {
                    "type": "ScalingLimited",
                    "status": "True" if limited else "False",
                    "reason": (
                        "TooManyReplicas"
                        if desired >= hpa.max_replicas
                        else "TooFewReplicas"
                        if desired <= hpa.min_replicas
                        else "DesiredWithinRange"
                    ),
                    "message": (
                        "the desired replica count is more than the maximum replica count"
                        if desired >= hpa.max_replicas
                        else "the desired count is within the acceptable range"
                    ),
                },
            ],
        }
        if past:
            status["lastScaleTime"] = _rfc3339(max(past))
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": hpa.target,
                },
                "minReplicas": hpa.min_replicas,
                "maxReplicas": hpa.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
            "status": status,
        }

    def _event_series(self, end: int) -> list[EventSeries]:
        """Every event series of the history up to `end`, as the cluster recorded them.

        A real API server forgets events after --event-ttl (1 h by default); these are kept
        so that tests can exercise every kind.
        """
        out: list[EventSeries] = []
        kubelet = {"component": "kubelet"}
        for model in self._models.values():
            pod = model.pod
            if not model.alive(end):
                continue
            for c in model.workload.containers:
                restarts = [
                    r for r in model.restarts[c.name] if self.start_ts <= r.timestamp <= end
                ]
                crashes = [r.timestamp for r in restarts if r.reason != "OOMKilled"]
                if crashes:
                    out.append(
                        EventSeries(
                            pod.namespace,
                            self._pod_ref(pod, c.name),
                            "BackOff",
                            f"Back-off restarting failed container {c.name} in pod "
                            f"{pod.name}_{pod.namespace}({self.pod_uid(pod)})",
                            "Warning",
                            tuple(crashes),
                            {**kubelet, "host": pod.node},
                        )
                    )
                for r in restarts:
                    if r.reason != "OOMKilled":
                        continue
                    pid = 4000 + int(_digest(pod.name, r.timestamp)[:4], 16) % 5000
                    out.append(
                        EventSeries(
                            "default",
                            {
                                "kind": "Node",
                                "name": pod.node,
                                "uid": _uid(self.seed, "Node", pod.node),
                            },
                            "OOMKilling",
                            f"Memory cgroup out of memory: Killed process {pid} ({c.name}) "
                            f"total-vm:{(c.memory_limit or 0) // KiB * 2}kB, "
                            f"anon-rss:{(c.memory_limit or 0) // KiB}kB, file-rss:0kB, "
                            f"shmem-rss:0kB, UID:0 pgtables:1024kB oom_score_adj:999",
                            "Warning",
                            (r.timestamp,),
                            {"component": "kernel-monitor", "host": pod.node},
                        )
                    )
        # Readiness probes fail every 10 s through a dip (through core/v1, as the kubelet).
        for dip in self.dips:
            for model in self._models.values():
                pod = model.pod
                if (pod.namespace, model.workload.name) != (dip.namespace, dip.workload):
                    continue
                times = tuple(t for t in range(dip.start, dip.end, 10) if model.alive(t))
                if times and self.start_ts <= times[0] and times[-1] <= end:
                    out.append(
                        EventSeries(
                            pod.namespace,
                            self._pod_ref(pod, model.workload.containers[0].name),
                            "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503",
                            "Warning",
                            times,
                            {**kubelet, "host": pod.node},
                        )
                    )
        for hpa in self.hpas:
            self._hpa_events(hpa, end, out)
        for w in self.workloads:
            self._rollout_events(w, end, out)
        out.extend(self._extra_events)
        return [e for e in out if e.times[0] >= self.start_ts and e.times[-1] <= end]

    def _hpa_events(self, hpa: HPA, end: int, out: list[EventSeries]) -> None:
        by_message: dict[str, list[int]] = defaultdict(list)
        scaled: dict[str, list[int]] = defaultdict(list)
        workload = self._workloads[(hpa.namespace, "Deployment", hpa.target)]
        previous = hpa.initial_replicas
        for ts, replicas in hpa.rescales:
            if ts > end:
                break
            up = replicas > previous
            why = (
                "cpu resource utilization (percentage of request) above target"
                if up
                else "All metrics below target"
            )
            if ts >= self.start_ts:
                by_message[f"New size: {replicas}; reason: {why}"].append(ts)
                rs = f"{workload.name}-{workload.hash_at(ts)}"
                verb = "up" if up else "down"
                scaled[f"Scaled {verb} replica set {rs} to {replicas}"].append(ts)
            previous = replicas
        about = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": hpa.name,
            "namespace": hpa.namespace,
            "uid": _uid(self.seed, "HorizontalPodAutoscaler", hpa.namespace, hpa.name),
        }
        for message, times in by_message.items():
            out.append(
                EventSeries(
                    hpa.namespace,
                    about,
                    "SuccessfulRescale",
                    message,
                    "Normal",
                    tuple(times),
                    {"component": "horizontal-pod-autoscaler"},
                )
            )
        deployment = self._deployment_ref(workload)
        for message, times in scaled.items():
            out.append(
                EventSeries(
                    hpa.namespace,
                    deployment,
                    "ScalingReplicaSet",
                    message,
                    "Normal",
                    tuple(times),
                    {"component": "deployment-controller"},
                )
            )
        # Pods of a slow rescale waited for capacity (through events.k8s.io/v1, as the scheduler).
        for ts, lag in hpa.slow:
            if not self.start_ts <= ts <= end:
                continue
            for model in self._models_by_workload[workload.key]:
                if model.pod.created != ts + lag:
                    continue
                times = tuple(range(ts + 60, min(ts + lag, end + 1), 60))
                out.append(
                    EventSeries(
                        hpa.namespace,
                        self._pod_ref(model.pod),
                        "FailedScheduling",
                        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes "
                        "are available: 3 No preemption victims found for incoming pod.",
                        "Warning",
                        times,
                        {"component": "default-scheduler"},
                        api="events",
                    )
                )

    def _pod_ref(self, pod: Pod, container: str | None = None) -> dict[str, Any]:
        ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": self.pod_uid(pod),
        }
        if container:
            ref["fieldPath"] = f"spec.containers{{{container}}}"
        return ref

    def _deployment_ref(self, w: Workload) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": w.name,
            "namespace": w.namespace,
            "uid": _uid(self.seed, "Deployment", w.namespace, w.name),
        }

    def _rollout_events(self, w: Workload, end: int, out: list[EventSeries]) -> None:
        """A rollout replaces pods one at a time: each new pod up, then one old pod down."""
        for ts, new_hash in w.rollouts:
            if not self.start_ts <= ts <= end:
                continue
            old = f"{w.name}-{w.hash_at(ts - 1)}"
            new = f"{w.name}-{new_hash}"
            created = sorted(
                m.pod.created for m in self._pods_of(w) if m.pod.template_hash == new_hash
            )
            for k, at in enumerate(created, 1):
                for verb, rs, size in (("up", new, k), ("down", old, len(created) - k)):
                    out.append(
                        EventSeries(
                            w.namespace,
                            self._deployment_ref(w),
                            "ScalingReplicaSet",
                            f"Scaled {verb} replica set {rs} to {size}",
                            "Normal",
                            (at,),
                            {"component": "deployment-controller"},
                        )
                    )

    @cached_property
    def _extra_events(self) -> list[EventSeries]:
        """Events with no other trace in the history (a mount that failed and then worked)."""
        out: list[EventSeries] = []
        for model in self._models.values():
            pod = model.pod
            if pod.name != "ledger-1":
                continue
            at = self.end_ts - 3 * HOUR
            out.append(
                EventSeries(
                    pod.namespace,
                    self._pod_ref(pod),
                    "FailedMount",
                    'MountVolume.SetUp failed for volume "backup-config" : configmap '
                    '"ledger-backup" not found',
                    "Warning",
                    (at, at + 120, at + 240),
                    {"component": "kubelet", "host": pod.node},
                )
            )
        return out

    def _events(self, end: int) -> list[dict[str, Any]]:
        """Each event series as the object its writer posted (`EventSeries.api`): a core/v1 Event,
        or an events.k8s.io/v1 one with eventTime and series. The API server (and the emulator)
        serves each through the other API too, converted; seeding both would be a conflict."""
        objects: list[dict[str, Any]] = []
        for e in self._event_series(end):
            name = f"{e.involved['name']}.{_digest(e.reason, e.message, e.times[0])[:16]}"
            meta = {
                "name": name,
                "namespace": e.namespace,
                "uid": _uid(self.seed, "Event", e.namespace, name),
                "creationTimestamp": _rfc3339(e.times[0]),
            }
            instance = e.source.get("host", e.source["component"])
            if e.api == "core":
                objects.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": meta,
                        "involvedObject": e.involved,
                        "reason": e.reason,
                        "message": e.message,
                        "type": e.type,
                        "count": len(e.times),
                        "firstTimestamp": _rfc3339(e.times[0]),
                        "lastTimestamp": _rfc3339(e.times[-1]),
                        "source": e.source,
                        "reportingComponent": e.source["component"],
                        "reportingInstance": instance,
                    }
                )
                continue
            view: dict[str, Any] = {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": meta,
                "regarding": e.involved,
                "reason": e.reason,
                "note": e.message,
                "type": e.type,
                "eventTime": _rfc3339(e.times[0]).replace("Z", ".000000Z"),
                "action": "Scheduling",
                "reportingController": e.source["component"],
                "reportingInstance": instance,
            }
            if len(e.times) > 1:
                view["series"] = {"count": len(e.times), "lastObservedTime": _rfc3339(e.times[-1])}
            objects.append(view)
        objects.sort(key=lambda o: (o["apiVersion"], o["metadata"]["name"]))
        return objects
