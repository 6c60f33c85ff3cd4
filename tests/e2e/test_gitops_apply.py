"""What the operator writes never fights a GitOps tool that uses server-side apply.

The examples are applied the way Argo CD (``argocd-controller``) and Flux
(``kustomize-controller``) apply them: ``kubectl apply --server-side`` with the tool's field
manager, against the emulator's server-side apply (tests/support/server_side_apply.py). The
real operator reconciles them and delivers a run-now report; then the tool's next sync must
be clean: a re-apply without ``--force-conflicts``, an empty ``kubectl diff --server-side``,
the operator owning nothing outside status and kopf's bookkeeping, and reports no tool
would count as its own.

No Prometheus: a report without metrics (data gaps) is still a report, and this is about
who writes which field.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stack import GROUP_VERSION, REPO, LocalStack, wait_for
from tests.support.tools import ToolUnavailable, kubectl_binary

pytestmark = pytest.mark.e2e
EXAMPLES = REPO / "examples"
TOOLS = ("argocd-controller", "kustomize-controller")
RUN_NOW = "opsreport.dev/run-now"
# What kopf keeps on a schedule for the operator: its finalizer and annotations under our prefix.
KOPF_PREFIX = "opsreport.dev/"
# Labels and annotations by which Argo CD (label or annotation tracking) and Flux (inventory
# labels) take an object for part of what they deploy.
TRACKING_LABELS = (
    "app.kubernetes.io/instance",
    "argocd.argoproj.io/instance",
    "kustomize.toolkit.fluxcd.io/name",
    "kustomize.toolkit.fluxcd.io/namespace",
)
TRACKING_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)


def example_files() -> list[Path]:
    """Every manifest in examples/ a tool would sync (not the tools' own, not kustomizations)."""
    files = sorted(
        path
        for path in EXAMPLES.rglob("*.yaml")
        if "gitops" not in path.relative_to(EXAMPLES).parts and path.name != "kustomization.yaml"
    )
    kinds = {doc["kind"] for path in files for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert kinds <= {"ReportSchedule", "ConfigMap", "Secret"}, kinds
    return files


def documents(files: list[Path]) -> list[dict[str, Any]]:
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def kubectl() -> str:
    try:
        return str(kubectl_binary())
    except ToolUnavailable as error:
        pytest.skip(f"kubectl is not available: {error}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(workdir=tmp_path_factory.mktemp("gitops")) as local:
        operator = local.start_operator()
        yield local
        assert "Traceback" not in operator.logs(), operator.logs()[-5000:]
        assert local.kube.internal_errors == ()


@pytest.fixture(scope="module")
def manifests(stack: LocalStack) -> list[Path]:
    """The examples plus the namespaces they live in (as a tool's CreateNamespace would)."""
    files = example_files()
    namespaces = sorted(
        {doc["metadata"]["namespace"] for doc in documents(files)}
        | {
            ns
            for doc in documents(files)
            for ns in (doc.get("spec") or {}).get("scope", {}).get("namespaces", [])
        }
    )
    path = stack.workdir / "namespaces.yaml"
    path.write_text(
        yaml.safe_dump_all(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces
        )
    )
    return [path, *files]


def run(
    stack: LocalStack, kubectl: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(stack.kubeconfig), "HOME": str(stack.workdir)}
    proc = subprocess.run(
        [kubectl, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def sync(
    stack: LocalStack, kubectl: str, manager: str, files: list[Path], *extra: str
) -> subprocess.CompletedProcess[str]:
    """What the tool's sync does: one server-side apply of every manifest, no force."""
    args = [arg for path in files for arg in ("-f", str(path))]
    # No OpenAPI in the emulator, so kubectl cannot validate client-side.
    return run(stack, kubectl, "apply", "--server-side", f"--field-manager={manager}",
               "--validate=false", *extra, *args, check=False)  # fmt: skip


def schedules(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.kube.list(GROUP_VERSION, "reportschedules")


def paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every owned path of a fieldsV1 tree."""
    for key, sub in tree.items():
        if key == ".":
            yield prefix
        elif sub:
            yield from paths(sub, (*prefix, key))
        else:
            yield (*prefix, key)


def bookkeeping(path: tuple[str, ...]) -> bool:
    """kopf's finalizer or one of its annotations (ours, by the persistence settings)."""
    if path[:2] == ("f:metadata", "f:finalizers"):
        return len(path) < 3 or path[2].startswith(f'v:"{KOPF_PREFIX}')
    if path[:2] == ("f:metadata", "f:annotations"):
        return len(path) < 3 or path[2].startswith(f"f:{KOPF_PREFIX}")
    return False


@pytest.fixture(scope="module", params=TOOLS)
def synced(
    request: pytest.FixtureRequest, stack: LocalStack, kubectl: str, manifests: list[Path]
) -> str:
    """Each tool in turn owns the examples; the operator reconciles them and makes a report."""
    manager: str = request.param
    for schedule in schedules(stack):  # the previous tool's: start from nothing
        meta = schedule["metadata"]
        run(
            stack,
            kubectl,
            "delete",
            "rsched",
            meta["name"],
            "-n",
            meta["namespace"],
            "--wait=false",
        )
    wait_for(lambda: not schedules(stack), timeout=60, what="the previous schedules to go")
    # The emulator has no garbage collector: the old reports go by hand, as with their owner.
    leftovers = stack.kube.list("v1", "configmaps", "shop", label_selector="opsreport.dev/schedule")
    for configmap in [*leftovers, *documents(manifests[1:])]:
        if configmap["kind"] == "ConfigMap":
            meta = configmap["metadata"]
            stack.kube.delete("v1", "configmaps", meta["namespace"], meta["name"])

    applied = sync(stack, kubectl, manager, manifests)
    assert applied.returncode == 0, applied.stderr
    assert "serverside-applied" in applied.stdout

    expected = {
        doc["metadata"]["name"] for doc in documents(manifests) if doc["kind"] == "ReportSchedule"
    }

    def reconciled() -> bool:
        done = {
            s["metadata"]["name"]
            for s in schedules(stack)
            if (s.get("status") or {}).get("observedGeneration") == 1
            and s["metadata"].get("finalizers")
        }
        return done == expected

    wait_for(reconciled, timeout=90, interval=0.5, what="every example schedule reconciled")
    # A report now, as docs/install.md says to ask for one.
    value = f"{manager}-1"
    run(stack, kubectl, "annotate", "rsched", "shop-daily", "-n", "shop", f"{RUN_NOW}={value}")

    def reported() -> bool:
        status = (stack.schedule("shop", "shop-daily") or {}).get("status") or {}
        return bool(
            (status.get("runNow") or {}).get("value") == value
            and status.get("lastReport")
            and not status.get("pendingRun")
            and stack.report_configmaps("shop", "shop-daily")
        )

    wait_for(reported, timeout=120, interval=0.5, what="the run-now report of shop-daily")
    settle(stack)
    return manager


def settle(stack: LocalStack, quiet: float = 2.0) -> None:
    """Wait until no schedule has changed for ``quiet`` seconds (the operator is idle)."""
    last: dict[str, str] = {}
    since = time.monotonic()

    def quiet_for_long_enough() -> bool:
        nonlocal last, since
        now = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in schedules(stack)}
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= quiet

    wait_for(quiet_for_long_enough, timeout=60, interval=0.2, what="the schedules to settle")


def test_the_next_sync_applies_without_conflicts(
    synced: str, stack: LocalStack, kubectl: str, manifests: list[Path]
) -> None:
    before = {s["metadata"]["name"]: s for s in schedules(stack)}

    again = sync(stack, kubectl, synced, manifests)

    assert again.returncode == 0, again.stderr  # without --force-conflicts
    assert "conflict" not in again.stderr.lower()
    after = {s["metadata"]["name"]: s for s in schedules(stack)}
    for name, schedule in after.items():
        # Nothing changed: the sync had nothing to write, and the operator's writes survive.
        assert (
            schedule["metadata"]["resourceVersion"] == before[name]["metadata"]["resourceVersion"]
        )
    assert after["shop-daily"]["metadata"]["annotations"][RUN_NOW] == f"{synced}-1"


def test_a_server_side_diff_shows_nothing(
    synced: str, stack: LocalStack, kubectl: str, manifests: list[Path]
) -> None:
    args = [arg for path in manifests for arg in ("-f", str(path))]

    diff = run(
        stack, kubectl, "diff", "--server-side", f"--field-manager={synced}", *args, check=False
    )

    assert diff.returncode == 0, f"{diff.stdout}\n{diff.stderr}"
    assert diff.stdout == ""


def test_the_operator_owns_only_status_and_kopf_bookkeeping(
    synced: str, stack: LocalStack, manifests: list[Path]
) -> None:
    applied = {
        doc["metadata"]["name"]: doc
        for doc in documents(manifests)
        if doc["kind"] == "ReportSchedule"
    }
    for schedule in schedules(stack):
        name = schedule["metadata"]["name"]
        # The operator never writes spec or labels: they are exactly what the tool applied.
        assert schedule["spec"] == applied[name]["spec"], name
        assert schedule["metadata"].get("labels") == applied[name]["metadata"].get("labels")
        owners: dict[tuple[str, str, str], list[tuple[str, ...]]] = {
            (e["manager"], e["operation"], e.get("subresource", "")): list(paths(e["fieldsV1"]))
            for e in schedule["metadata"]["managedFields"]
        }
        tool = owners.pop((synced, "Apply", ""))
        assert any(p[0] == "f:spec" for p in tool), tool
        assert {p[0] for p in tool} <= {"f:spec", "f:metadata"}, tool
        if name == "shop-daily":
            annotate = owners.pop(("kubectl-annotate", "Update", ""))
            assert annotate == [("f:metadata", "f:annotations", f"f:{RUN_NOW}")]
        assert owners, "the operator recorded no write"
        # Named after the User-Agent: the operator's own, not its client library's.
        assert ("opsreport", "Update", "status") in owners, sorted(owners)
        for (manager, operation, subresource), owned in owners.items():
            assert operation == "Update", (manager, owned)
            if subresource == "status":
                assert all(p[0] == "f:status" for p in owned), (manager, owned)
            else:
                assert subresource == "", (manager, subresource)
                strays = [p for p in owned if not bookkeeping(p)]
                assert not strays, (
                    f"{manager} writes outside status and kopf's bookkeeping: {strays}"
                )


def test_reports_are_owned_by_their_schedule_and_untracked_by_the_tool(
    synced: str, stack: LocalStack
) -> None:
    schedule = stack.schedule("shop", "shop-daily")
    assert schedule is not None
    reports = stack.report_configmaps("shop", "shop-daily")
    assert reports
    for report in reports:
        meta = report["metadata"]
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        assert not set(labels) & set(TRACKING_LABELS), labels
        assert not set(annotations) & set(TRACKING_ANNOTATIONS), annotations
        assert not set(labels) & set(schedule["metadata"].get("labels") or {})
        [owner] = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "ReportSchedule",
            "shop-daily",
            schedule["metadata"]["uid"],
            True,
        )
        # Written by the operator alone: the tool never applied (so never prunes) a report.
        managers = {e["manager"] for e in meta["managedFields"]}
        assert synced not in managers
        assert {e["operation"] for e in meta["managedFields"]} == {"Update"}
    # And the tool's own ConfigMap (the custom template) is left to the tool.
    template = stack.kube.get("v1", "configmaps", "shop", "shop-report-template")
    assert template is not None
    assert {e["manager"] for e in template["metadata"]["managedFields"]} == {synced}
