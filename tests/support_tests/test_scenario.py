"""The scenario generator on its own: determinism, file format, objects, emulated PromQL."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.scenario import (
    MiB,
    Pod,
    Scenario,
    _extrapolated_rate,
    _quantile,
    _subquery_steps,
    window,
)

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
    assert len(frontend.pods) == 3, "the replaced pod and its replacement"
    [hpa] = expected.hpas.values()
    assert hpa.peak_replicas == hpa.max_replicas == 6
    assert hpa.seconds_at_max == 4 * 3600 + 2 * 3600 - 60
    assert hpa.current_replicas_at_end == 6


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
    [hpa] = _of_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["status"]["currentReplicas"] == hpa["status"]["desiredReplicas"] == 6
    limited = {c["type"]: c for c in hpa["status"]["conditions"]}["ScalingLimited"]
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    deployment = _of_kind(objects, "Deployment")[("shop", "checkout")]
    assert deployment["spec"]["replicas"] == 6
    reasons = {e["reason"] for e in objects if e["kind"] == "Event"}
    assert {"BackOff", "OOMKilling", "SuccessfulRescale"} <= reasons
    for event in (e for e in objects if e["kind"] == "Event"):
        assert event["count"] >= 1
        assert event["firstTimestamp"] <= event["lastTimestamp"]


def test_validation() -> None:
    with pytest.raises(ValueError, match="naive"):
        Scenario.demo(END.replace(tzinfo=None))
    with pytest.raises(ValueError, match="grid"):
        Scenario.demo(END + timedelta(seconds=30))
    demo = Scenario.demo(END)
    with pytest.raises(ValueError, match="reused"):
        dataclasses.replace(demo, pods=(*demo.pods, demo.pods[0]))


# ---------------------------------------------------------------- PromQL emulation


def test_quantile_interpolates_like_promql() -> None:
    assert _quantile(0.95, [1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(4.8)
    assert _quantile(0.5, [4.0, 1.0]) == 2.5
    assert _quantile(1.0, [3.0]) == 3.0


def test_increase_on_grid_is_exact_and_zero_point_caps_start() -> None:
    times = list(range(0, 601, 60))
    values = [float(v // 180) for v in times]
    assert _extrapolated_rate(times, values, 0, 600, is_rate=False) == values[-1]
    # A series born inside the window at 0 is not extrapolated before its zero point.
    assert _extrapolated_rate(times[5:], [0.0, 1, 1, 1, 2, 2], 0, 600, is_rate=False) == 2
    # A series that ends early is extended by half an interval.
    got = _extrapolated_rate(times[:6], [0.0, 0, 1, 1, 1, 2], 0, 600, is_rate=False)
    assert got == pytest.approx(2 * 330 / 300)
    assert _extrapolated_rate(times[:1], [1.0], 0, 600, is_rate=False) is None


def test_subquery_steps_are_aligned_and_inclusive() -> None:
    assert list(_subquery_steps(900, 600, 300)) == [300, 600, 900]
    assert list(_subquery_steps(960, 600, 300)) == [600, 900]
