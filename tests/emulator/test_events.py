"""Events: one store behind core/v1 and events.k8s.io/v1, converted as the API server does."""

from __future__ import annotations

from typing import Any

import httpx
from kubernetes_asyncio.client import ApiClient, CoreV1Api, EventsV1Api

from tests.emulator._helpers import MERGE, WatchStream, summary
from tests.support.kube_emulator import KubeApiServer
from tests.support.kube_events import CORE_EVENTS, EVENTS_V1, convert_event

CORE = "/api/v1/namespaces/default/events"
NEW = "/apis/events.k8s.io/v1/namespaces/default/events"
POD = {"apiVersion": "v1", "kind": "Pod", "name": "p1", "namespace": "default", "uid": "u-1"}


def core_event(name: str = "e1") -> dict[str, Any]:
    """An Event as an old kubelet posts it through core/v1."""
    return {
        "metadata": {"name": name},
        "involvedObject": POD,
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "type": "Warning",
        "count": 3,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:05:00Z",
        "source": {"component": "kubelet", "host": "node-a"},
    }


def new_event(name: str = "e2") -> dict[str, Any]:
    """An Event as the scheduler posts it through events.k8s.io/v1."""
    return {
        "metadata": {"name": name},
        "regarding": POD,
        "reason": "FailedScheduling",
        "note": "0/3 nodes are available",
        "type": "Warning",
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2026-01-01T00:03:00.000000Z"},
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-node-a",
        "action": "Scheduling",
    }


def test_a_core_event_is_served_by_events_k8s_io(http: httpx.Client) -> None:
    created = http.post(CORE, json=core_event()).json()

    seen = http.get(f"{NEW}/e1").json()

    assert seen["apiVersion"] == "events.k8s.io/v1"
    assert seen["metadata"] == created["metadata"]  # one object: uid, resourceVersion, times
    assert seen["regarding"] == POD
    assert seen["note"] == "Back-off restarting failed container"
    assert (seen["reason"], seen["type"]) == ("BackOff", "Warning")
    assert seen["deprecatedCount"] == 3
    assert seen["deprecatedFirstTimestamp"] == "2026-01-01T00:00:00Z"
    assert seen["deprecatedLastTimestamp"] == "2026-01-01T00:05:00Z"
    assert seen["deprecatedSource"] == {"component": "kubelet", "host": "node-a"}
    assert seen["eventTime"] is None
    for core_only in ("involvedObject", "message", "count", "firstTimestamp", "source"):
        assert core_only not in seen


def test_an_events_k8s_io_event_is_served_by_core(http: httpx.Client) -> None:
    created = http.post(NEW, json=new_event()).json()

    seen = http.get(f"{CORE}/e2").json()

    assert seen["apiVersion"] == "v1"
    assert seen["metadata"] == created["metadata"]
    assert seen["involvedObject"] == POD
    assert seen["message"] == "0/3 nodes are available"
    assert seen["series"] == {"count": 4, "lastObservedTime": "2026-01-01T00:03:00.000000Z"}
    assert seen["eventTime"] == "2026-01-01T00:00:00.000000Z"
    assert seen["reportingComponent"] == "default-scheduler"
    assert seen["reportingInstance"] == "default-scheduler-node-a"
    assert seen["action"] == "Scheduling"
    for absent in ("count", "firstTimestamp", "lastTimestamp", "note", "regarding"):
        assert absent not in seen


def test_both_apis_list_every_event_once(http: httpx.Client) -> None:
    http.post(CORE, json=core_event("a"))
    http.post(NEW, json=new_event("b"))

    core = http.get(CORE).json()
    new = http.get("/apis/events.k8s.io/v1/events").json()  # cluster-wide too

    assert [e["metadata"]["name"] for e in core["items"]] == ["a", "b"]
    assert [e["metadata"]["name"] for e in new["items"]] == ["a", "b"]
    assert (core["kind"], new["kind"]) == ("EventList", "EventList")


def test_a_name_taken_through_one_api_is_taken_in_the_other(http: httpx.Client) -> None:
    http.post(CORE, json=core_event("e1"))

    again = http.post(NEW, json=new_event("e1"))

    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"


def test_a_patch_through_one_api_shows_in_the_other(http: httpx.Client) -> None:
    http.post(CORE, json=core_event())

    patched = http.patch(
        f"{NEW}/e1", json={"deprecatedCount": 4, "note": "again"}, headers=MERGE
    ).json()

    seen = http.get(f"{CORE}/e1").json()
    assert (seen["count"], seen["message"]) == (4, "again")
    assert seen["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]


def test_a_delete_through_one_api_deletes_from_both(http: httpx.Client) -> None:
    http.post(NEW, json=new_event())

    assert http.delete(f"{CORE}/e2").status_code == 200

    assert http.get(f"{NEW}/e2").status_code == 404
    assert http.get(NEW).json()["items"] == []


def test_field_selectors_use_each_api_s_field_names(http: httpx.Client) -> None:
    http.post(CORE, json=core_event())

    by_regarding = http.get(NEW, params={"fieldSelector": "regarding.name=p1"}).json()
    by_involved = http.get(CORE, params={"fieldSelector": "involvedObject.name=p1"}).json()

    assert [e["metadata"]["name"] for e in by_regarding["items"]] == ["e1"]
    assert [e["metadata"]["name"] for e in by_involved["items"]] == ["e1"]


async def test_a_watch_on_one_api_sees_writes_through_the_other(
    ahttp: httpx.AsyncClient,
) -> None:
    async with WatchStream(ahttp, NEW) as watch:
        await ahttp.post(CORE, json=core_event())
        await ahttp.patch(f"{CORE}/e1", json={"count": 5}, headers=MERGE)
        await ahttp.delete(f"{CORE}/e1")
        events = await watch.take(3)

    assert summary(events) == [("ADDED", "e1"), ("MODIFIED", "e1"), ("DELETED", "e1")]
    assert events[0]["object"]["apiVersion"] == "events.k8s.io/v1"
    assert events[1]["object"]["deprecatedCount"] == 5


def test_seeded_events_are_shared_too(kube: KubeApiServer) -> None:
    kube.seed([{"apiVersion": "v1", "kind": "Event", **core_event()}])

    [seen] = kube.list("events.k8s.io/v1", "events", "default")

    assert seen["note"] == "Back-off restarting failed container"


def test_the_conversion_round_trips() -> None:
    core = {"apiVersion": "v1", "kind": "Event", **core_event()}
    core["reportingComponent"], core["reportingInstance"] = "kubelet", "node-a"
    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", **new_event()}

    assert convert_event(convert_event(core, EVENTS_V1), CORE_EVENTS) == {
        **core,
        "eventTime": None,
    }
    assert convert_event(convert_event(new, CORE_EVENTS), EVENTS_V1) == new


async def test_kubernetes_asyncio_reads_one_api_s_events_through_the_other(
    api: ApiClient,
) -> None:
    await EventsV1Api(api).create_namespaced_event("default", new_event())

    listed = await CoreV1Api(api).list_namespaced_event("default")

    [event] = listed.items
    assert (event.reason, event.message, event.series.count) == (
        "FailedScheduling",
        "0/3 nodes are available",
        4,
    )
