"""kubectl against the emulator (skipped without a kubectl on PATH or in $KUBECTL).

kubectl needs ``--validate=false`` for ``apply`` (no OpenAPI is served) and prints
client-side tables (no server-side Table), so ``additionalPrinterColumns`` are ignored.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

import pytest

from tests.emulator._helpers import kubectl_path, pod, widget, widget_crd
from tests.support.kube_emulator import KubeApiServer

KUBECTL = kubectl_path()
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not available")

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: x}
data: {mode: %s}
"""


class Kubectl(Protocol):
    def __call__(self, *args: str, stdin: str | None = None) -> str: ...


@pytest.fixture
def run(kube: KubeApiServer, tmp_path: Path) -> Kubectl:
    """Run kubectl with the server's kubeconfig; fail on a non-zero exit; return stdout."""
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")

    def kubectl(*args: str, stdin: str | None = None) -> str:
        assert KUBECTL is not None
        command = [
            KUBECTL,
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={tmp_path / 'cache'}",
            *args,
        ]
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    return kubectl


def test_kubectl_reads_builtin_and_custom_resources(kube: KubeApiServer, run: Kubectl) -> None:
    kube.apply_crd(widget_crd())
    kube.seed([pod("a", labels={"app": "x"}), pod("b", "ns1"), widget("w1", size=2)])

    assert run("get", "pods", "-A", "-o", "name").split() == ["pod/a", "pod/b"]
    assert run("get", "pods", "-l", "app=x", "-o", "name") == "pod/a"
    assert run("get", "wdg", "w1", "-o", "jsonpath={.spec.size}") == "2"
    assert "w1" in run("get", "widgets.test.opsreport.dev")
    assert "default" in run("get", "namespaces")
    assert run("wait", "--for=condition=Established", "crd/widgets.test.opsreport.dev")


def test_kubectl_apply_and_delete(kube: KubeApiServer, run: Kubectl) -> None:

    assert "created" in run("apply", "--validate=false", "-f", "-", stdin=CONFIGMAP % "a")
    assert "configured" in run("apply", "--validate=false", "-f", "-", stdin=CONFIGMAP % "b")
    stored = kube.get("v1", "ConfigMap", "default", "settings")
    assert stored is not None
    assert stored["data"] == {"mode": "b"}
    assert run("delete", "configmap", "-l", "app=x") == 'configmap "settings" deleted'
    assert kube.get("v1", "ConfigMap", "default", "settings") is None
