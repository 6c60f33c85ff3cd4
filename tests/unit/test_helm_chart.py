"""The Helm chart: lints, renders valid Kubernetes objects, ships the CRD unchanged, and deploys
the operator the way its CLI expects. Uses the real helm binary (tests/support/tools.py).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from opsreport.cli import build_parser, main
from tests.support.tools import ToolUnavailable, default_cache_dir, helm_binary

Manifest = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "opsreport"
SOURCE_CRD = ROOT / "deploy" / "crds" / "reportschedules.opsreport.dev.yaml"
CHART_CRD = CHART / "files" / "crds" / "reportschedules.opsreport.dev.yaml"
GITOPS = ROOT / "examples" / "gitops"
CI_VALUES = sorted(
    p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")
)
KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
# kubernetes-validate ships schemas for built-in kinds only. These are checked elsewhere: the
# CRDs by the structural test below, ServiceMonitor by the Prometheus Operator at apply time,
# kopf's peering objects have no spec at all.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("kopf.dev/v1", "ClusterKopfPeering"),
    ("kopf.dev/v1", "KopfPeering"),
}
# Added by the chart to the CRD it ships; everything else must equal deploy/crds/.
CHART_CRD_METADATA = {"labels", "annotations"}


# --- running helm -------------------------------------------------------------------------


@dataclass(frozen=True)
class Helm:
    binary: Path
    home: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        # helm keeps config and caches under $HOME; point them at a private, git-ignored dir.
        env = {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        return subprocess.run(
            [str(self.binary), *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )


@functools.cache
def _helm_or_reason() -> Helm | str:
    try:
        binary = helm_binary()
    except ToolUnavailable as exc:
        return f"helm binary unavailable: {exc}"
    home = default_cache_dir() / "helm-home"
    home.mkdir(parents=True, exist_ok=True)
    return Helm(binary, home)


def helm() -> Helm:
    found = _helm_or_reason()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def values_file(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


@functools.cache
def _template(values: str, extra: tuple[str, ...]) -> str:
    proc = helm().run(
        "template", "opsreport", CHART, "--namespace", "ops", "--include-crds",
        "-f", values_file(values), *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def render_text(values: str = "default", *extra: str) -> str:
    """`helm template` output (with crds/) for a ci values file plus --set style arguments."""
    return _template(values, extra)


def render(values: str = "default", *extra: str) -> list[Manifest]:
    """The rendered objects, parsed afresh so a test may change them."""
    return [doc for doc in yaml.safe_load_all(render_text(values, *extra)) if doc]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = of_kind(docs, kind)
    assert len(found) == 1, [d["metadata"]["name"] for d in found]
    return found[0]


def chart_crds(docs: list[Manifest]) -> list[Manifest]:
    """CRDs from templates/ (those from crds/ carry no annotations: Helm does not template them)."""
    return [d for d in of_kind(docs, "CustomResourceDefinition") if "annotations" in d["metadata"]]


def _env_names(docs: list[Manifest]) -> set[str]:
    return {env["name"] for env in container(docs)["env"]}


def container(docs: list[Manifest]) -> Manifest:
    (operator,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    result: Manifest = operator
    return result


# --- lint and Kubernetes schemas ----------------------------------------------------------


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "opsreport"
    assert chart["version"] == "0.1.0"
    assert str(chart["appVersion"]) == "0.1.0"


def test_ci_values_cover_the_documented_setups() -> None:
    assert CI_VALUES == ["default", "ha", "namespaced", "no-crds", "servicemonitor"]


@pytest.mark.parametrize("values", CI_VALUES)
def test_helm_lint_strict(values: str) -> None:
    proc = helm().run("lint", "--strict", CHART, "-f", values_file(values))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("values", CI_VALUES)
def test_rendered_objects_are_valid_kubernetes(values: str) -> None:
    errors: list[str] = []
    for doc in render(values):
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                # strict: unknown fields fail too, as a typo in a template would.
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                errors.append(
                    f"{name} on {version}: {'.'.join(map(str, error.path))}: {error.message}"
                )
            except kubernetes_validate.SchemaNotFoundError as error:
                errors.append(f"{name} on {version}: {error.message}")
    assert not errors, "\n".join(errors)


def test_kubernetes_validation_catches_a_broken_object() -> None:
    deployment = one(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_unknown_values_are_rejected_by_the_schema() -> None:
    proc = helm().run("template", "x", CHART, "--set", "imag.tag=1")
    assert proc.returncode != 0
    assert "imag" in proc.stderr
    proc = helm().run("template", "x", CHART, "--set", "logFormat=xml")
    assert proc.returncode != 0
    assert "logFormat" in proc.stderr


# --- the CRD ------------------------------------------------------------------------------


def test_chart_crd_is_a_byte_identical_copy_of_deploy_crds() -> None:
    assert CHART_CRD.read_bytes() == SOURCE_CRD.read_bytes(), (
        f"the chart's CRD drifted; run: cp {SOURCE_CRD.relative_to(ROOT)} "
        f"{CHART_CRD.relative_to(ROOT)}"
    )
    assert [p.name for p in CHART_CRD.parent.iterdir()] == [CHART_CRD.name]


def test_rendered_crd_equals_deploy_crds_plus_keep_policy() -> None:
    source = yaml.safe_load(SOURCE_CRD.read_text())
    (rendered,) = chart_crds(render())
    assert rendered["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert source["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()
    for key in CHART_CRD_METADATA:
        rendered["metadata"].pop(key)
        source["metadata"].pop(key, None)
    assert rendered == source


def test_crds_install_false_renders_no_reportschedule_crd() -> None:
    crds = of_kind(render("no-crds"), "CustomResourceDefinition")
    assert {crd["spec"]["group"] for crd in crds} == {"kopf.dev"}  # crds/: see its header


def test_crd_annotations_cannot_drop_the_keep_policy() -> None:
    docs = render(
        "default",
        "--set", "crds.annotations.helm\\.sh/resource-policy=delete",
        "--set", "crds.annotations.team=sre",
    )  # fmt: skip
    (crd,) = chart_crds(docs)
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep", "team": "sre"}


def _crd_schema() -> Manifest:
    crd = yaml.safe_load(SOURCE_CRD.read_text())
    (version,) = crd["spec"]["versions"]
    schema: Manifest = version["schema"]["openAPIV3Schema"]
    return schema


def _nodes(
    node: Manifest, path: str = "", is_field: bool = True
) -> Iterator[tuple[str, Manifest, bool]]:
    """Every schema node with its path, and whether it is a named field (not an item or value)."""
    yield path, node, is_field
    for name, child in (node.get("properties") or {}).items():
        yield from _nodes(child, f"{path}.{name}")
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        if isinstance(node.get(key), dict):
            yield from _nodes(node[key], path + suffix, is_field=False)


# Set by the API server, not by the CRD's authors.
_STANDARD_FIELDS = {".apiVersion", ".kind", ".metadata"}


def _structural_problems(schema: Manifest) -> list[str]:
    problems: list[str] = []
    for path, node, is_field in _nodes(schema):
        kind = node.get("type")
        # int-or-string (a target of 99 or "99.9") is the one typeless node structural allows.
        typeless = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string")
        if kind is None and not any(node.get(key) for key in typeless):
            problems.append(f"{path}: no type")
        if is_field and path and path not in _STANDARD_FIELDS and not node.get("description"):
            problems.append(f"{path}: no description")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties and additionalProperties together")
        if path in _STANDARD_FIELDS:
            continue
        if kind == "string" and not {"maxLength", "enum", "format"} & node.keys():
            problems.append(f"{path}: unbounded string")
        if kind == "array" and "maxItems" not in node:
            problems.append(f"{path}: unbounded array")
        if kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
            problems.append(f"{path}: unbounded map")
        if node.get("x-kubernetes-list-type") == "map":
            keys = node.get("x-kubernetes-list-map-keys") or []
            if not keys or not set(keys) <= set(node["items"].get("required") or []):
                problems.append(f"{path}: list-map keys must be required")
        if node.get("x-kubernetes-list-type") == "set" and node["items"].get("type") == "object":
            problems.append(f"{path}: a set list needs scalar items")
    return problems


def test_crd_is_structural_described_and_bounded() -> None:
    schema = _crd_schema()
    assert _structural_problems(schema) == []
    spec = schema["properties"]["spec"]
    assert "x-kubernetes-preserve-unknown-fields" not in spec
    assert "x-kubernetes-preserve-unknown-fields" not in schema["properties"]["status"]


def test_structural_check_finds_problems() -> None:
    schema = _crd_schema()
    spec = schema["properties"]["spec"]["properties"]
    spec["title"].pop("maxLength")
    spec["formats"].pop("maxItems")
    spec["scope"]["properties"]["namespaces"].pop("description")
    spec["window"].pop("type")
    assert _structural_problems(schema) == [
        ".spec.window: no type",
        ".spec.title: unbounded string",
        ".spec.formats: unbounded array",
        ".spec.scope.namespaces: no description",
    ]


def test_crds_validate_as_kubernetes_objects() -> None:
    # Both the chart's CRD and kopf's peering CRDs (from crds/) against the real CRD schema.
    crds = of_kind(render("ha"), "CustomResourceDefinition")
    assert {crd["metadata"]["name"] for crd in crds} == {
        "reportschedules.opsreport.dev",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    for crd in crds:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(crd, version, strict=True)


def test_example_schedules_match_the_crd_schema() -> None:
    # The raw openAPIV3Schema, independently of opsreport.validate's translation of it.
    validator = jsonschema.Draft4Validator(_crd_schema())
    schedules = [
        doc
        for path in sorted((ROOT / "examples").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "ReportSchedule"
    ]
    assert len(schedules) >= 3
    for doc in schedules:
        validator.validate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**schedules[0], "spec": {**schedules[0]["spec"], "formats": ["pdf"]}})


# --- values -------------------------------------------------------------------------------


def _leaf_paths(values: Manifest, prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in _OPEN_VALUES:
            yield from _leaf_paths(value, f"{path}.")
        else:
            yield path


# Kubernetes-typed values documented as a whole, not key by key.
_OPEN_VALUES = {"podSecurityContext", "securityContext", "resources"}


def test_every_value_has_a_param_doc() -> None:
    text = (CHART / "values.yaml").read_text()
    documented = re.findall(r"^\s*## @param (\S+) \S", text, flags=re.MULTILINE)
    assert len(documented) == len(set(documented))
    assert set(documented) == set(_leaf_paths(yaml.safe_load(text)))


def _values_schema() -> jsonschema.Draft7Validator:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _with_defaults(overlay: Manifest) -> Manifest:
    """Values as Helm validates them: the chart's defaults with the user's merged in."""

    def merge(base: Manifest, top: Manifest) -> Manifest:
        out = dict(base)
        for key, value in top.items():
            both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
            out[key] = merge(base[key], value) if both_maps else value
        return out

    return merge(yaml.safe_load((CHART / "values.yaml").read_text()), overlay)


def test_values_schema_accepts_defaults_and_ci_values() -> None:
    validator = _values_schema()
    validator.validate(_with_defaults({}))
    for name in CI_VALUES:
        validator.validate(_with_defaults(yaml.safe_load(values_file(name).read_text()) or {}))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(_with_defaults({"image": {"pullPolicy": "Sometimes"}}))


def _schema_gaps(schema: Manifest, path: str = "") -> Iterator[str]:
    if schema.get("type") == "object" and "properties" in schema:
        if schema.get("additionalProperties") is not False:
            yield path or "(root)"
        for name, child in schema["properties"].items():
            yield from _schema_gaps(child, f"{path}.{name}")


def test_values_schema_is_closed_for_the_charts_own_objects() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert list(_schema_gaps(schema)) == []
    # And every value in values.yaml is declared in the schema.
    declared = {p.lstrip(".") for p in _schema_paths(schema)}
    assert set(_leaf_paths(yaml.safe_load((CHART / "values.yaml").read_text()))) <= declared


def _schema_paths(schema: Manifest, path: str = "") -> Iterator[str]:
    for name, child in (schema.get("properties") or {}).items():
        yield f"{path}.{name}"
        yield from _schema_paths(child, f"{path}.{name}")


# --- the Deployment -----------------------------------------------------------------------


@pytest.mark.parametrize("values", CI_VALUES)
def test_pod_is_hardened(values: str) -> None:
    pod = one(render(values), "Deployment")["spec"]["template"]["spec"]
    (operator,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = operator["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in operator["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert operator["resources"]["requests"]
    assert operator["resources"]["limits"]["memory"]
    probe = operator["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in operator["ports"]
    assert "readinessProbe" not in operator


def _parse_operator_args(docs: list[Manifest]) -> argparse.Namespace:
    """The container's args through the real CLI parser (the image's entrypoint is `opsreport
    operator`), so a flag the CLI does not know fails here rather than in a crash-looping pod."""
    return build_parser().parse_args(["operator", *container(docs)["args"]])


@pytest.mark.parametrize("values", CI_VALUES)
def test_args_are_understood_by_the_cli(values: str) -> None:
    docs = render(values)
    args = _parse_operator_args(docs)
    chosen = yaml.safe_load(values_file(values).read_text()) or {}
    assert args.liveness == "http://0.0.0.0:8080/healthz"
    assert args.log_format == chosen.get("logFormat", "json")
    assert args.max_concurrent_reports == chosen.get("maxConcurrentReports", 4)
    assert args.metrics_port == chosen.get("metrics", {}).get("port", 9090)
    assert args.namespace == (chosen.get("watchNamespaces") or None)
    assert args.prometheus_url == (chosen.get("prometheus", {}).get("url") or None)
    assert args.verbose is ("--verbose" in chosen.get("extraArgs", []))


# Read by OperatorConfig.from_env, or by kopf (POD_ID). The bearer token is not read yet: the
# operator needs a setting for it (see docs/install.md); listed so the chart can ship the value.
_PENDING_ENV = {"OPSREPORT_PROMETHEUS_BEARER_TOKEN"}


@pytest.mark.parametrize("values", CI_VALUES)
def test_env_names_are_ones_the_operator_reads(values: str) -> None:
    config_source = (ROOT / "operator" / "opsreport" / "config.py").read_text()
    known = set(re.findall(r'"(OPSREPORT_[A-Z_]+)"', config_source)) | {"POD_ID"}
    names = _env_names(render(values))
    assert names <= known | _PENDING_ENV


def test_bearer_token_comes_from_the_secret() -> None:
    env = {e["name"]: e for e in container(render("ha"))["env"]}
    assert env["OPSREPORT_PROMETHEUS_BEARER_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "prometheus-token", "key": "token"}
    }
    assert "OPSREPORT_PROMETHEUS_BEARER_TOKEN" not in _env_names(render())


def test_pod_settings_are_passed_through() -> None:
    docs = render("no-crds")
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"example.com/team": "sre"}
    assert pod["metadata"]["labels"]["team"] == "sre"
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["spec"]["tolerations"][0]["key"] == "dedicated"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["spec"]["serviceAccountName"] == "opsreport"
    assert not of_kind(docs, "ServiceAccount")
    operator = container(docs)
    assert operator["image"] == "registry.example.com/platform/opsreport:0.1.0"
    assert operator["imagePullPolicy"] == "Always"
    assert {"name": "OPSREPORT_PEERING_LIFETIME", "value": "30"} in operator["env"]
    ha = one(render("ha"), "Deployment")["spec"]["template"]["spec"]
    assert ha["priorityClassName"] == "platform-critical"
    assert "podAntiAffinity" in ha["affinity"]


def test_service_account_annotations() -> None:
    docs = render("default", "--set", "serviceAccount.annotations.iam\\.example\\.com/role=reports")
    account = one(docs, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"iam.example.com/role": "reports"}
    assert (
        one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
        == (account["metadata"]["name"])
    )


# --- peering ------------------------------------------------------------------------------


def test_one_replica_is_standalone_and_never_overlaps() -> None:
    docs = render()
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert _parse_operator_args(docs).peering is None
    assert not [d for d in docs if d["apiVersion"] == "kopf.dev/v1"]


def test_replicas_turn_on_peering_with_its_object() -> None:
    docs = render("ha")
    assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    peering = one(docs, "ClusterKopfPeering")
    assert _parse_operator_args(docs).peering == peering["metadata"]["name"] == "opsreport"
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_namespaced_peering_has_an_object_per_namespace() -> None:
    docs = render("namespaced", "--set", "replicas=3", "--set", "peering.name=reports")
    assert not of_kind(docs, "ClusterKopfPeering")
    peerings = of_kind(docs, "KopfPeering")
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings} == {
        ("shop", "reports"),
        ("payments", "reports"),
    }
    assert _parse_operator_args(docs).peering == "reports"


# --- metrics ------------------------------------------------------------------------------


def test_metrics_service_exposes_the_metrics_port() -> None:
    docs = render()
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod = one(docs, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container(docs)["ports"]
    assert not of_kind(docs, "ServiceMonitor")


def test_service_monitor_selects_the_metrics_service() -> None:
    docs = render("servicemonitor")
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


# --- NOTES.txt ----------------------------------------------------------------------------


def _notes(values: str) -> str:
    proc = helm().run(
        "install", "opsreport", CHART, "--namespace", "ops", "--dry-run=client",
        "-f", values_file(values),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("NOTES:", 1)[1]


def test_notes_show_a_first_schedule_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = _notes("namespaced")
    assert "kubectl apply -n shop -f -" in notes
    assert "kubectl get rsched -n shop" in notes
    manifest = textwrap.dedent(notes.split("<<'YAML'\n", 1)[1].split("  YAML\n", 1)[0])
    (tmp_path / "first.yaml").write_text(manifest)
    assert main(["validate", "-f", str(tmp_path / "first.yaml")]) == 0, capsys.readouterr().out
    assert "crds.install is false" in _notes("no-crds")


# --- GitOps -------------------------------------------------------------------------------


def _gitops(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_argocd_applications() -> None:
    chart_app, schedules_app = _gitops(GITOPS / "argocd-application.yaml")
    for app in (chart_app, schedules_app):
        assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
        assert (ROOT / app["spec"]["source"]["path"]).is_dir()
    assert chart_app["spec"]["source"]["path"] == "deploy/helm/opsreport"
    assert (ROOT / schedules_app["spec"]["source"]["path"] / "kustomization.yaml").is_file()
    ignored = {(d["group"], d["kind"]) for d in schedules_app["spec"]["ignoreDifferences"]}
    assert ("opsreport.dev", "ReportSchedule") in ignored


def test_argocd_values_keep_the_crd(tmp_path: Path) -> None:
    chart_app = _gitops(GITOPS / "argocd-application.yaml")[0]
    values = chart_app["spec"]["source"]["helm"]["valuesObject"]
    _values_schema().validate(_with_defaults(values))
    (tmp_path / "argocd-values.yaml").write_text(yaml.safe_dump(values))
    docs = render("default", "-f", str(tmp_path / "argocd-values.yaml"))
    (crd,) = chart_crds(docs)
    options = crd["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
    assert set(options.split(",")) == {"Prune=false", "Delete=false"}


def test_flux_manifests(tmp_path: Path) -> None:
    flux = GITOPS / "flux"
    kinds = {
        (doc["apiVersion"], doc["kind"], doc["metadata"]["name"])
        for path in flux.glob("*.yaml")
        if path.name != "kustomization.yaml"
        for doc in _gitops(path)
    }
    assert kinds == {
        ("source.toolkit.fluxcd.io/v1", "GitRepository", "opsreport"),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository", "opsreport"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease", "opsreport"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "opsreport-schedules"),
    }
    kustomization = yaml.safe_load((flux / "kustomization.yaml").read_text())
    assert all((flux / name).is_file() for name in kustomization["resources"])
    (release,) = _gitops(flux / "helmrelease.yaml")
    assert (ROOT / release["spec"]["chart"]["spec"]["chart"] / "Chart.yaml").is_file()
    _values_schema().validate(_with_defaults(release["spec"]["values"]))
    (tmp_path / "flux-values.yaml").write_text(yaml.safe_dump(release["spec"]["values"]))
    assert one(render("default", "-f", str(tmp_path / "flux-values.yaml")), "Deployment")
    (schedules,) = _gitops(flux / "schedules.yaml")
    assert (ROOT / schedules["spec"]["path"] / "kustomization.yaml").is_file()


def test_schedules_kustomization_lists_every_example() -> None:
    listed = yaml.safe_load((ROOT / "examples" / "kustomization.yaml").read_text())["resources"]
    present = [
        p.name for p in sorted((ROOT / "examples").glob("*.yaml")) if p.stem != "kustomization"
    ]
    assert sorted(listed) == present


# --- _helpers.tpl -------------------------------------------------------------------------

# Rendered only in a temp copy of the chart, to exercise the helpers directly.
PROBE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "opsreport.fullname" . }}
  labels:
    {{- include "opsreport.labels" . | nindent 4 }}
data:
  name: {{ include "opsreport.name" . | quote }}
  image: {{ include "opsreport.image" . | quote }}
  selector: {{ include "opsreport.selectorLabels" . | fromYaml | toJson | quote }}
"""


