"""Watches: replay, resumption from a resourceVersion, selectors, timeouts, 410 Gone."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.emulator._helpers import MERGE, WatchStream, pod, summary
from tests.support.kube_emulator import KubeApiServer

PODS = "/api/v1/namespaces/default/pods"


async def test_watch_replays_existing_objects_then_streams_changes(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("a"), pod("b")])
    async with WatchStream(ahttp, PODS) as watch:
        assert summary(await watch.take(2)) == [("ADDED", "a"), ("ADDED", "b")]

        await ahttp.post(PODS, json=pod("c"))
        await ahttp.patch(f"{PODS}/a", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE)
        await ahttp.delete(f"{PODS}/b")

        events = await watch.take(3)
    assert summary(events) == [("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b")]
    versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events]
    assert versions == sorted(versions)


async def test_watch_from_a_resource_version_skips_the_replay(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("a"), pod("b")])
    listed = (await ahttp.get(PODS)).json()["metadata"]["resourceVersion"]

    async with WatchStream(ahttp, PODS, resourceVersion=listed) as watch:
        await ahttp.post(PODS, json=pod("c"))
        first = await watch.next()

    assert summary([first]) == [("ADDED", "c")]


async def test_watch_resumes_with_the_changes_missed_since(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    # kopf reconnects every few minutes with the last resourceVersion it saw.
    kube.seed([pod("a"), pod("b")])
    since = (await ahttp.get(PODS)).json()["metadata"]["resourceVersion"]
    await ahttp.patch(f"{PODS}/a", json={"metadata": {"labels": {"x": "1"}}}, headers=MERGE)
    await ahttp.delete(f"{PODS}/b")
    await ahttp.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "noise"}})

    async with WatchStream(ahttp, PODS, resourceVersion=since) as watch:
        events = await watch.take(2)

    assert summary(events) == [("MODIFIED", "a"), ("DELETED", "b")]


async def test_watch_from_a_compacted_resource_version_is_410_gone(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("a")])
    since = (await ahttp.get(PODS)).json()["metadata"]["resourceVersion"]
    await ahttp.post(PODS, json=pod("b"))
    kube.compact()

    async with WatchStream(ahttp, PODS, resourceVersion=since) as watch:
        events = await watch.rest()

    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    assert (events[0]["object"]["kind"], events[0]["object"]["code"]) == ("Status", 410)


async def test_watch_applies_label_selectors_with_transitions(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("in", labels={"app": "x"}), pod("out", labels={"app": "y"})])
    async with WatchStream(ahttp, PODS, labelSelector="app=x") as watch:
        assert summary(await watch.take(1)) == [("ADDED", "in")]

        await ahttp.patch(f"{PODS}/out", json={"metadata": {"labels": {"v": "2"}}}, headers=MERGE)
        await ahttp.patch(f"{PODS}/in", json={"metadata": {"labels": {"app": "y"}}}, headers=MERGE)
        await ahttp.patch(f"{PODS}/out", json={"metadata": {"labels": {"app": "x"}}}, headers=MERGE)

        events = await watch.take(2)

    # Leaving the selection reads as a deletion, entering it as an addition.
    assert summary(events) == [("DELETED", "in"), ("ADDED", "out")]


async def test_watch_applies_field_selectors(kube: KubeApiServer, ahttp: httpx.AsyncClient) -> None:
    async with WatchStream(ahttp, "/api/v1/pods", fieldSelector="metadata.namespace=ns2") as watch:
        await ahttp.post("/api/v1/namespaces/ns1/pods", json=pod("a", "ns1"))
        await ahttp.post("/api/v1/namespaces/ns2/pods", json=pod("b", "ns2"))
        events = await watch.take(1)

    assert summary(events) == [("ADDED", "b")]


async def test_namespaced_watch_ignores_other_namespaces(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("elsewhere", "ns1")])
    async with WatchStream(ahttp, PODS) as watch:
        await ahttp.post("/api/v1/namespaces/ns1/pods", json=pod("a", "ns1"))
        await ahttp.post(PODS, json=pod("b"))
        events = await watch.take(1)

    assert summary(events) == [("ADDED", "b")]


async def test_watch_ends_after_timeout_seconds(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    async with WatchStream(ahttp, PODS, timeoutSeconds="1") as watch:
        events = await watch.rest(timeout=10)

    assert events == []
    assert 0.9 <= time.monotonic() - started < 5


async def test_watch_sees_in_process_writes(kube: KubeApiServer, ahttp: httpx.AsyncClient) -> None:
    async with WatchStream(ahttp, "/api/v1/pods") as watch:
        await asyncio.to_thread(kube.seed, [pod("a"), pod("b")])
        await asyncio.to_thread(kube.create, pod("c", "ns1"))
        await asyncio.to_thread(kube.patch_object, "v1", "Pod", "default", "a", {"spec": {"x": 1}})
        await asyncio.to_thread(kube.delete, "v1", "pods", "default", "b")
        events = await watch.take(5)

    assert summary(events) == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "c"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]


async def test_initial_events_end_with_a_bookmark(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("a")])
    async with WatchStream(ahttp, PODS, sendInitialEvents="true") as watch:
        added, bookmark = await watch.take(2)

    assert summary([added]) == [("ADDED", "a")]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_of_a_single_object_by_url(
    kube: KubeApiServer, ahttp: httpx.AsyncClient
) -> None:
    kube.seed([pod("a"), pod("b")])
    async with WatchStream(ahttp, f"{PODS}/b") as watch:
        await ahttp.patch(f"{PODS}/a", json={"spec": {"x": 1}}, headers=MERGE)
        await ahttp.patch(f"{PODS}/b", json={"spec": {"x": 1}}, headers=MERGE)
        events = await watch.take(2)

    assert summary(events) == [("ADDED", "b"), ("MODIFIED", "b")]


async def test_stopping_the_server_ends_open_watches() -> None:
    server = KubeApiServer().start()
    async with (
        httpx.AsyncClient(base_url=server.url, trust_env=False) as client,
        WatchStream(client, PODS) as watch,
    ):
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert await watch.rest() == []
    assert time.monotonic() - started < 5
