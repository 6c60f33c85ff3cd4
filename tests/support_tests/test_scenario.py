"""The scenario generator on its own: determinism, file format, objects, emulated PromQL."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.scenario import MiB, Pod, Scenario, window
from tests.support.scenario.oracle import _histogram_quantile

END = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return Scenario.demo(END)


@pytest.fixture(scope="module")
def objects(demo: Scenario) -> list[dict[str, Any]]:
    return demo.kube_objects()


def _of_kind(objects: list[dict[str, Any]], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] == kind
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_small_scenarios_are_byte_identical_across_instances(tmp_path: Path) -> None:
    first, second = tmp_path / "a.om", tmp_path / "b.om"
    Scenario.scaled(5, END).write_openmetrics(first)
    Scenario.scaled(5, END).write_openmetrics(second)
    assert _sha256(first) == _sha256(second)


def test_demo_is_deterministic(demo: Scenario, objects: list[dict[str, Any]]) -> None:
    again = Scenario.demo(END)
    assert again.cache_key() == demo.cache_key()
    assert again.kube_objects() == objects
    assert Scenario.demo(END, seed=2).cache_key() != demo.cache_key()
    assert dataclasses.replace(demo, extend_seconds=300).cache_key() != demo.cache_key()


def test_openmetrics_file_is_what_promtool_needs(tmp_path: Path) -> None:
    scenario = Scenario.scaled(6, END, extend_seconds=240)
    path = tmp_path / "history.om"
    scenario.write_openmetrics(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# TYPE ")
    assert lines[-1] == "# EOF"
    families: list[str] = []
    last: dict[str, int] = defaultdict(lambda: -1)
    counters: set[str] = set()
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            families.append(name)
            if kind == "counter":
                counters.add(name)
            continue
        if line.startswith("#"):
            continue
        series, _, ts_text = line.rpartition(" ")
        ts = int(ts_text)
        name = series.split("{", 1)[0]
        assert families[-1] in (name, name.removesuffix("_total"))
        if name.endswith("_total"):
            assert name.removesuffix("_total") in counters
        assert ts > last[series], f"{series} not ascending"
        last[series] = ts
        assert scenario.start_ts <= ts <= scenario.end_ts + 240
    assert len(families) == len(set(families)), "a family written twice"
    assert max(last.values()) == scenario.end_ts + 240
    assert min(last.values()) >= scenario.start_ts


def test_scaled_streams_without_materializing(tmp_path: Path) -> None:
    scenario = Scenario.scaled(8, END)
    scenario.write_openmetrics(tmp_path / "history.om")
    assert len(scenario.pods) == 8
    assert scenario.__dict__.get("_materialized", {}) == {}
    large = Scenario.scaled(120, END)
    assert len(large.pods) == 120
    assert len({p.namespace for p in large.pods}) == 3
    assert {w.kind for w in large.workloads} == {"Deployment", "StatefulSet"}


def test_expected_scope_and_workloads(demo: Scenario) -> None:
    expected = demo.expected(*window(END), namespaces={"shop", "payments"})
    assert {ns for ns, _, _ in expected.containers} == {"shop", "payments"}
    checkout = expected.workloads[("shop", "Deployment", "checkout")]
    assert len(checkout.pods) > 6, "HPA pods that came and went are part of the window"
    assert checkout.oom_kills == 1
    api = expected.workloads[("payments", "Deployment", "api")]
    assert api.restarts == 6
    assert expected.workloads[("payments", "StatefulSet", "ledger")].restarts == 1
    frontend = expected.workloads[("shop", "Deployment", "frontend")]
    assert len(frontend.pods) == 4, "a rollout: two pods and their replacements"
    hpa = expected.hpas[("shop", "checkout")]
    assert hpa.peak_replicas == hpa.max_replicas == 6
    assert hpa.seconds_at_max == 4 * 3600 + 2 * 3600 - 60
    assert hpa.current_replicas_at_end == 6
    # 60 s behind after each rescale, and 15 min for the slow one.
    assert hpa.seconds_not_at_desired == 6 * 60 + 15 * 60
    steady = expected.hpas[("payments", "api")]
    assert (steady.rescales, steady.seconds_at_max, steady.peak_replicas) == (0, 0, 2)


def test_containers_without_limits(demo: Scenario) -> None:
    usage = demo.expected(*window(END)).containers
    envoy = [u for (_, _, c), u in usage.items() if c == "envoy"]
    assert envoy
    assert all(u.cpu_limit is None and u.memory_limit is None for u in envoy)
    assert all(u.cpu_request == 0.05 and u.memory_request == 64 * MiB for u in envoy)
    web = [u for (_, _, c), u in usage.items() if c == "web"]
    assert all(u.cpu_limit is None and u.memory_limit == 256 * MiB for u in web)


def test_deleted_pods_exist_only_in_history(demo: Scenario, objects: list[dict[str, Any]]) -> None:
    live = set(_of_kind(objects, "Pod"))
    deleted = {p.key for p in demo.pods if p.deleted is not None}
    assert deleted
    assert not deleted & live
    assert len(live) == len(demo.pods) - len(deleted)
    assert 15 <= len(live) <= 18


def test_kube_objects_consistent_with_history(
    demo: Scenario, objects: list[dict[str, Any]]
) -> None:
    expected = demo.expected(*window(END))
    by_key: dict[tuple[str, str], Pod] = {p.key: p for p in demo.pods}
    pods = _of_kind(objects, "Pod")
    for key, pod in pods.items():
        restarts = by_key[key].restarts
        assert {"app", "tier"} <= pod["metadata"]["labels"].keys()
        for status in pod["status"]["containerStatuses"]:
            name = status["name"]
            ckey = (*key, name)
            assert status["restartCount"] >= expected.restarts_by_container.get(ckey, 0)
            mine = [r for r in restarts if r.container == name]
            assert status["restartCount"] == len(mine)
            if mine:
                assert status["lastState"]["terminated"]["reason"] == mine[-1].reason
                assert status["lastState"]["terminated"]["exitCode"] == mine[-1].exit_code
            if ckey in expected.last_reason_by_container:
                assert (
                    status["lastState"]["terminated"]["reason"]
                    == expected.last_reason_by_container[ckey]
                )


def test_owner_chain_and_crash_loop(objects: list[dict[str, Any]]) -> None:
    pods = _of_kind(objects, "Pod")
    replicasets = _of_kind(objects, "ReplicaSet")
    deployments = _of_kind(objects, "Deployment")
    owners: set[str] = set()
    for (ns, _), pod in pods.items():
        [ref] = pod["metadata"]["ownerReferences"]
        owners.add(ref["kind"])
        if ref["kind"] == "ReplicaSet":
            rs = replicasets[(ns, ref["name"])]
            assert rs["metadata"]["uid"] == ref["uid"]
            [dep_ref] = rs["metadata"]["ownerReferences"]
            assert deployments[(ns, dep_ref["name"])]["metadata"]["uid"] == dep_ref["uid"]
            assert (
                pod["metadata"]["labels"]["pod-template-hash"]
                == rs["metadata"]["labels"]["pod-template-hash"]
            )
    assert owners == {"ReplicaSet", "StatefulSet", "DaemonSet"}
    waiting = [
        (key, s)
        for key, pod in pods.items()
        for s in pod["status"]["containerStatuses"]
        if "waiting" in s["state"]
    ]
    [((ns, _), status)] = waiting
    assert ns == "payments"
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["ready"] is False


def test_hpa_and_events(demo: Scenario, objects: list[dict[str, Any]]) -> None:
    hpas = _of_kind(objects, "HorizontalPodAutoscaler")
    assert set(hpas) == {("shop", "checkout"), ("payments", "api")}
    hpa = hpas[("shop", "checkout")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["status"]["currentReplicas"] == hpa["status"]["desiredReplicas"] == 6
    limited = {c["type"]: c for c in hpa["status"]["conditions"]}["ScalingLimited"]
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    deployment = _of_kind(objects, "Deployment")[("shop", "checkout")]
    assert deployment["spec"]["replicas"] == 6
    core = [e for e in objects if e["kind"] == "Event" and e["apiVersion"] == "v1"]
    new = [e for e in objects if e["kind"] == "Event" and e["apiVersion"] == "events.k8s.io/v1"]
    reasons = {e["reason"] for e in core}
    assert {"BackOff", "OOMKilling", "SuccessfulRescale", "ScalingReplicaSet"} <= reasons
    assert {"Unhealthy", "FailedMount"} <= reasons
    for event in core:
        assert event["count"] >= 1
        assert event["firstTimestamp"] <= event["lastTimestamp"]
    # Each series once, through the API that wrote it (both APIs serve one store).
    assert {e["reason"] for e in new} == {"FailedScheduling"}
    assert all(e["eventTime"] and "count" not in e for e in new)
    assert not {e["metadata"]["name"] for e in core} & {e["metadata"]["name"] for e in new}


def test_rollout_keeps_the_old_replicaset(objects: list[dict[str, Any]]) -> None:
    replicasets = [
        o
        for o in objects
        if o["kind"] == "ReplicaSet" and o["metadata"]["name"].startswith("frontend-")
    ]
    revisions = {
        o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: o for o in replicasets
    }
    assert set(revisions) == {"3", "4"}  # revisions 1 and 2 are gone (revisionHistoryLimit)
    assert revisions["3"]["spec"]["replicas"] == 0
    assert revisions["4"]["metadata"]["creationTimestamp"] == "2025-03-10T02:00:00Z"
    pods = [
        o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("frontend")
    ]
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in pods} == {
        revisions["4"]["metadata"]["name"]
    }
    assert len(pods) == 2
    revisions_of_sets = [o for o in objects if o["kind"] == "ControllerRevision"]
    assert {o["metadata"]["ownerReferences"][0]["kind"] for o in revisions_of_sets} == {
        "StatefulSet",
        "DaemonSet",
    }


def test_nodes_and_alerts(demo: Scenario, objects: list[dict[str, Any]]) -> None:
    nodes = _of_kind(objects, "Node")
    assert len(nodes) == demo.nodes_at_end()[0] == 4
    ready = {
        name: {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        for (_, name), node in nodes.items()
    }
    assert [name for name, status in ready.items() if status != "True"] == ["node-d"]
    assert not any(p.node == "node-d" for p in demo.pods)
    expected = demo.expected(*window(END), namespaces={"shop", "payments"})
    by_name = {a.name: a for a in expected.alerts}
    assert by_name["KubePodCrashLooping"].firing_at_end
    assert not by_name["TargetDown"].firing_at_end
    assert "Watchdog" not in by_name  # cluster-wide: in no namespace scope


def test_histogram_quantile_follows_promql() -> None:
    buckets = [(0.1, 10.0), (0.5, 30.0), (math.inf, 40.0)]
    assert _histogram_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * (10 / 20))
    assert _histogram_quantile(0.99, buckets) == 0.5  # in +Inf: the highest finite bound
    assert _histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None
    # Counts that fall (separately extrapolated series) are made monotonic first.
    falling = [(0.1, 5.0), (0.2, 4.0), (0.3, 8.0), (math.inf, 10.0)]
    assert _histogram_quantile(0.6, falling) == pytest.approx(0.2 + 0.1 / 3)
