"""Discovery: the core group, namespaces, and CRDs registering their resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes_asyncio.client import ApiClient, ApisApi, CoreApi

from tests.emulator._helpers import GROUP, WIDGETS, widget, widget_crd
from tests.support.kube_emulator import KubeApiServer, crd_from_file, crds_from_file

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def resources_of(http: httpx.Client, group_version_path: str) -> dict[str, dict[str, Any]]:
    body = http.get(group_version_path).json()
    return {entry["name"]: entry for entry in body["resources"]}


def test_core_group_version_is_v1(http: httpx.Client) -> None:
    body = http.get("/api/v1").json()

    assert (body["kind"], body["groupVersion"]) == ("APIResourceList", "v1")
    pods = next(entry for entry in body["resources"] if entry["name"] == "pods")
    assert (pods["kind"], pods["namespaced"]) == ("Pod", True)
    assert "pods/status" in {entry["name"] for entry in body["resources"]}


def test_namespaces_can_be_listed_fetched_and_created(http: httpx.Client) -> None:
    listed = http.get("/api/v1/namespaces").json()
    created = http.post("/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
    fetched = http.get("/api/v1/namespaces/team-a").json()

    assert listed["kind"] == "NamespaceList"
    assert {"default", "kube-system"} <= {item["metadata"]["name"] for item in listed["items"]}
    assert created.status_code == 201
    assert fetched["status"] == {"phase": "Active"}
    assert fetched["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert "namespace" not in fetched["metadata"]  # cluster-scoped


def test_posted_crd_is_registered_into_discovery(http: httpx.Client) -> None:
    crd = widget_crd(versions=("v1beta1", "v1"))
    crd["spec"]["versions"][0]["subresources"] = {}  # the status subresource only in v1
    crd["spec"]["versions"].append({**crd["spec"]["versions"][0], "name": "v2", "served": False})

    rsp = http.post(CRDS, json=crd)

    assert rsp.status_code == 201
    conditions = {c["type"]: c["status"] for c in rsp.json()["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    group = next(g for g in http.get("/apis").json()["groups"] if g["name"] == GROUP)
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    assert http.get(f"/apis/{GROUP}").json()["preferredVersion"]["version"] == "v1"

    v1 = resources_of(http, f"/apis/{GROUP}/v1")
    assert v1["widgets"]["kind"] == "Widget"
    assert v1["widgets"]["singularName"] == "widget"
    assert v1["widgets"]["namespaced"] is True
    assert v1["widgets"]["shortNames"] == ["wdg"]
    assert v1["widgets"]["categories"] == ["opsreport"]
    assert {"list", "watch", "patch"} <= set(v1["widgets"]["verbs"])
    assert "widgets/status" in v1
    assert "widgets/status" not in resources_of(http, f"/apis/{GROUP}/v1beta1")
    assert http.get(f"/apis/{GROUP}/v2").status_code == 404  # not served


def test_cluster_scoped_crd(http: httpx.Client) -> None:
    http.post(CRDS, json=widget_crd(scope="Cluster"))

    assert resources_of(http, f"/apis/{GROUP}/v1")["widgets"]["namespaced"] is False
    created = http.post(f"{WIDGETS}/widgets", json=widget("w1", namespace=None))
    assert created.status_code == 201
    assert "namespace" not in created.json()["metadata"]
    assert http.get(f"{WIDGETS}/namespaces/default/widgets/w1").status_code == 404


def test_deleting_a_crd_unregisters_it_and_its_objects(
    widgets: KubeApiServer, http: httpx.Client
) -> None:
    widgets.seed([widget("w1")])

    assert http.delete(f"{CRDS}/widgets.{GROUP}").status_code == 200

    assert http.get(f"/apis/{GROUP}/v1").status_code == 404
    assert GROUP not in {g["name"] for g in http.get("/apis").json()["groups"]}
    assert http.get(f"{WIDGETS}/widgets").status_code == 404
    http.post(CRDS, json=widget_crd())
    assert http.get(f"{WIDGETS}/widgets").json()["items"] == []


def test_apply_crd_from_a_file_registers_and_updates(
    kube: KubeApiServer, http: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "crds.yaml"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    other = widget_crd()
    other["metadata"]["name"] = f"gadgets.{GROUP}"
    other["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets"}
    path.write_text(yaml.safe_dump_all([namespace, widget_crd(), other]))

    assert [crd["metadata"]["name"] for crd in crds_from_file(path)] == [
        f"widgets.{GROUP}",
        f"gadgets.{GROUP}",
    ]
    kube.apply_crd(crd_from_file(path))
    kube.apply_crd(widget_crd(versions=("v1", "v2")))  # applying again updates it

    assert "widgets" in resources_of(http, f"/apis/{GROUP}/v1")
    assert "widgets" in resources_of(http, f"/apis/{GROUP}/v2")
    assert len(http.get(CRDS).json()["items"]) == 1


async def test_kubernetes_asyncio_discovery(widgets: KubeApiServer, api: ApiClient) -> None:
    core = await CoreApi(api).get_api_versions()
    groups = await ApisApi(api).get_api_versions()

    assert core.versions == ["v1"]
    assert GROUP in {group.name for group in groups.groups}


def test_non_resource_endpoints(http: httpx.Client) -> None:
    assert http.get("/version").json()["major"] == "1"
    assert http.get("/api").json()["versions"] == ["v1"]
    assert http.get("/healthz").text == "ok"
    assert http.get("/openapi/v2").status_code == 404