@pytest.fixture
def probe_chart(tmp_path: Path) -> Path:
    chart = tmp_path / "opsreport"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "probe.yaml").write_text(PROBE)
    return chart


def _probe(chart: Path, release: str, *args: str) -> Manifest:
    proc = helm().run(
        "template", release, chart, "--namespace", "ops", "--show-only", "templates/probe.yaml",
        *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc: Manifest = yaml.safe_load(proc.stdout)
    return doc


def test_helpers_render_labels_and_names(probe_chart: Path) -> None:
    doc = _probe(probe_chart, "prod")
    assert doc["metadata"]["name"] == "prod-opsreport"
    assert doc["metadata"]["labels"] == {
        "helm.sh/chart": "opsreport-0.1.0",
        "app.kubernetes.io/name": "opsreport",
        "app.kubernetes.io/instance": "prod",
        "app.kubernetes.io/version": "0.1.0",
        "app.kubernetes.io/managed-by": "Helm",
    }
    assert doc["data"]["name"] == "opsreport"
    assert doc["data"]["image"] == "opsreport:0.1.0"
    assert yaml.safe_load(doc["data"]["selector"]) == {
        "app.kubernetes.io/name": "opsreport",
        "app.kubernetes.io/instance": "prod",
    }


def test_helpers_honour_overrides(probe_chart: Path) -> None:
    # A release already named after the chart is not doubled.
    assert _probe(probe_chart, "opsreport")["metadata"]["name"] == "opsreport"
    doc = _probe(
        probe_chart,
        "prod",
        "--set", "fullnameOverride=reports",
        "--set", "image.registry=registry.example/",
        "--set", "image.repository=team/opsreport",
        "--set", "image.tag=1.2.3",
        "--set", "commonLabels.team=sre",
    )  # fmt: skip
    assert doc["metadata"]["name"] == "reports"
    assert doc["metadata"]["labels"]["team"] == "sre"
    assert doc["data"]["image"] == "registry.example/team/opsreport:1.2.3"
