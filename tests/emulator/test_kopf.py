"""kopf 1.45 end to end against the emulator: `kopf run -A`, standalone and with peering.

kopf needs no special flags: it reads the server from ``KUBECONFIG`` (it has no
``--kubeconfig`` option) and logs in through kubernetes_asyncio. ``-A`` (or
``--all-namespaces``) serves the whole cluster; ``--namespace X`` works too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.emulator._helpers import GROUP, WIDGETS, wait_until, widget
from tests.support.kube_emulator import KubeApiServer

OPERATOR = """
import os
import pathlib

import kopf

JOURNAL = pathlib.Path(os.environ["WIDGET_JOURNAL"])


def note(line: str) -> None:
    with JOURNAL.open("a") as journal:
        journal.write(line + "\\n")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.watching.server_timeout = 2  # reconnect often: exercises watch resumption
    settings.networking.error_backoffs = [0.2, 0.5, 1]


@kopf.on.create("test.opsreport.dev", "v1", "widgets", id="create")
def created(body, name, patch, **_):
    note(f"create {name}")
    patch.status["phase"] = "Created"
    kopf.info(body, reason="Created", message=f"widget {name} created")


@kopf.timer("test.opsreport.dev", "v1", "widgets", interval=0.2, id="tick")
def tick(status, patch, **_):
    patch.status["ticks"] = int(status.get("ticks") or 0) + 1


@kopf.on.delete("test.opsreport.dev", "v1", "widgets", id="delete")
def deleted(name, **_):
    note(f"delete {name}")
"""

PEERING_CRD: dict[str, Any] = {
    # As kopf's own peering.yaml declares it: no status subresource.
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterkopfpeerings.kopf.dev"},
    "spec": {
        "scope": "Cluster",
        "group": "kopf.dev",
        "names": {
            "kind": "ClusterKopfPeering",
            "plural": "clusterkopfpeerings",
            "singular": "clusterkopfpeering",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                },
            }
        ],
    },
}


class Kopf:
    """``python -m kopf run`` as a subprocess against the server; killed on exit."""

    def __init__(self, kube: KubeApiServer, workdir: Path, *args: str) -> None:
        self.journal = workdir / "journal.txt"
        self.journal.touch()
        self.log = workdir / "kopf.log"
        operator = workdir / "operator.py"
        operator.write_text(OPERATOR)
        env = {
            **os.environ,
            "KUBECONFIG": str(kube.write_kubeconfig(workdir / "kubeconfig")),
            "WIDGET_JOURNAL": str(self.journal),
        }
        command = [sys.executable, "-m", "kopf", "run", "--verbose", *args, str(operator)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def journal_lines(self) -> list[str]:
        return self.journal.read_text().splitlines()

    def output(self) -> str:
        return "kopf output (last 60 lines):\n" + "\n".join(self.log.read_text().splitlines()[-60:])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def widget_status(kube: KubeApiServer) -> dict[str, Any]:
    obj = kube.get(f"{GROUP}/v1", "widgets", "default", "w1")
    return (obj or {}).get("status") or {}


def test_kopf_standalone_handles_create_timer_events_and_deletion(
    widgets: KubeApiServer, http: httpx.Client, tmp_path: Path
) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets"
    # One 500 and one 429 on the status patches: kopf must retry both and still converge.
    widgets.inject_fault("PATCH", "/widgets/w1/status$", 500)
    widgets.inject_fault("PATCH", "/widgets/w1/status$", 429, headers={"Retry-After": "1"})

    with Kopf(widgets, tmp_path, "--standalone", "-A") as kopf:
        assert http.post(url, json=widget("w1", size=1)).status_code == 201

        wait_until(
            lambda: (
                widget_status(widgets).get("phase") == "Created"
                and widget_status(widgets).get("ticks", 0) >= 5
            ),
            what="the create handler's and the timer's status patches",
            details=kopf.output,
        )
        events = wait_until(
            lambda: http.get(
                "/api/v1/namespaces/default/events",
                params={"fieldSelector": "involvedObject.name=w1,reason=Created"},
            ).json()["items"],
            what="the posted Event",
            details=kopf.output,
        )
        # Several handling cycles (timer ticks) have passed: creation was handled once.
        assert kopf.journal_lines() == ["create w1"], kopf.output()
        assert events[0]["message"] == "widget w1 created"
        assert events[0]["involvedObject"]["uid"]
        stored = widgets.get(f"{GROUP}/v1", "widgets", "default", "w1")
        assert stored is not None
        assert stored["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
        assert widgets.count_requests("PATCH", f"{url}/w1/status") >= 7  # incl. 2 failed

        assert http.delete(f"{url}/w1").status_code == 200
        wait_until(
            lambda: http.get(f"{url}/w1").status_code == 404,
            what="kopf to release its finalizer",
            details=kopf.output,
        )
        assert kopf.journal_lines() == ["create w1", "delete w1"]
        assert kopf.stop() == 0, kopf.output()


def test_kopf_with_cluster_peering(
    widgets: KubeApiServer, http: httpx.Client, tmp_path: Path
) -> None:
    widgets.apply_crd(PEERING_CRD)
    widgets.create(
        {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "default"}}
    )

    def peers() -> dict[str, Any]:
        peering = widgets.get("kopf.dev/v1", "ClusterKopfPeering", None, "default")
        return (peering or {}).get("status") or {}

    with Kopf(widgets, tmp_path, "--peering=default", "-A") as kopf:
        http.post(f"{WIDGETS}/namespaces/default/widgets", json=widget("w1"))

        keepalive = wait_until(peers, what="kopf's peering keepalive", details=kopf.output)
        wait_until(
            lambda: widget_status(widgets).get("phase") == "Created",
            what="the create handler (the operator must not pause itself)",
            details=kopf.output,
        )
        ((identity, peer),) = keepalive.items()
        assert {"priority", "lifetime", "lastseen"} <= peer.keys()
        assert kopf.journal_lines() == ["create w1"]

        assert kopf.stop() == 0, kopf.output()
        assert identity not in peers()  # a stopping operator removes itself from the peering
