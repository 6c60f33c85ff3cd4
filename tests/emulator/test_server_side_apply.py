"""Server-side apply and managedFields (tests/support/server_side_apply.py).

Expected answers follow the API server and structured-merge-diff: FieldsV1 notation, the
manager names, the conflict wording and ``details.causes``, pruning of fields an applier
stops applying, and ``dryRun=All``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.emulator._helpers import GROUP, MERGE, kubectl_path, pod
from tests.support.kube_emulator import KubeApiServer
from tests.support.server_side_apply import (
    display_path,
    manager_from_user_agent,
)

APPLY = {"Content-Type": "application/apply-patch+yaml"}
GIZMOS = f"/apis/{GROUP}/v1/namespaces/default/gizmos"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
_STRING = {"type": "string"}
_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer"},
                "color": _STRING,
                "tags": {"type": "array", "items": _STRING, "x-kubernetes-list-type": "set"},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": _STRING, "port": {"type": "integer"}},
                    },
                },
                "args": {"type": "array", "items": _STRING},  # atomic by default
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "additionalProperties": _STRING,
                },
                "extra": {"type": "object", "additionalProperties": _STRING},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "phase": _STRING,
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {
                        "type": "object",
                        "properties": {"type": _STRING, "status": _STRING},
                    },
                },
            },
        },
    },
}


def gizmo_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gizmos.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": _SCHEMA},
                }
            ],
        },
    }


def gizmo(name: str = "g1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gizmo",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


@pytest.fixture
def gizmos(kube: KubeApiServer) -> KubeApiServer:
    kube.apply_crd(gizmo_crd())
    return kube


def apply(
    http: httpx.Client,
    obj: dict[str, Any],
    manager: str | None,
    *,
    force: bool | None = None,
    dry_run: bool = False,
    url: str | None = None,
) -> httpx.Response:
    params: dict[str, str] = {}
    if manager is not None:
        params["fieldManager"] = manager
    if force is not None:
        params["force"] = str(force).lower()
    if dry_run:
        params["dryRun"] = "All"
    url = url or f"{GIZMOS}/{obj['metadata']['name']}"
    return http.patch(url, params=params, content=json.dumps(obj).encode(), headers=APPLY)


def managed(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """fieldsV1 by (manager, operation, subresource)."""
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
        for e in obj["metadata"].get("managedFields", [])
    }


# ---- apply basics ----


def test_apply_creates_with_an_apply_entry_in_fields_v1(gizmos: KubeApiServer, http: httpx.Client):
    body = gizmo(size=1, tags=["a"], ports=[{"name": "http", "port": 80}])
    body["metadata"]["labels"] = {"app": "x"}

    rsp = apply(http, body, "argocd-controller")

    assert rsp.status_code == 201
    obj = rsp.json()
    assert obj["metadata"]["uid"]
    assert obj["spec"] == body["spec"]
    [entry] = obj["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "fieldsType")} == {
        "manager": "argocd-controller",
        "operation": "Apply",
        "apiVersion": f"{GROUP}/v1",
        "fieldsType": "FieldsV1",
    }
    assert entry["time"].endswith("Z")
    assert "subresource" not in entry
    # Struct fields are not members, map keys and list items are; name/namespace never owned.
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:ports": {'k:{"name":"http"}': {".": {}, "f:name": {}, "f:port": {}}},
            "f:size": {},
            "f:tags": {'v:"a"': {}},
        },
    }
    assert http.get(f"{GIZMOS}/g1").json() == obj


def test_apply_needs_a_field_manager(gizmos: KubeApiServer, http: httpx.Client) -> None:
    rsp = apply(http, gizmo(size=1), None)

    assert rsp.status_code == 422
    body = rsp.json()
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )
    assert body["details"]["causes"][0]["field"] == "fieldManager"
    assert http.get(f"{GIZMOS}/g1").status_code == 404


def test_force_is_only_for_apply(gizmos: KubeApiServer, http: httpx.Client) -> None:
    apply(http, gizmo(size=1), "a")
    rsp = http.patch(f"{GIZMOS}/g1", params={"force": "true"}, json={}, headers=MERGE)
    assert rsp.status_code == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in rsp.json()["message"]


def test_apply_accepts_yaml(gizmos: KubeApiServer, http: httpx.Client) -> None:
    text = yaml.safe_dump(gizmo(size=2, color="red"))
    rsp = http.patch(
        f"{GIZMOS}/g1", params={"fieldManager": "flux"}, content=text.encode(), headers=APPLY
    )
    assert rsp.status_code == 201
    assert rsp.json()["spec"] == {"size": 2, "color": "red"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"apiVersion": f"{GROUP}/v2"}, "Incorrect version specified in apply patch"),
        ({"metadata": {"name": "other"}}, "does not match the name on the URL"),
        ({"metadata": {"name": "g1", "managedFields": []}}, "metadata.managedFields must be nil"),
        ({"kind": None}, "Object 'Kind' is missing"),
    ],
)
def test_bad_apply_bodies_are_400(
    gizmos: KubeApiServer, http: httpx.Client, change: dict[str, Any], message: str
) -> None:
    body = {**gizmo(size=1), **change}
    rsp = apply(http, body, "a", url=f"{GIZMOS}/g1")
    assert rsp.status_code == 400
    assert message in rsp.json()["message"]


def test_reapplying_the_same_is_a_no_op(gizmos: KubeApiServer, http: httpx.Client) -> None:
    first = apply(http, gizmo(size=1), "a").json()
    again = apply(http, gizmo(size=1), "a", force=False)
    assert again.status_code == 200
    assert again.json() == first  # same resourceVersion, same managedFields time


# ---- updates ----


def test_updates_are_owned_by_the_user_agent_or_field_manager(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    body = gizmo(size=1)
    body["metadata"]["labels"] = {"app": "x"}
    http.post(GIZMOS, json=body, headers={"User-Agent": "kopf/1.45.2 (python)"})
    http.patch(
        f"{GIZMOS}/g1",
        params={"fieldManager": "editor"},
        json={"spec": {"color": "blue"}},
        headers=MERGE,
    )

    fields = managed(http.get(f"{GIZMOS}/g1").json())

    # A create is an update from the empty object: added maps are members (".").
    assert fields[("kopf", "Update", "")] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {".": {}, "f:size": {}},
    }
    assert fields[("editor", "Update", "")] == {"f:spec": {"f:color": {}}}


def test_user_agent_prefix() -> None:
    assert manager_from_user_agent("OpenAPI-Generator/33.3.0+snapshot/python") == (
        "OpenAPI-Generator"
    )
    assert manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_from_user_agent("x" * 200) == "x" * 128


def test_an_update_takes_over_the_fields_it_changes(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    apply(http, gizmo(size=1, color="red"), "argocd-controller")
    http.patch(
        f"{GIZMOS}/g1", params={"fieldManager": "hpa"}, json={"spec": {"size": 5}}, headers=MERGE
    )

    fields = managed(http.get(f"{GIZMOS}/g1").json())

    assert fields[("argocd-controller", "Apply", "")] == {"f:spec": {"f:color": {}}}
    assert fields[("hpa", "Update", "")] == {"f:spec": {"f:size": {}}}


def test_an_unchanged_write_keeps_managed_fields(gizmos: KubeApiServer, http: httpx.Client) -> None:
    before = apply(http, gizmo(size=1), "a").json()
    after = http.patch(
        f"{GIZMOS}/g1", params={"fieldManager": "b"}, json={"spec": {"size": 1}}, headers=MERGE
    ).json()
    assert after == before


def test_status_writes_are_recorded_with_their_subresource(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    body = gizmo(size=1)
    body["status"] = {"phase": "ignored"}
    apply(http, body, "argocd-controller")
    status = {"status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}}
    http.patch(f"{GIZMOS}/g1/status", json=status, headers={**MERGE, "User-Agent": "op/1"})

    obj = http.get(f"{GIZMOS}/g1").json()

    assert obj["status"] == status["status"]
    fields = managed(obj)
    assert fields[("argocd-controller", "Apply", "")] == {"f:spec": {"f:size": {}}}
    assert fields[("op", "Update", "status")] == {
        "f:status": {
            ".": {},
            "f:conditions": {
                ".": {},  # an added list is a member too
                'k:{"type":"Ready"}': {".": {}, "f:status": {}, "f:type": {}},
            },
            "f:phase": {},
        }
    }
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == "op")
    assert entry["subresource"] == "status"


def test_apply_to_status(gizmos: KubeApiServer, http: httpx.Client) -> None:
    apply(http, gizmo(size=1), "argocd-controller")
    status = {**gizmo(), "status": {"phase": "Ready"}}
    del status["spec"]

    rsp = apply(http, status, "op", url=f"{GIZMOS}/g1/status")

    assert rsp.status_code == 200
    obj = rsp.json()
    assert (obj["spec"], obj["status"]) == ({"size": 1}, {"phase": "Ready"})
    assert managed(obj)[("op", "Apply", "status")] == {"f:status": {"f:phase": {}}}


# ---- conflicts ----


def test_changing_another_managers_field_conflicts(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    apply(http, gizmo(size=1, color="red"), "argocd-controller")
    http.patch(
        f"{GIZMOS}/g1", params={"fieldManager": "hpa"}, json={"spec": {"size": 5}}, headers=MERGE
    )

    rsp = apply(http, gizmo(size=3, color="red"), "argocd-controller", force=False)

    assert rsp.status_code == 409
    body = rsp.json()
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        f'Apply failed with 1 conflict: conflict with "hpa" using {GROUP}/v1: .spec.size'
    )
    assert body["details"]["causes"] == [
        {
            "type": "FieldManagerConflict",
            "message": f'conflict with "hpa" using {GROUP}/v1',
            "field": ".spec.size",
        }
    ]
    assert http.get(f"{GIZMOS}/g1").json()["spec"]["size"] == 5


def test_force_takes_the_field_over(gizmos: KubeApiServer, http: httpx.Client) -> None:
    apply(http, gizmo(size=1), "argocd-controller")
    http.patch(
        f"{GIZMOS}/g1", params={"fieldManager": "hpa"}, json={"spec": {"size": 5}}, headers=MERGE
    )

    obj = apply(http, gizmo(size=3), "argocd-controller", force=True).json()

    assert obj["spec"]["size"] == 3
    fields = managed(obj)
    assert fields == {("argocd-controller", "Apply", ""): {"f:spec": {"f:size": {}}}}


def test_applying_the_same_value_shares_the_field(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    apply(http, gizmo(size=1), "a")
    rsp = apply(http, gizmo(size=1), "b")

    assert rsp.status_code == 200
    fields = managed(rsp.json())
    assert fields[("a", "Apply", "")] == fields[("b", "Apply", "")] == {"f:spec": {"f:size": {}}}
    # Shared: either changing it now conflicts with the other.
    assert apply(http, gizmo(size=2), "b").status_code == 409


def test_conflicts_name_list_items_and_several_managers(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    apply(http, gizmo(ports=[{"name": "http", "port": 80}], args=["-v"]), "a")

    rsp = apply(http, gizmo(ports=[{"name": "http", "port": 81}], args=["-q"]), "b")

    assert rsp.status_code == 409
    assert rsp.json()["message"] == (
        'Apply failed with 2 conflicts: conflicts with "a":\n'
        "- .spec.args\n"
        '- .spec.ports[name="http"].port'
    )


def test_a_seeded_object_belongs_to_before_first_apply(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    gizmos.seed([gizmo(size=1)])  # in-process: no managedFields

    rsp = apply(http, gizmo(size=2), "argocd-controller")

    assert rsp.status_code == 409
    assert 'conflict with "before-first-apply" using' in rsp.json()["message"]
    assert apply(http, gizmo(size=1), "argocd-controller").status_code == 200


# ---- pruning ----


def test_a_field_no_longer_applied_is_removed(gizmos: KubeApiServer, http: httpx.Client) -> None:
    apply(http, gizmo(size=1, color="red", tags=["a", "b"], extra={"x": "1"}), "a")

    obj = apply(http, gizmo(size=1, tags=["a"]), "a").json()

    assert obj["spec"] == {"size": 1, "tags": ["a"]}
    assert managed(obj)[("a", "Apply", "")] == {"f:spec": {"f:size": {}, "f:tags": {'v:"a"': {}}}}


def test_withdrawn_labels_go_and_the_rest_of_metadata_stays(
    gizmos: KubeApiServer, http: httpx.Client
) -> None:
    labelled = gizmo(size=1)
    labelled["metadata"]["labels"] = {"app": "x"}
    created = apply(http, labelled, "a").json()
    note = {"metadata": {"annotations": {"note": "kept"}}}
    gizmos.patch_object(f"{GROUP}/v1", "gizmos", "default", "g1", note)  # in-process: unowned

    obj = apply(http, gizmo(size=1), "a").json()

    assert "labels" not in obj["metadata"]
    assert obj["metadata"]["annotations"] == {"note": "kept"}  # never applied by "a"
    assert obj["metadata"]["uid"] == created["metadata"]["uid"]
    assert obj["metadata"]["name"] == "g1"


def test_a_field_another_manager_owns_is_kept(gizmos: KubeApiServer, http: httpx.Client) -> None:
    apply(http, gizmo(size=1, color="red"), "a")
    apply(http, gizmo(color="red"), "b")  # co-owns color

    obj = apply(http, gizmo(size=1), "a").json()

    assert obj["spec"] == {"size": 1, "color": "red"}
    assert managed(obj)[("b", "Apply", "")] == {"f:spec": {"f:color": {}}}


def test_fields_set_by_updaters_survive_an_apply(gizmos: KubeApiServer, http: httpx.Client):
    apply(http, gizmo(size=1), "argocd-controller")
    patch = {"metadata": {"annotations": {"kopf": "x"}, "finalizers": ["f"]}}
    http.patch(f"{GIZMOS}/g1", json=patch, headers={**MERGE, "User-Agent": "kopf/1"})

    obj = apply(http, gizmo(size=1), "argocd-controller").json()

    assert obj["metadata"]["annotations"] == {"kopf": "x"}
    assert obj["metadata"]["finalizers"] == ["f"]
    assert managed(obj)[("kopf", "Update", "")] == {
        "f:metadata": {
            "f:annotations": {".": {}, "f:kopf": {}},
            "f:finalizers": {".": {}, 'v:"f"': {}},
        }
    }


# ---- lists ----


def test_map_lists_merge_by_key_between_appliers(gizmos: KubeApiServer, http: httpx.Client):
    apply(http, gizmo(ports=[{"name": "http", "port": 80}]), "a")

    obj = apply(http, gizmo(ports=[{"name": "metrics", "port": 9090}]), "b").json()

    assert obj["spec"]["ports"] == [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]
    # "a" withdrawing its item removes only that one.
    obj = apply(http, gizmo(), "a").json()
    assert obj["spec"]["ports"] == [{"name": "metrics", "port": 9090}]


def test_atomic_lists_and_maps_are_replaced_whole(gizmos: KubeApiServer, http: httpx.Client):
    apply(http, gizmo(args=["-a", "-b"], selector={"x": "1", "y": "2"}), "a")

    obj = apply(http, gizmo(args=["-c"], selector={"z": "3"}), "a").json()

    assert obj["spec"]["args"] == ["-c"]
    assert obj["spec"]["selector"] == {"z": "3"}
    assert managed(obj)[("a", "Apply", "")] == {"f:spec": {"f:args": {}, "f:selector": {}}}


def test_display_path() -> None:
    path = ("f:spec", 'k:{"name":"http"}', "f:port")
    assert display_path(path) == '.spec[name="http"].port'
    assert display_path(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


# ---- dry run ----


def test_dry_run_apply_stores_nothing(gizmos: KubeApiServer, http: httpx.Client) -> None:
    created = apply(http, gizmo(size=1), "a", dry_run=True)
    assert created.status_code == 201
    assert created.json()["spec"] == {"size": 1}
    assert http.get(f"{GIZMOS}/g1").status_code == 404

    stored = apply(http, gizmo(size=1), "a").json()
    changed = apply(http, gizmo(size=2), "a", dry_run=True).json()

    assert changed["spec"] == {"size": 2}
    assert changed["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert http.get(f"{GIZMOS}/g1").json() == stored


def test_dry_run_create_and_patch(kube: KubeApiServer, http: httpx.Client) -> None:
    rsp = http.post(CONFIGMAPS, params={"dryRun": "All"}, json={"metadata": {"name": "c"}})
    assert rsp.status_code == 201
    assert http.get(f"{CONFIGMAPS}/c").status_code == 404

    http.post(CONFIGMAPS, json={"metadata": {"name": "c"}, "data": {"a": "1"}})
    rsp = http.patch(
        f"{CONFIGMAPS}/c", params={"dryRun": "All"}, json={"data": {"a": "2"}}, headers=MERGE
    )
    assert rsp.json()["data"] == {"a": "2"}
    assert http.get(f"{CONFIGMAPS}/c").json()["data"] == {"a": "1"}


def test_dry_run_values_and_deletes(kube: KubeApiServer, http: httpx.Client) -> None:
    rsp = http.post("/api/v1/namespaces/default/pods", params={"dryRun": "Some"}, json=pod("p"))
    assert rsp.status_code == 422
    assert 'dryRun: Unsupported value: "Some"' in rsp.json()["message"]
    http.post("/api/v1/namespaces/default/pods", json=pod("p"))
    rsp = http.delete("/api/v1/namespaces/default/pods/p", params={"dryRun": "All"})
    assert rsp.status_code == 400  # not emulated: refused rather than deleting
    assert http.get("/api/v1/namespaces/default/pods/p").status_code == 200


def test_builtin_configmap_fields(kube: KubeApiServer, http: httpx.Client) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    applied = apply(http, body, "flux", url=f"{CONFIGMAPS}/c").json()
    assert managed(applied)[("flux", "Apply", "")] == {"f:data": {"f:k": {}}}

    http.post(CONFIGMAPS, json={**body, "metadata": {"name": "d"}}, headers={"User-Agent": "x/1"})
    assert managed(http.get(f"{CONFIGMAPS}/d").json())[("x", "Update", "")] == {
        "f:data": {".": {}, "f:k": {}}
    }


# ---- kubectl ----


def test_kubectl_server_side_apply_and_diff(gizmos: KubeApiServer, tmp_path: Path) -> None:
    kubectl = kubectl_path()
    if kubectl is None:
        pytest.skip("kubectl is not available")
    config = gizmos.write_kubeconfig(tmp_path / "kubeconfig")
    manifest = tmp_path / "gizmo.yaml"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}
        return subprocess.run(
            [kubectl, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    manifest.write_text(yaml.safe_dump(gizmo(size=1, tags=["a"])))
    ssa = ["--server-side", "--field-manager=argocd-controller", "-f", str(manifest)]
    applied = run("apply", "--validate=false", *ssa)
    assert applied.returncode == 0, applied.stderr
    assert "serverside-applied" in applied.stdout
    assert run("diff", *ssa).returncode == 0

    manifest.write_text(yaml.safe_dump(gizmo(size=2, tags=["a"])))
    diff = run("diff", *ssa)
    assert diff.returncode == 1, diff.stderr
    assert "-  size: 1" in diff.stdout
    assert "+  size: 2" in diff.stdout
    assert gizmos.get(f"{GROUP}/v1", "gizmos", "default", "g1")["spec"]["size"] == 1  # type: ignore[index]

    run("patch", "gizmo", "g1", "--type=merge", "-p", '{"spec":{"size":7}}')
    conflict = run("apply", "--validate=false", *ssa)
    assert conflict.returncode == 1
    assert 'conflict with "kubectl-patch"' in conflict.stderr
    forced = run("apply", "--validate=false", "--force-conflicts", *ssa)
    assert forced.returncode == 0, forced.stderr
