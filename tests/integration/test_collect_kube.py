"""The Kubernetes API collectors against the emulator seeded with the demo scenario's objects.

Expected answers come from the scenario's model (its event series, revisions, replica counts),
not from the objects the collectors read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from opsreport.collect.cluster import CLUSTER_WIDE_MIN_NAMESPACES, ClusterFacts, collect_cluster
from opsreport.kube import Json, KubeApi
from opsreport.model.report import KubeEvent
from opsreport.scheduling import Window
from tests.integration.conftest import DAY, END, SCOPE
from tests.support.kube_emulator import KubeApiServer
from tests.support.scenario import EventSummary, Scenario

LAST_DAY = Window(END - DAY, END)
EVENT_REASONS = {
    "SuccessfulRescale",
    "ScalingReplicaSet",
    "BackOff",
    "Unhealthy",
    "FailedScheduling",
    "Evicted",
    "OOMKilling",
    "FailedMount",
}


def _row(e: KubeEvent | EventSummary) -> tuple[Any, ...]:
    if isinstance(e, KubeEvent):
        return (e.namespace, e.kind, e.name, e.reason, e.message, e.count, e.first_time,
                e.last_time, e.count_in_window)  # fmt: skip
    return (e.namespace, e.kind, e.name, e.reason, e.message, e.count, e.first, e.last,
            e.count_in_window)  # fmt: skip


def _events(facts: ClusterFacts) -> list[KubeEvent]:
    assert facts.scaling_events is not None
    assert facts.failures is not None
    return [*facts.scaling_events, *facts.failures.top]


@pytest.fixture
def faults(kube_server: KubeApiServer) -> Iterator[KubeApiServer]:
    yield kube_server
    kube_server.clear_faults()


async def test_events_of_both_apis_once_each(
    kube_api: KubeApi, scenario: Scenario, window: Window
) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, window)
    expected = scenario.expected(window.start, window.end, set(SCOPE)).events
    measured = [_row(e) for e in _events(facts)]
    assert len(measured) == len(set(measured)), "an event seen through both APIs counts once"
    assert set(measured) == {_row(e) for e in expected if e.reason in EVENT_REASONS}


async def test_events_are_placed_in_the_window(kube_api: KubeApi, scenario: Scenario) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    events = _events(facts)
    reasons = {e.reason for e in events}
    # Unhealthy was written through core/v1, FailedScheduling through events.k8s.io/v1.
    assert {"Unhealthy", "FailedScheduling", "FailedMount", "BackOff"} <= reasons
    assert {"SuccessfulRescale", "ScalingReplicaSet"} <= reasons
    # The crash-looping pod's BackOff series began the day before: in, but not countable.
    backoff = next(e for e in events if e.reason == "BackOff" and e.count > 1)
    assert backoff.first_time is not None
    assert backoff.first_time < LAST_DAY.start
    assert backoff.count_in_window is None
    inside = [e for e in events if e.count_in_window is not None]
    assert inside
    assert all(e.count_in_window == e.count for e in inside)
    for e in events:
        assert e.first_time is not None
        assert e.last_time is not None
        assert e.first_time <= LAST_DAY.end
        assert e.last_time >= LAST_DAY.start
    failures = facts.failures
    assert failures is not None
    assert not failures.exact
    assert failures.by_reason == {
        reason: sum(
            e.count_in_window if e.count_in_window is not None else 1
            for e in failures.top
            if e.reason == reason
        )
        for reason in {e.reason for e in failures.top}
    }
    assert failures.series == len(failures.top)


async def test_node_events_need_their_namespace_in_scope(kube_api: KubeApi) -> None:
    """The kernel's OOMKilling events are about Nodes, posted in `default`."""
    scoped = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    wider = await collect_cluster(kube_api, ("default", *SCOPE), None, LAST_DAY)
    assert scoped.failures is not None
    assert wider.failures is not None
    assert "OOMKilling" not in scoped.failures.by_reason
    assert wider.failures.by_reason["OOMKilling"] == 1


async def test_hpas_as_the_api_shows_them(kube_api: KubeApi, scenario: Scenario) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    assert facts.hpas is not None
    expected = scenario.expected(LAST_DAY.start, LAST_DAY.end, set(SCOPE)).hpas
    assert set(facts.hpas) == set(expected)
    for key, hpa in facts.hpas.items():
        want = expected[key]
        assert (hpa.min_replicas, hpa.max_replicas) == (want.min_replicas, want.max_replicas)
        assert hpa.current_replicas == want.current_replicas_at_end
        assert hpa.desired_replicas == want.desired_replicas_at_end
        assert hpa.able_to_scale is not None
        assert hpa.able_to_scale.status == "True"
    checkout = facts.hpas[("shop", "checkout")]
    assert checkout.scaling_limited is not None
    assert (checkout.scaling_limited.status, checkout.scaling_limited.reason) == (
        "True",
        "TooManyReplicas",
    )
    steady = facts.hpas[("payments", "api")]
    assert steady.scaling_limited is not None
    assert steady.scaling_limited.reason == "TooFewReplicas"


