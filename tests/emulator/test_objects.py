"""Object semantics: stamping, create/patch/replace/delete rules, /status, finalizers, events."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from kubernetes_asyncio.client import (
    ApiClient,
    CoreV1Api,
    CustomObjectsApi,
    V1ConfigMap,
    V1Namespace,
    V1ObjectMeta,
)
from kubernetes_asyncio.client.exceptions import ApiException

from tests.emulator._helpers import GROUP, JSON_PATCH, MERGE, WIDGETS, pod, widget
from tests.support.kube_emulator import KubeApiServer

PODS = "/api/v1/namespaces/default/pods"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_create_stamps_metadata_and_answers_201(http: httpx.Client) -> None:
    rsp = http.post(PODS, json={"metadata": {"name": "p1"}, "spec": {"containers": []}})

    assert rsp.status_code == 201
    obj = rsp.json()
    meta = obj["metadata"]
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "Pod")
    assert meta["namespace"] == "default"  # from the URL
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert RFC3339_UTC.fullmatch(meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert http.get(f"{PODS}/p1").json() == obj


async def test_create_returns_the_object_to_kubernetes_asyncio(
    widgets: KubeApiServer, api: ApiClient
) -> None:
    # kmock 0.8 answered 200 to creates, so this client returned None.
    created = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, "v1", "default", "widgets", widget("w1", size=1)
    )
    assert created["metadata"]["name"] == "w1"
    assert created["metadata"]["uid"]


def test_duplicate_create_is_409_already_exists(http: httpx.Client) -> None:
    assert http.post(PODS, json=pod("p1")).status_code == 201

    rsp = http.post(PODS, json=pod("p1"))

    assert rsp.status_code == 409
    status = rsp.json()
    assert status["kind"] == "Status"
    assert (status["status"], status["reason"], status["code"]) == ("Failure", "AlreadyExists", 409)
    assert status["details"]["name"] == "p1"


def test_generate_name_gives_distinct_names(http: httpx.Client) -> None:
    names = set()
    for _ in range(30):
        rsp = http.post(PODS, json={"metadata": {"generateName": "worker-"}, "spec": {}})
        assert rsp.status_code == 201
        names.add(rsp.json()["metadata"]["name"])

    assert len(names) == 30
    assert all(re.fullmatch(r"worker-[a-z0-9]{5}", name) for name in names)


def test_namespace_mismatch_between_url_and_body_is_400(http: httpx.Client) -> None:
    rsp = http.post(PODS, json=pod("p1", namespace="other"))
    assert rsp.status_code == 400


def test_resource_version_is_global_and_bumped_by_every_write(http: httpx.Client) -> None:
    first = http.post(PODS, json=pod("p1")).json()
    second = http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    patched = http.patch(f"{PODS}/p1", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)

    versions = [
        int(first["metadata"]["resourceVersion"]),
        int(second.json()["metadata"]["resourceVersion"]),
        int(patched.json()["metadata"]["resourceVersion"]),
    ]
    assert versions == sorted(set(versions))


def test_stale_resource_version_is_409_conflict(http: httpx.Client) -> None:
    stale = http.post(PODS, json=pod("p1")).json()
    http.patch(f"{PODS}/p1", json={"metadata": {"labels": {"a": "1"}}}, headers=MERGE)

    by_patch = http.patch(
        f"{PODS}/p1",
        json={"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}},
        headers=MERGE,
    )
    by_put = http.put(f"{PODS}/p1", json=stale)

    assert (by_patch.status_code, by_patch.json()["reason"]) == (409, "Conflict")
    assert (by_put.status_code, by_put.json()["reason"]) == (409, "Conflict")


def test_current_resource_version_is_accepted(http: httpx.Client) -> None:
    current = http.post(PODS, json=pod("p1")).json()["metadata"]["resourceVersion"]
    patch = {"metadata": {"resourceVersion": current, "labels": {"a": "1"}}}

    rsp = http.patch(f"{PODS}/p1", json=patch, headers=MERGE)

    assert rsp.status_code == 200
    assert rsp.json()["metadata"]["labels"] == {"a": "1"}


def test_json_patch_with_a_failed_test_op_is_422(http: httpx.Client) -> None:
    # kopf adds and removes its finalizers with exactly this guard.
    current = http.post(PODS, json=pod("p1")).json()["metadata"]["resourceVersion"]
    add_finalizer = {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]}

    stale = http.patch(
        f"{PODS}/p1",
        json=[{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}, add_finalizer],
        headers=JSON_PATCH,
    )
    fresh = http.patch(
        f"{PODS}/p1",
        json=[{"op": "test", "path": "/metadata/resourceVersion", "value": current}, add_finalizer],
        headers=JSON_PATCH,
    )

    assert stale.status_code == 422
    assert fresh.status_code == 200
    assert fresh.json()["metadata"]["finalizers"] == ["x/y"]


def test_generation_bumps_only_when_the_spec_changes(
    widgets: KubeApiServer, http: httpx.Client
) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets/w1"
    http.post(f"{WIDGETS}/namespaces/default/widgets", json=widget("w1", size=1))

    def generation() -> int:
        return int(http.get(url).json()["metadata"]["generation"])

    http.patch(url, json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    assert generation() == 1
    http.patch(f"{url}/status", json={"status": {"phase": "Ready"}}, headers=MERGE)
    assert generation() == 1
    http.patch(url, json={"spec": {"size": 2}}, headers=MERGE)
    assert generation() == 2
    http.patch(url, json={"spec": {"size": 2}}, headers=MERGE)
    assert generation() == 2


def test_noop_patch_keeps_the_resource_version(http: httpx.Client) -> None:
    created = http.post(PODS, json=pod("p1", labels={"a": "b"})).json()

    rsp = http.patch(f"{PODS}/p1", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)

    assert rsp.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_merge_patch_removes_keys_set_to_null(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1", labels={"a": "1", "b": "2"}))

    rsp = http.patch(f"{PODS}/p1", json={"metadata": {"labels": {"a": None}}}, headers=MERGE)

    assert rsp.json()["metadata"]["labels"] == {"b": "2"}


def test_unknown_patch_type_is_415(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))
    rsp = http.patch(f"{PODS}/p1", json={}, headers={"Content-Type": "application/x-patch+cbor"})
    assert rsp.status_code == 415


def test_put_replaces_the_whole_object(http: httpx.Client) -> None:
    created = http.post(
        "/api/v1/namespaces/default/configmaps",
        json={"metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"x": "1", "y": "2"}},
    ).json()
    replacement = {"metadata": {"name": "c"}, "data": {"z": "3"}}

    rsp = http.put("/api/v1/namespaces/default/configmaps/c", json=replacement)

    assert rsp.status_code == 200
    replaced = rsp.json()
    assert replaced["data"] == {"z": "3"}
    assert "labels" not in replaced["metadata"]
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]  # server-owned, kept
    assert int(replaced["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )


def test_put_with_another_name_is_400(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))
    assert http.put(f"{PODS}/p1", json=pod("p2")).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", f"{PODS}/nope", {}),
        ("PATCH", f"{PODS}/nope", {"json": {}, "headers": MERGE}),
        ("PATCH", f"{PODS}/nope/status", {"json": {}, "headers": MERGE}),
        ("PUT", f"{PODS}/nope", {"json": pod("nope")}),
        ("DELETE", f"{PODS}/nope", {}),
        ("GET", "/api/v1/namespaces/default/unicorns", {}),
        ("GET", "/apis/nowhere.example.com/v1/things", {}),
    ],
)
def test_missing_objects_and_resources_are_404(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    rsp = http.request(method, path, **kwargs)

    assert rsp.status_code == 404
    assert (rsp.json()["kind"], rsp.json()["reason"]) == ("Status", "NotFound")


def test_status_patch_changes_only_the_status(widgets: KubeApiServer, http: httpx.Client) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets/w1"
    http.post(f"{WIDGETS}/namespaces/default/widgets", json=widget("w1", size=1))

    rsp = http.patch(
        f"{url}/status",
        json={
            "spec": {"size": 99},
            "metadata": {"labels": {"x": "y"}},
            "status": {"phase": "Ready"},
        },
        headers=MERGE,
    )

    assert rsp.status_code == 200
    stored = http.get(url).json()
    assert stored["status"] == {"phase": "Ready"}
    assert stored["spec"] == {"size": 1}
    assert "labels" not in stored["metadata"]


def test_main_resource_patch_ignores_the_status(widgets: KubeApiServer, http: httpx.Client) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets/w1"
    http.post(f"{WIDGETS}/namespaces/default/widgets", json=widget("w1", size=1))
    http.patch(f"{url}/status", json={"status": {"phase": "Ready"}}, headers=MERGE)

    rsp = http.patch(url, json={"spec": {"size": 2}, "status": {"phase": "Hacked"}}, headers=MERGE)

    assert rsp.json()["spec"] == {"size": 2}
    assert rsp.json()["status"] == {"phase": "Ready"}


def test_status_json_patch_works_like_kopf_sends_it(
    widgets: KubeApiServer, http: httpx.Client
) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets/w1"
    current = http.post(f"{WIDGETS}/namespaces/default/widgets", json=widget("w1")).json()
    ops = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": current["metadata"]["resourceVersion"],
        },
        {"op": "add", "path": "/status", "value": {"ticks": 1}},
    ]

    rsp = http.patch(f"{url}/status", json=ops, headers=JSON_PATCH)

    assert rsp.status_code == 200
    assert rsp.json()["status"] == {"ticks": 1}


def test_status_subresource_of_a_resource_without_one_is_404(
    kube: KubeApiServer, http: httpx.Client
) -> None:
    http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    rsp = http.patch(
        "/api/v1/namespaces/default/configmaps/c/status", json={"status": {}}, headers=MERGE
    )
    assert rsp.status_code == 404


def test_create_over_http_drops_status_but_seeding_keeps_it(
    kube: KubeApiServer, http: httpx.Client
) -> None:
    http.post(PODS, json=pod("posted", status={"phase": "Running"}))
    kube.seed([pod("seeded", status={"phase": "Running"})])

    assert "status" not in http.get(f"{PODS}/posted").json()
    assert http.get(f"{PODS}/seeded").json()["status"] == {"phase": "Running"}


def test_finalizers_defer_deletion_until_released(http: httpx.Client) -> None:
    created = http.post(PODS, json={**pod("p1"), "metadata": {"name": "p1", "finalizers": ["x/y"]}})
    assert created.status_code == 201

    deleting = http.delete(f"{PODS}/p1")
    assert deleting.status_code == 200
    marked = http.get(f"{PODS}/p1").json()
    assert RFC3339_UTC.fullmatch(marked["metadata"]["deletionTimestamp"])

    again = http.delete(f"{PODS}/p1").json()  # a repeated delete changes nothing
    assert again["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]

    added = http.patch(
        f"{PODS}/p1", json={"metadata": {"finalizers": ["x/y", "x/z"]}}, headers=MERGE
    )
    assert added.status_code == 422  # no new finalizers while deleting

    released = http.patch(f"{PODS}/p1", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert released.status_code == 200
    assert http.get(f"{PODS}/p1").status_code == 404


def test_delete_without_finalizers_is_immediate(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))

    rsp = http.delete(f"{PODS}/p1")

    assert rsp.status_code == 200
    assert rsp.json()["metadata"]["name"] == "p1"
    assert http.get(f"{PODS}/p1").status_code == 404
    assert http.post(PODS, json=pod("p1")).status_code == 201  # the name is free again


def test_delete_preconditions_are_checked(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "other"}}

    rsp = http.request("DELETE", f"{PODS}/p1", json=options)

    assert rsp.status_code == 409
    assert http.get(f"{PODS}/p1").status_code == 200


def test_delete_collection_honours_the_selector(http: httpx.Client) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        http.post(PODS, json=pod(name, labels={"app": app}))

    rsp = http.delete(PODS, params={"labelSelector": "app=x"})

    assert rsp.status_code == 200
    remaining = [item["metadata"]["name"] for item in http.get(PODS).json()["items"]]
    assert remaining == ["c"]


def test_core_events_with_generate_name_are_stored_and_listable(http: httpx.Client) -> None:
    # The shape kopf posts: generateName, involvedObject, in the object's namespace.
    event: dict[str, Any] = {
        "metadata": {"namespace": "default", "generateName": "kopf-event-"},
        "type": "Normal",
        "reason": "Created",
        "message": "created",
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "p1", "namespace": "default"},
    }
    names = {
        http.post("/api/v1/namespaces/default/events", json=event).json()["metadata"]["name"]
        for _ in range(3)
    }
    other = {**event, "involvedObject": {**event["involvedObject"], "name": "p2"}}
    http.post("/api/v1/namespaces/default/events", json=other)

    listed = http.get(
        "/api/v1/namespaces/default/events",
        params={"fieldSelector": "involvedObject.name=p1,involvedObject.kind=Pod"},
    ).json()

    assert len(names) == 3
    assert listed["kind"] == "EventList"
    assert {item["metadata"]["name"] for item in listed["items"]} == names


def test_events_k8s_io_events_are_stored_and_listable(http: httpx.Client) -> None:
    url = "/apis/events.k8s.io/v1/namespaces/default/events"
    event = {
        "metadata": {"generateName": "ev-"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reason": "Created",
        "regarding": {"kind": "Pod", "name": "p1", "namespace": "default"},
        "note": "created",
        "type": "Normal",
    }
    assert http.post(url, json=event).status_code == 201

    listed = http.get(url, params={"fieldSelector": "regarding.name=p1"}).json()

    assert listed["apiVersion"] == "events.k8s.io/v1"
    assert [item["note"] for item in listed["items"]] == ["created"]


async def test_kubernetes_asyncio_core_round_trip(api: ApiClient) -> None:
    core = CoreV1Api(api)
    await core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="team-a")))
    created = await core.create_namespaced_config_map(
        "team-a", V1ConfigMap(metadata=V1ObjectMeta(name="cm"), data={"k": "v"})
    )
    patched = await core.patch_namespaced_config_map("cm", "team-a", {"data": {"k": "w"}})

    assert created.metadata.uid == patched.metadata.uid
    assert patched.data == {"k": "w"}
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_config_map("nope", "team-a")
    assert missing.value.status == 404
