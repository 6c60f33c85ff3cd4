"""The chart's RBAC grants exactly what the operator and kopf use, in every mode."""

from __future__ import annotations

import re

import pytest

from tests.unit.test_helm_chart import CI_VALUES, Manifest, of_kind, one, render, render_text

# (apiGroup, resource, verb, resourceNames); one row per permission, so a test names exactly
# which permission appeared or went missing.
Grant = tuple[str, str, str, tuple[str, ...]]

READ = ("get", "list", "watch")


def _grants(*rows: tuple[str, tuple[str, ...], tuple[str, ...]]) -> set[Grant]:
    return {
        (group, resource, verb, ())
        for group, resources, verbs in rows
        for resource in resources
        for verb in verbs
    }


NAMESPACED = _grants(
    ("opsreport.dev", ("reportschedules",), ("get", "list", "watch", "patch")),
    ("opsreport.dev", ("reportschedules/status",), ("patch",)),
    ("", ("pods",), ("list",)),
    ("", ("configmaps",), ("create", "get", "update", "list", "delete")),
    ("", ("events",), ("create", *READ)),
    ("events.k8s.io", ("events",), ("create", *READ)),
    ("autoscaling", ("horizontalpodautoscalers",), READ),
    (
        "apps",
        ("deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions"),
        READ,
    ),
    ("", ("secrets",), ("get",)),
)
CLUSTER = _grants(
    ("apiextensions.k8s.io", ("customresourcedefinitions",), ("list", "watch")),
    ("", ("nodes",), READ),
)
NAMESPACES = _grants(("", ("namespaces",), ("list", "watch")))


def _peering(resource: str, name: str) -> set[Grant]:
    return {
        ("kopf.dev", resource, "list", ()),
        ("kopf.dev", resource, "watch", ()),
        ("kopf.dev", resource, "patch", (name,)),
    }


def grants(role: Manifest) -> set[Grant]:
    return {
        (group, resource, verb, tuple(rule.get("resourceNames") or ()))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def rbac(docs: list[Manifest]) -> list[Manifest]:
    kinds = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    return [doc for doc in docs if doc["kind"] in kinds]


def test_cluster_wide_grants_exactly_what_is_used() -> None:
    docs = render()
    assert not of_kind(docs, "Role")
    assert not of_kind(docs, "RoleBinding")
    assert grants(one(docs, "ClusterRole")) == NAMESPACED | CLUSTER


def test_cluster_wide_peering_may_patch_only_its_own_object() -> None:
    docs = render("ha")
    assert grants(one(docs, "ClusterRole")) == NAMESPACED | CLUSTER | _peering(
        "clusterkopfpeerings", "opsreport"
    )


def test_namespaced_mode_renders_a_role_per_namespace() -> None:
    docs = render("namespaced")
    roles = of_kind(docs, "Role")
    bindings = of_kind(docs, "RoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["payments", "shop"]
    for role in roles:
        assert grants(role) == NAMESPACED
    # Only the cluster-scoped rules stay cluster-wide.
    assert grants(one(docs, "ClusterRole")) == CLUSTER | NAMESPACES


def test_namespaced_peering_is_granted_in_each_namespace() -> None:
    docs = render("namespaced", "--set", "replicas=2")
    for role in of_kind(docs, "Role"):
        assert grants(role) == NAMESPACED | _peering("kopfpeerings", "opsreport")
    assert grants(one(docs, "ClusterRole")) == CLUSTER | NAMESPACES


@pytest.mark.parametrize("values", CI_VALUES)
def test_bindings_bind_the_operators_service_account(values: str) -> None:
    docs = render(values)
    account = one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    roles = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]) for r in rbac(docs)}
    for binding in of_kind(docs, "ClusterRoleBinding") + of_kind(docs, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "ops"}
        ]
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], namespace, ref["name"]) in roles


@pytest.mark.parametrize("values", CI_VALUES)
def test_secrets_are_get_only_and_nothing_is_a_wildcard(values: str) -> None:
    docs = render(values)
    roles = of_kind(docs, "ClusterRole") + of_kind(docs, "Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(key, []), (role["kind"], rule)
    secrets = {
        verb for role in roles for _, resource, verb, _ in grants(role) if resource == "secrets"
    }
    assert secrets == {"get"}


@pytest.mark.parametrize("values", CI_VALUES)
def test_every_rule_has_a_comment(values: str) -> None:
    lines = render_text(values).splitlines()
    rules = [i for i, line in enumerate(lines) if re.match(r"^\s*- apiGroups:", line)]
    assert rules
    for index in rules:
        assert lines[index - 1].lstrip().startswith("#"), lines[index]


def test_rbac_create_false_renders_none() -> None:
    assert rbac(render("default", "--set", "rbac.create=false")) == []
