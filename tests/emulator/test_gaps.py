"""What the emulator does NOT model, each pinned by a test of today's behaviour.

A test here failing means the gap closed (or moved): update this list and the test.
Test these things some other way (a real cluster, schema validation, unit tests).

Gaps that remain open in tests/support/kube_emulator.py (kmock 0.8 + FaithfulEmulator):

Patching and writing
- Strategic merge patch is applied as a JSON merge patch: lists are replaced whole, not
  merged by key (e.g. containers by name); ``$patch``/``$retainKeys`` directives are not
  understood.
- Server-side apply and managedFields (tests/support/server_side_apply.py) know list types
  from CRD schemas and ObjectMeta only: other lists of built-in types are atomic (two
  appliers of a pod's containers conflict where a real server merges them by name). An
  apply is not defaulted or pruned from the schema and passes no admission; ``null`` in an
  applied configuration is dropped; there is no ten-updaters cap (``ancient-changes``) and
  no migration from client-side apply's ``last-applied-configuration``.
- ``dryRun=All`` works for create, update and patch; on DELETE and on CRDs it answers 400
  rather than validating without writing.
- ``propagationPolicy`` and ``gracePeriodSeconds`` are ignored; nothing has graceful
  deletion (a pod without finalizers is gone at once).
- Generation bumps on any change outside metadata and status, for every resource (a real
  server has no generation on e.g. ConfigMaps, and without a status subresource also bumps
  it on status changes).

Schemas, formats, admission
- No OpenAPI (``/openapi/v2``, ``/openapi/v3``): ``kubectl apply`` needs
  ``--validate=false``; CRD schemas are not validated, defaulted or pruned, and CEL
  ``x-kubernetes-validations`` are not evaluated.
- No server-side Table output: kubectl prints its own columns and ignores
  ``additionalPrinterColumns``.
- No protobuf and no aggregated discovery (kubectl falls back to JSON and legacy discovery).
- No admission: webhook configurations are stored but never called; no RBAC,
  authentication (any token or none is accepted), quotas or limit ranges; no TLS.
- No validation of names, required fields or immutable fields (beyond server-owned
  metadata); field selectors accept any field path where a real server answers 400 for
  unsupported field labels.

Controllers and lifecycle
- No garbage collection through ownerReferences.
- Namespace existence is not checked: objects may live in a namespace that does not exist.
  Deleting a namespace deletes neither its objects nor goes through ``Terminating``.
- No pod lifecycle (kubelet, scheduler), no workload controllers, no Endpoints.

Storage and watches
- Every version of a multi-version resource is a separate store (no CRD conversion).
  (core/v1 and events.k8s.io/v1 Events share one: tests/emulator/test_events.py.)
- No periodic watch BOOKMARKs (only the initial-events-end one with sendInitialEvents).
  A watch resumes from the last 100,000 changes; older versions get 410 Gone, as after
  etcd compaction (``KubeApiServer.compact()`` forces it).
- Lists always read the latest state: ``resourceVersion``/``resourceVersionMatch`` on
  lists are ignored, continue tokens never expire, and later pages read live data.
- Subresources other than ``/status`` (scale, log, exec, eviction, binding, token,
  proxy...) answer 404.
- kmock DSL reactions do not apply to resource paths (use ``inject_fault``), and only the
  last request is kept in ``emulator.requests`` (use ``request_count``).
"""

from __future__ import annotations

import httpx

from tests.emulator._helpers import GROUP, STRATEGIC, pod, widget, widget_crd
from tests.support.kube_emulator import KubeApiServer

PODS = "/api/v1/namespaces/default/pods"


def test_strategic_merge_replaces_lists_instead_of_merging_by_key(http: httpx.Client) -> None:
    two = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
    http.post(PODS, json={"metadata": {"name": "p1"}, "spec": two})

    patch = {"spec": {"containers": [{"name": "b", "image": "z"}]}}
    patched = http.patch(f"{PODS}/p1", json=patch, headers=STRATEGIC).json()

    assert patched["spec"]["containers"] == [{"name": "b", "image": "z"}]  # a real server keeps "a"