async def test_workloads_and_rollouts(
    kube_api: KubeApi, scenario: Scenario, window: Window
) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, window)
    assert facts.workloads is not None
    assert facts.rollouts is not None
    want = {k: v for k, v in scenario.workload_status_at_end().items() if k[0] in SCOPE}
    got = {
        key: (w.desired_replicas, w.ready_replicas, w.unavailable_replicas)
        for key, w in facts.workloads.items()
    }
    assert got == want
    expected = scenario.expected(window.start, window.end, set(SCOPE)).rollouts
    assert [
        (r.namespace, r.kind, r.name, r.revision, r.revision_name, r.started_at)
        for r in facts.rollouts
    ] == [
        (r.namespace, r.kind, r.name, r.revision, r.revision_name, r.started_at) for r in expected
    ]
    for key, workload in facts.workloads.items():
        assert workload.rollouts == sum(1 for r in expected if (r.namespace, r.kind, r.name) == key)
    if window == LAST_DAY:
        [rollout] = facts.rollouts
        assert rollout.name == "frontend"
        assert rollout.images == ["shop/frontend:3.2.0"]


async def test_nodes(kube_api: KubeApi, scenario: Scenario) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    total, not_ready = scenario.nodes_at_end()
    assert (facts.nodes.total, facts.nodes.not_ready, facts.nodes.not_ready_names) == (
        total,
        len(not_ready),
        not_ready,
    )
    assert not_ready == ["node-d"]


async def test_a_failing_list_is_a_gap_and_the_rest_still_appears(
    kube_api: KubeApi, faults: KubeApiServer
) -> None:
    faults.inject_fault("GET", r"/events$", 403, times=10)
    faults.inject_fault("GET", r"/api/v1/nodes$", 403)
    facts = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    assert {gap.section for gap in facts.gaps} == {"events", "nodes"}
    assert all(gap.source == "kubernetes" and "403" in gap.reason for gap in facts.gaps)
    assert facts.scaling_events is None
    assert facts.failures is None
    assert facts.nodes.total is None
    assert facts.pods.total
    assert facts.hpas
    assert facts.workloads
    assert facts.rollouts is not None


async def test_events_are_listed_once_through_events_k8s_io(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    new, core = "/apis/events.k8s.io/", "/api/v1/namespaces/"
    before = kube_server.count_requests("GET", new)
    core_before = sum(kube_server.count_requests("GET", f"{core}{ns}/events") for ns in SCOPE)
    await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    assert kube_server.count_requests("GET", new) - before == len(SCOPE)
    after = sum(kube_server.count_requests("GET", f"{core}{ns}/events") for ns in SCOPE)
    assert after == core_before, "core/v1 serves the same Events: not listed again"


@pytest.mark.parametrize("status", [404, 403])
async def test_core_events_when_events_k8s_io_is_not_served_or_not_granted(
    kube_api: KubeApi, faults: KubeApiServer, scenario: Scenario, window: Window, status: int
) -> None:
    faults.inject_fault("GET", r"^/apis/events\.k8s\.io/", status, times=10)
    facts = await collect_cluster(kube_api, SCOPE, None, window)
    assert not facts.gaps
    expected = scenario.expected(window.start, window.end, set(SCOPE)).events
    measured = [_row(e) for e in _events(facts)]
    assert len(measured) == len(set(measured))
    assert set(measured) == {_row(e) for e in expected if e.reason in EVENT_REASONS}
    # Remembered by this client: the next report goes straight to core/v1.
    faults.clear_faults()
    asked = faults.count_requests("GET", "/apis/events.k8s.io/")
    again = await collect_cluster(kube_api, SCOPE, None, window)
    assert faults.count_requests("GET", "/apis/events.k8s.io/") == asked
    assert again == facts


async def test_every_list_is_paginated_with_the_same_result(
    kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = kube_api.requests_sent
    whole = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    requests = kube_api.requests_sent - before
    sizes: list[tuple[str, int]] = []
    original = KubeApi.list_pages

    async def small_pages(
        self: KubeApi, path: str, *, label_selector: str | None = None, page_size: int = 500
    ) -> AsyncIterator[list[Json]]:
        async for page in original(self, path, label_selector=label_selector, page_size=3):
            sizes.append((path, len(page)))
            yield page

    monkeypatch.setattr(KubeApi, "list_pages", small_pages)
    paged = await collect_cluster(kube_api, SCOPE, None, LAST_DAY)
    assert paged == whole
    assert all(size <= 3 for _, size in sizes)
    assert kube_api.requests_sent - before - requests == len(sizes)
    # A small scope is listed per namespace: eight kinds each (Events once) and the nodes, one
    # request each at the default page size.
    assert len(SCOPE) < CLUSTER_WIDE_MIN_NAMESPACES
    assert requests == 8 * len(SCOPE) + 1
    assert len(sizes) > 8 * len(SCOPE) + 1, "some list must have needed several pages"
