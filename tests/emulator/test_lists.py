"""Lists: kind/apiVersion/resourceVersion, selectors, paging, cluster-wide listing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api

from tests.emulator._helpers import GROUP, WIDGETS, pod, widget
from tests.support.kube_emulator import KubeApiServer


def names(body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


def test_list_has_kind_api_version_and_resource_version(
    widgets: KubeApiServer, http: httpx.Client
) -> None:
    widgets.seed([pod("p1"), widget("w1")])

    pods = http.get("/api/v1/namespaces/default/pods").json()
    crs = http.get(f"{WIDGETS}/widgets").json()

    assert (pods["kind"], pods["apiVersion"]) == ("PodList", "v1")
    assert (crs["kind"], crs["apiVersion"]) == ("WidgetList", f"{GROUP}/v1")
    for body in (pods, crs):
        assert body["metadata"]["resourceVersion"].isdigit()
        assert all(item["kind"] and item["apiVersion"] for item in body["items"])


def test_list_resource_version_is_the_latest_write(http: httpx.Client) -> None:
    created = http.post("/api/v1/namespaces/default/pods", json=pod("p1")).json()
    listed = http.get("/api/v1/namespaces/default/configmaps").json()
    assert listed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_cluster_wide_list_spans_namespaces(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.seed([pod("a", "ns1"), pod("b", "ns2"), pod("c", "default")])

    everywhere = http.get("/api/v1/pods").json()
    in_ns1 = http.get("/api/v1/namespaces/ns1/pods").json()

    assert sorted(names(everywhere)) == ["a", "b", "c"]
    assert names(in_ns1) == ["a"]


LABELLED = {
    "web-1": {"app": "web", "tier": "front"},
    "web-2": {"app": "web", "tier": "back"},
    "db-1": {"app": "db"},
    "bare": {},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", {"web-1", "web-2"}),
        ("app==web", {"web-1", "web-2"}),
        ("app!=web", {"db-1", "bare"}),  # != matches objects without the label, too
        ("app in (web,db)", {"web-1", "web-2", "db-1"}),
        ("app notin (web)", {"db-1", "bare"}),
        ("tier", {"web-1", "web-2"}),
        ("!tier", {"db-1", "bare"}),
        ("app=web,tier=front", {"web-1"}),
        ("app in (web, db),!tier", {"db-1"}),
    ],
)
def test_label_selectors(
    kube: KubeApiServer, http: httpx.Client, selector: str, expected: set[str]
) -> None:
    kube.seed([pod(name, labels=labels) for name, labels in LABELLED.items()])

    rsp = http.get("/api/v1/namespaces/default/pods", params={"labelSelector": selector})

    assert set(names(rsp.json())) == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=a", {"a"}),
        ("metadata.name==a", {"a"}),
        ("metadata.name!=a", {"b", "c"}),
        ("metadata.namespace=ns2", {"c"}),
        ("metadata.namespace!=ns2,metadata.name!=a", {"b"}),
        ("spec.nodeName=node-1", {"b"}),
    ],
)
def test_field_selectors(
    kube: KubeApiServer, http: httpx.Client, selector: str, expected: set[str]
) -> None:
    kube.seed(
        [
            pod("a", "ns1"),
            {**pod("b", "ns1"), "spec": {"nodeName": "node-1", "containers": []}},
            pod("c", "ns2"),
        ]
    )

    rsp = http.get("/api/v1/pods", params={"fieldSelector": selector})

    assert set(names(rsp.json())) == expected


@pytest.mark.parametrize("selector", ["app in (web", "=web", "app=we b"])
def test_malformed_label_selector_is_400(http: httpx.Client, selector: str) -> None:
    rsp = http.get("/api/v1/pods", params={"labelSelector": selector})
    assert (rsp.status_code, rsp.json()["reason"]) == (400, "BadRequest")


def test_paging_returns_every_object_exactly_once(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.seed(pod(f"pod-{i:04d}", f"ns-{i % 3}") for i in range(1200))
    seen: list[tuple[str, str]] = []
    list_versions = set()
    params = {"limit": "100"}
    pages = 0
    while True:
        body = http.get("/api/v1/pods", params=params).json()
        pages += 1
        assert len(body["items"]) <= 100
        seen += [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]]
        list_versions.add(body["metadata"]["resourceVersion"])
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 1200 - len(seen)
        params = {"limit": "100", "continue": token}

    assert pages == 12
    assert len(seen) == len(set(seen)) == 1200
    assert len(list_versions) == 1  # one consistent list, as kopf expects


def test_paging_combines_with_selectors(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.seed(pod(f"p{i:02d}", labels={"even": str(i % 2 == 0).lower()}) for i in range(30))
    params = {"limit": "4", "labelSelector": "even=true"}
    collected: list[str] = []
    while True:
        body = http.get("/api/v1/namespaces/default/pods", params=params).json()
        collected += names(body)
        if not body["metadata"].get("continue"):
            break
        params = {**params, "continue": body["metadata"]["continue"]}

    assert collected == [f"p{i:02d}" for i in range(0, 30, 2)]


def test_invalid_continue_token_is_400(http: httpx.Client) -> None:
    rsp = http.get("/api/v1/pods", params={"limit": "1", "continue": "not-a-token"})
    assert rsp.status_code == 400


async def test_kubernetes_asyncio_lists_with_selectors(kube: KubeApiServer, api: ApiClient) -> None:
    kube.seed([pod("a", labels={"app": "x"}), pod("b", labels={"app": "y"})])

    # Without the models: an emulator's pods need not satisfy their required fields.
    rsp: Any = await CoreV1Api(api).list_namespaced_pod(
        "default", label_selector="app=x", _preload_content=False
    )
    body = json.loads(await rsp.read())

    assert body["kind"] == "PodList"
    assert names(body) == ["a"]
