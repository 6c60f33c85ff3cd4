"""KubeApiServer: seeding speed, in-process helpers, threads, processes and lifecycle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.emulator._helpers import pod, widget
from tests.support.kube_emulator import ApiError, KubeApiServer


def test_seeding_5000_pods_is_fast(kube: KubeApiServer, http: httpx.Client) -> None:
    pods = [pod(f"pod-{i:05d}", f"ns-{i % 10}", labels={"app": f"a{i % 7}"}) for i in range(5000)]

    started = time.monotonic()
    kube.seed(pods)
    elapsed = time.monotonic() - started

    assert elapsed < 10, f"seeding took {elapsed:.1f}s"  # a smoke bound, not a benchmark
    listed = http.get("/api/v1/pods").json()["items"]
    assert len(listed) == 5000
    assert len({item["metadata"]["uid"] for item in listed}) == 5000
    assert len({item["metadata"]["resourceVersion"] for item in listed}) == 5000


def test_seeded_objects_are_stamped_like_created_ones(widgets: KubeApiServer) -> None:
    widgets.seed([pod("p1", "ns1"), widget("w1", namespace=None, size=3)])

    seeded_pod = widgets.get("v1", "Pod", "ns1", "p1")
    seeded_widget = widgets.get("test.opsreport.dev/v1", "widgets", "default", "w1")

    assert seeded_pod is not None
    assert seeded_widget is not None
    for obj in (seeded_pod, seeded_widget):
        assert obj["metadata"]["uid"]
        assert obj["metadata"]["resourceVersion"].isdigit()
        assert obj["metadata"]["generation"] == 1
    assert seeded_widget["metadata"]["namespace"] == "default"  # defaulted like kubectl does


def test_in_process_helpers(kube: KubeApiServer) -> None:
    created = kube.create(pod("p1", labels={"app": "x"}))
    patched = kube.patch_object("v1", "pods", "default", "p1", {"metadata": {"labels": {"v": "2"}}})
    json_patched = kube.patch_object(
        "v1", "pods", "default", "p1", [{"op": "add", "path": "/spec/nodeName", "value": "n1"}]
    )
    status = kube.patch_object(
        "v1", "pods", "default", "p1", {"status": {"phase": "Running"}}, subresource="status"
    )

    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert json_patched["spec"]["nodeName"] == "n1"
    assert status["status"] == {"phase": "Running"}
    assert [p["metadata"]["name"] for p in kube.list("v1", "Pod", label_selector="app=x")] == ["p1"]
    assert kube.list("v1", "Pod", "elsewhere") == []
    with pytest.raises(ApiError) as duplicate:
        kube.create(pod("p1"))
    assert duplicate.value.code == 409
    assert kube.delete("v1", "Pod", "default", "p1") is not None
    assert kube.delete("v1", "Pod", "default", "p1") is None
    assert kube.get("v1", "Pod", "default", "p1") is None


def test_returned_objects_are_copies(kube: KubeApiServer) -> None:
    body = pod("p1", labels={"app": "x"})
    kube.create(body)
    body["metadata"]["labels"]["app"] = "changed"
    fetched = kube.get("v1", "Pod", "default", "p1")
    assert fetched is not None
    fetched["metadata"]["labels"]["app"] = "changed"

    stored = kube.get("v1", "Pod", "default", "p1")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"app": "x"}


def test_concurrent_writers_from_many_threads(kube: KubeApiServer, http: httpx.Client) -> None:
    def write(i: int) -> str:
        if i % 2:
            return str(kube.create(pod(f"p{i}"))["metadata"]["resourceVersion"])
        created = http.post("/api/v1/namespaces/default/pods", json=pod(f"p{i}")).json()
        return str(created["metadata"]["resourceVersion"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(write, range(64)))

    assert len(set(versions)) == 64
    assert len(http.get("/api/v1/namespaces/default/pods").json()["items"]) == 64


def test_kubeconfig_serves_another_process(kube: KubeApiServer, tmp_path: Path) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "config", namespace="team-a")
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["current-context"] == "kube-emulator"
    assert config["contexts"][0]["context"]["namespace"] == "team-a"
    script = textwrap.dedent(
        """
        import asyncio, sys
        from kubernetes_asyncio import client, config

        async def main():
            await config.load_kube_config(config_file=sys.argv[1])
            async with client.ApiClient() as api:
                core = client.CoreV1Api(api)
                await core.create_namespaced_config_map(
                    "team-a", {"metadata": {"name": "from-child"}, "data": {"k": "v"}}
                )

        asyncio.run(main())
        """
    )

    subprocess.run([sys.executable, "-c", script, str(kubeconfig)], check=True, timeout=60)

    stored = kube.get("v1", "ConfigMap", "team-a", "from-child")
    assert stored is not None
    assert stored["data"] == {"k": "v"}


def test_servers_are_independent_and_stop_in_any_order() -> None:
    first = KubeApiServer().start()
    second = KubeApiServer().start()
    try:
        first.create(pod("only-in-first"))
        first.apply_crd(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "things.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": "Namespaced",
                    "names": {"kind": "Thing", "plural": "things"},
                    "versions": [{"name": "v1", "served": True, "storage": True}],
                },
            }
        )
        assert second.get("v1", "Pod", "default", "only-in-first") is None
        with httpx.Client(trust_env=False) as client:
            assert client.get(f"{second.url}/apis/example.com/v1").status_code == 404
    finally:
        first.stop()  # not LIFO: kmock's resolver patch would have refused this
        second.stop()
    second.stop()  # idempotent


def test_context_manager_and_fixed_port() -> None:
    with KubeApiServer() as probe:
        port = int(probe.url.rsplit(":", 1)[1])
    with KubeApiServer(port=port) as server, httpx.Client(trust_env=False) as client:
        assert server.url == f"http://127.0.0.1:{port}"
        assert client.get(f"{server.url}/version").status_code == 200


def test_calls_before_start_run_inline() -> None:
    server = KubeApiServer()
    server.create(pod("early"))
    server.inject_fault("GET", "/version", 500)
    with server, httpx.Client(trust_env=False) as client:
        assert client.get(f"{server.url}/version").status_code == 500
        assert client.get(f"{server.url}/api/v1/namespaces/default/pods/early").status_code == 200


def test_kubeconfig_needs_a_started_server(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="start"):
        KubeApiServer().write_kubeconfig(tmp_path / "config")
