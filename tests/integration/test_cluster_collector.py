"""The pod collector against the emulator seeded with the demo scenario's objects."""

from __future__ import annotations

from typing import Any

from opsreport.collect.cluster import collect_cluster
from opsreport.kube import KubeApi
from opsreport.scheduling import Window, parse_rfc3339
from tests.integration.conftest import DAY, END, SCOPE
from tests.support.scenario import Scenario

WINDOW = Window(END - DAY, END)


def _pods(scenario: Scenario) -> list[dict[str, Any]]:
    return [
        o
        for o in scenario.kube_objects()
        if o["kind"] == "Pod" and o["metadata"]["namespace"] in SCOPE
    ]


async def test_pods_and_their_states_match_the_objects(
    kube_api: KubeApi, scenario: Scenario
) -> None:
    facts = await collect_cluster(kube_api, SCOPE, None, WINDOW)
    pods = _pods(scenario)
    assert facts.pods.total == len(pods)
    waiting = {
        (
            p["metadata"]["namespace"],
            p["metadata"]["name"],
            c["name"],
            c["state"]["waiting"]["reason"],
        )
        for p in pods
        for c in p["status"].get("containerStatuses", [])
        if "waiting" in c.get("state", {})
    }
    assert {(w.namespace, w.pod, w.container, w.reason) for w in facts.pods.waiting} == waiting
    assert any(w.reason == "CrashLoopBackOff" for w in facts.pods.waiting)
    terminated = {
        (
            p["metadata"]["namespace"],
            p["metadata"]["name"],
            c["name"],
            c["lastState"]["terminated"]["reason"],
        )
        for p in pods
        for c in p["status"].get("containerStatuses", [])
        if "terminated" in c.get("lastState", {})
        and WINDOW.start <= parse_rfc3339(c["lastState"]["terminated"]["finishedAt"]) <= WINDOW.end
    }
    assert terminated
    assert {
        (t.namespace, t.pod, t.container, t.reason) for t in facts.pods.terminated_in_window
    } == terminated


async def test_lists_are_paginated(kube_api: KubeApi, scenario: Scenario) -> None:
    pages: list[int] = []
    async for page in kube_api.list_pages("/api/v1/namespaces/shop/pods", page_size=2):
        pages.append(len(page))
    shop = [p for p in _pods(scenario) if p["metadata"]["namespace"] == "shop"]
    assert sum(pages) == len(shop)
    assert len(pages) == -(-len(shop) // 2)
    assert all(size <= 2 for size in pages)


async def test_the_selector_restricts_pods(kube_api: KubeApi, scenario: Scenario) -> None:
    facts = await collect_cluster(kube_api, SCOPE, "app=checkout", WINDOW)
    expected = [
        p for p in _pods(scenario) if p["metadata"].get("labels", {}).get("app") == "checkout"
    ]
    assert expected
    assert facts.pods.total == len(expected)


async def test_requests_are_counted(kube_api: KubeApi) -> None:
    before = kube_api.requests_sent
    await collect_cluster(kube_api, SCOPE, None, WINDOW)
    # One page per list at this size: eight kinds per namespace (Events once), and the nodes.
    assert kube_api.requests_sent - before == 8 * len(SCOPE) + 1
