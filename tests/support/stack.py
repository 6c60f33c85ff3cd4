"""The local stack: emulated Kubernetes API, real Prometheus with a scenario's history, and the
operator as a real process. Used by the e2e tests and by `make demo`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.prometheus import PrometheusServer, blocks_for

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "deploy" / "crds" / "reportschedules.opsreport.dev.yaml"
GROUP_VERSION = "opsreport.dev/v1alpha1"

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `condition` returns something truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what or condition}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """`opsreport operator` as a subprocess, logging to a file, stopped by PID."""

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        *,
        prometheus_url: str | None,
        extra_env: dict[str, str] | None = None,
        peering: str | None = None,
        python: Path | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        # Another interpreter (the benchmark's runtime-only venv) runs the same source tree.
        self.python = python
        self.log_path = workdir / f"operator-{free_port()}.log"
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.prometheus_url = prometheus_url
        self.extra_env = extra_env or {}
        self.peering = peering
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Self:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OPSREPORT_")}
        # The scenarios report on two namespaces from one schedule: an operator-level opt-in.
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            PYTHONUNBUFFERED="1",
            OPSREPORT_ALLOW_CROSS_NAMESPACE_SCOPE="true",
            **self.extra_env,
        )
        if self.python is not None:
            source = str(REPO / "operator")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        command = [
            str(self.python or sys.executable),
            "-m",
            "opsreport.cli",
            "operator",
            "--log-format",
            "plain",
            "--liveness",
            f"http://127.0.0.1:{self.health_port}/healthz",
            "--metrics-port",
            str(self.metrics_port),
            "--verbose",
        ]
        if self.prometheus_url:
            command += ["--prometheus-url", self.prometheus_url]
        if self.peering:
            command += ["--peering", self.peering]
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
        log.close()
        wait_for(self._healthy, timeout=timeout, what=f"operator liveness ({self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            code = self._proc.returncode
            raise RuntimeError(f"the operator exited {code}:\n{self.logs()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def metrics(self) -> str:
        """The operator's /metrics page, as Prometheus would scrape it."""
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def peak_rss_bytes(self) -> int:
        """The process's peak resident memory so far (Linux' VmHWM)."""
        assert self._proc is not None
        status = Path(f"/proc/{self._proc.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kib) * 1024

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the operator gets no chance to clean up, as in a node failure."""
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def seed_scenario(kube: KubeApiServer, objects: list[dict[str, Any]]) -> None:
    """Seed a scenario's objects; namespaces the emulator already has (default) are kept."""
    kube.seed(
        o
        for o in objects
        if o["kind"] != "Namespace"
        or kube.get("v1", "namespaces", None, o["metadata"]["name"]) is None
    )


class LocalStack:
    """Kubernetes API emulator + Prometheus (with `history`, if given) + operator processes."""

    def __init__(self, history: Any | None = None, *, workdir: Path | None = None) -> None:
        self.history = history
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="opsreport-stack-"))
        self.kube = KubeApiServer()
        self.prometheus: PrometheusServer | None = None
        self.kubeconfig = self.workdir / "kubeconfig"
        self.operators: list[OperatorProcess] = []

    def start(self) -> Self:
        self.kube.start()
        self.kube.apply_crd(crd_from_file(CRD_FILE))
        self.kube.write_kubeconfig(self.kubeconfig)
        if self.history is not None:
            seed_scenario(self.kube, self.history.kube_objects())
            self.prometheus = PrometheusServer(blocks_for(self.history)).start()
        return self

    @property
    def prometheus_url(self) -> str | None:
        return self.prometheus.url if self.prometheus else None

    def start_operator(self, **kwargs: Any) -> OperatorProcess:
        operator = OperatorProcess(
            self.kubeconfig,
            self.workdir,
            prometheus_url=kwargs.pop("prometheus_url", self.prometheus_url),
            **kwargs,
        )
        self.operators.append(operator)
        return operator.start()

    def apply_schedule(
        self,
        name: str,
        namespace: str,
        spec: dict[str, Any],
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.kube.create(
            {
                "apiVersion": GROUP_VERSION,
                "kind": "ReportSchedule",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "annotations": annotations or {},
                },
                "spec": spec,
            }
        )

    def schedule(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kube.get(GROUP_VERSION, "reportschedules", namespace, name)

    def report_configmaps(self, namespace: str, schedule: str) -> list[dict[str, Any]]:
        return list(
            self.kube.list(
                "v1", "configmaps", namespace, label_selector=f"opsreport.dev/schedule={schedule}"
            )
        )

    def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            event
            for event in self.kube.list("v1", "events", namespace)
            if (event.get("involvedObject") or {}).get("name") == name
        ]

    def stop(self) -> None:
        for operator in self.operators:
            operator.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        self.kube.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
