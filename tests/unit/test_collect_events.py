"""Folding Kubernetes objects: events of both APIs, workloads, rollouts, HPAs, nodes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsreport.collect.events import MAX_FAILURE_ROWS, EventFold, normalize
from opsreport.collect.workloads import fold_node, hpa_from_api, rollout_of, workload_status
from opsreport.model.report import Nodes
from opsreport.scheduling import Window

WINDOW = Window(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
POD = {"kind": "Pod", "name": "web-1", "namespace": "shop"}


def core(reason: str, first: str, last: str, count: int, message: str = "m") -> dict[str, Any]:
    return {
        "metadata": {"name": "e", "namespace": "shop", "creationTimestamp": first},
        "involvedObject": POD,
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": count,
        "firstTimestamp": first,
        "lastTimestamp": last,
    }


def new_api(reason: str, first: str, series: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "metadata": {"name": "e", "namespace": "shop"},
        "regarding": POD,
        "reason": reason,
        "note": "m",
        "type": "Warning",
        "eventTime": first,
    }
    if series:
        event["series"] = series
    return event


def test_both_apis_read_the_same() -> None:
    old = normalize(core("BackOff", "2026-03-02T01:00:00Z", "2026-03-02T02:00:00Z", 7))
    new = normalize(
        new_api(
            "BackOff",
            "2026-03-02T01:00:00.000000Z",
            {"count": 7, "lastObservedTime": "2026-03-02T02:00:00.000000Z"},
        )
    )
    assert old == new
    assert old is not None
    assert (old.kind, old.name, old.count) == ("Pod", "web-1", 7)
    # The events.k8s.io view of an event written through core/v1 carries its counts as
    # deprecated fields and no eventTime.
    mirrored = {
        **new_api("BackOff", ""),
        "eventTime": None,
        "deprecatedCount": 7,
        "deprecatedFirstTimestamp": "2026-03-02T01:00:00Z",
        "deprecatedLastTimestamp": "2026-03-02T02:00:00Z",
    }
    assert normalize(mirrored) == old
    assert normalize(core("Pulled", "2026-03-02T01:00:00Z", "2026-03-02T01:00:00Z", 1)) is None


def test_events_are_placed_by_their_first_and_last_times() -> None:
    fold = EventFold(WINDOW)
    fold.add(core("BackOff", "2026-03-02T01:00:00Z", "2026-03-02T05:00:00Z", 4, "inside"))
    fold.add(core("BackOff", "2026-03-01T20:00:00Z", "2026-03-02T05:00:00Z", 9, "straddles"))
    fold.add(core("BackOff", "2026-03-01T01:00:00Z", "2026-03-01T05:00:00Z", 3, "before"))
    fold.add(core("BackOff", "2026-03-03T01:00:00Z", "2026-03-03T05:00:00Z", 3, "after"))
    failures = fold.failures()
    assert {e.message: e.count_in_window for e in failures.top} == {"inside": 4, "straddles": None}
    assert failures.by_reason == {"BackOff": 4 + 1}  # the straddling series: at least its last
    assert not failures.exact
    assert failures.series == 2


def test_one_series_seen_through_both_apis_counts_once_as_its_later_view() -> None:
    fold = EventFold(WINDOW)
    fold.add(core("Unhealthy", "2026-03-02T01:00:00Z", "2026-03-02T01:10:00Z", 60))
    fold.add(
        new_api(
            "Unhealthy",
            "2026-03-02T01:00:00Z",
            {"count": 61, "lastObservedTime": "2026-03-02T01:10:10Z"},
        )
    )
    [event] = fold.failures().top
    assert event.count == 61
    # Different messages in the same second are different events.
    fold.add(core("Unhealthy", "2026-03-02T01:00:00Z", "2026-03-02T01:00:00Z", 1, "other"))
    assert fold.failures().series == 2


def test_scaling_events_newest_first_and_failures_capped() -> None:
    fold = EventFold(WINDOW)
    for hour in range(3):
        time = f"2026-03-02T0{hour}:00:00Z"
        fold.add({**core("SuccessfulRescale", time, time, 1, f"New size: {hour}")})
    for n in range(MAX_FAILURE_ROWS + 5):
        fold.add(core("FailedMount", "2026-03-02T01:00:00Z", "2026-03-02T01:00:00Z", n + 1, f"{n}"))
    assert [e.message for e in fold.scaling()] == ["New size: 2", "New size: 1", "New size: 0"]
    failures = fold.failures()
    assert len(failures.top) == MAX_FAILURE_ROWS
    assert failures.top[0].count == MAX_FAILURE_ROWS + 5
    assert failures.series == MAX_FAILURE_ROWS + 5
    assert failures.by_reason == {"FailedMount": sum(range(1, MAX_FAILURE_ROWS + 6))}
    assert failures.exact


def _meta(name: str, created: str, owner: tuple[str, str] | None = None, **extra: Any) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "creationTimestamp": created}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {**meta, **extra}


def test_rollouts_are_revisions_created_in_the_window() -> None:
    template = {"spec": {"containers": [{"image": "web:2"}, {"image": "envoy:1"}]}}
    rs = {
        "metadata": _meta(
            "web-abc",
            "2026-03-02T10:00:00Z",
            ("Deployment", "web"),
            annotations={"deployment.kubernetes.io/revision": "12"},
        ),
        "spec": {"template": template},
    }
    rollout = rollout_of("ReplicaSet", rs, WINDOW)
    assert rollout is not None
    assert (rollout.kind, rollout.name, rollout.revision, rollout.images) == (
        "Deployment",
        "web",
        12,
        ["web:2", "envoy:1"],
    )
    old = {**rs, "metadata": {**rs["metadata"], "creationTimestamp": "2026-03-01T10:00:00Z"}}
    assert rollout_of("ReplicaSet", old, WINDOW) is None
    bare = {**rs, "metadata": _meta("lonely", "2026-03-02T10:00:00Z")}
    assert rollout_of("ReplicaSet", bare, WINDOW) is None  # no Deployment: not a rollout
    revision = {
        "metadata": _meta("db-7f", "2026-03-02T11:00:00Z", ("StatefulSet", "db")),
        "revision": 3,
        "data": {"spec": {"template": {"spec": {"containers": [{"image": "pg:16"}]}}}},
    }
    found = rollout_of("ControllerRevision", revision, WINDOW)
    assert found is not None
    assert (found.kind, found.name, found.revision, found.images) == (
        "StatefulSet",
        "db",
        3,
        ["pg:16"],
    )


def test_workload_replicas_now() -> None:
    deployment = {"metadata": _meta("web", ""), "spec": {}, "status": {"readyReplicas": 0}}
    status = workload_status("Deployment", deployment)
    assert (status.desired_replicas, status.ready_replicas, status.unavailable_replicas) == (
        1,
        0,
        0,
    )
    stateful = {
        "metadata": _meta("db", ""),
        "spec": {"replicas": 3},
        "status": {"availableReplicas": 1},
    }
    assert workload_status("StatefulSet", stateful).unavailable_replicas == 2
    daemons = {
        "metadata": _meta("agent", ""),
        "status": {"desiredNumberScheduled": 4, "numberReady": 3, "numberUnavailable": 1},
    }
    status = workload_status("DaemonSet", daemons)
    assert (status.desired_replicas, status.ready_replicas, status.unavailable_replicas) == (
        4,
        3,
        1,
    )


def test_hpa_and_nodes() -> None:
    hpa = hpa_from_api(
        {
            "metadata": _meta("web", ""),
            "spec": {"maxReplicas": 5},
            "status": {
                "currentReplicas": 2,
                "desiredReplicas": 3,
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "ScaleDownStabilized"},
                    {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"},
                ],
            },
        }
    )
    assert (hpa.min_replicas, hpa.max_replicas, hpa.current_replicas, hpa.desired_replicas) == (
        1,
        5,
        2,
        3,
    )
    assert hpa.able_to_scale is not None
    assert hpa.able_to_scale.reason == "ScaleDownStabilized"
    assert hpa.scaling_limited is not None
    assert hpa.scaling_limited.status == "False"
    nodes = Nodes(total=0, not_ready=0)
    fold_node(
        nodes,
        {
            "metadata": {"name": "a"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    )
    fold_node(
        nodes,
        {
            "metadata": {"name": "b"},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
        },
    )
    fold_node(nodes, {"metadata": {"name": "c"}, "status": {}})
    assert (nodes.total, nodes.not_ready, nodes.not_ready_names) == (3, 2, ["b", "c"])