def test_apply_treats_builtin_lists_as_atomic(http: httpx.Client) -> None:
    apply = {"Content-Type": "application/apply-patch+yaml"}
    first, second = pod("p1"), pod("p1")
    second["spec"]["containers"] = [{"name": "sidecar", "image": "envoy"}]
    http.patch(f"{PODS}/p1", params={"fieldManager": "a"}, json=first, headers=apply)

    rsp = http.patch(f"{PODS}/p1", params={"fieldManager": "b"}, json=second, headers=apply)

    assert rsp.status_code == 409  # a real server merges containers by name: no conflict


def test_dry_run_delete_is_refused(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))
    rsp = http.delete(f"{PODS}/p1", params={"dryRun": "All"})
    assert rsp.status_code == 400
    assert http.get(f"{PODS}/p1").status_code == 200


def test_no_openapi(http: httpx.Client) -> None:
    assert http.get("/openapi/v2").status_code == 404
    assert http.get("/openapi/v3").status_code == 404


def test_no_server_side_table(http: httpx.Client) -> None:
    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    assert http.get(PODS, headers=table).json()["kind"] == "PodList"


def test_any_or_no_token_is_accepted(kube: KubeApiServer) -> None:
    with httpx.Client(base_url=kube.url, trust_env=False) as anonymous:
        assert anonymous.get(PODS).status_code == 200
        assert anonymous.get(PODS, headers={"Authorization": "Bearer bogus"}).status_code == 200


def test_crd_schemas_are_not_enforced(widgets: KubeApiServer, http: httpx.Client) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = f"gadgets.{GROUP}"
    crd["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets"}
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object",
        "properties": {"spec": {"type": "object", "required": ["size"]}},
    }
    widgets.apply_crd(crd)

    rsp = http.post(
        f"/apis/{GROUP}/v1/namespaces/default/gadgets", json={"metadata": {"name": "g"}, "spec": {}}
    )

    assert rsp.status_code == 201  # a real server answers 422: spec.size is required


def test_owner_references_are_not_garbage_collected(
    kube: KubeApiServer, http: httpx.Client
) -> None:
    owner = http.post(PODS, json=pod("owner")).json()
    reference = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    dependent = pod("dependent")
    dependent["metadata"]["ownerReferences"] = [reference]
    http.post(PODS, json=dependent)

    http.delete(f"{PODS}/owner")

    assert http.get(f"{PODS}/dependent").status_code == 200


def test_namespace_existence_is_not_checked(http: httpx.Client) -> None:
    rsp = http.post("/api/v1/namespaces/ghost/pods", json=pod("p1", namespace="ghost"))
    assert rsp.status_code == 201
    assert http.get("/api/v1/namespaces/ghost").status_code == 404


def test_deleting_a_namespace_keeps_its_objects(kube: KubeApiServer, http: httpx.Client) -> None:
    http.post("/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
    kube.seed([pod("p1", namespace="team-a")])

    assert http.delete("/api/v1/namespaces/team-a").status_code == 200

    assert http.get("/api/v1/namespaces/team-a").status_code == 404
    assert http.get("/api/v1/namespaces/team-a/pods/p1").status_code == 200


def test_crd_versions_are_separate_stores(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.apply_crd(widget_crd(versions=("v1beta1", "v1")))
    kube.seed([widget("w1")])  # apiVersion v1

    assert http.get(f"/apis/{GROUP}/v1beta1/widgets").json()["items"] == []


def test_only_status_is_an_emulated_subresource(http: httpx.Client) -> None:
    http.post(PODS, json=pod("p1"))
    assert http.get(f"{PODS}/p1/log").status_code == 404
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p1"}}
    assert http.post(f"{PODS}/p1/eviction", json=eviction).status_code == 404


def test_field_selectors_accept_unsupported_fields(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.seed([pod("p1")])
    rsp = http.get(PODS, params={"fieldSelector": "spec.containers=x"})
    assert rsp.status_code == 200  # a real server: 400 "field label not supported"
