"""Fixtures for the emulator's own tests: a fresh server per test and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client import ApiClient, Configuration

from tests.emulator._helpers import widget_crd
from tests.support.kube_emulator import KubeApiServer


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server
        # A 500 from an emulator bug must not pass for an injected or expected failure.
        assert server.internal_errors == ()


@pytest.fixture
def widgets(kube: KubeApiServer) -> KubeApiServer:
    """The server with the test CRD ``widgets.test.opsreport.dev`` (status subresource) applied."""
    kube.apply_crd(widget_crd())
    return kube


@pytest.fixture
def http(kube: KubeApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kube.url, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
async def ahttp(kube: KubeApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kube.url, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def kubeconfig(kube: KubeApiServer, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[ApiClient]:
    """A kubernetes_asyncio client configured from the server's kubeconfig, as users would."""
    configuration = Configuration()
    await k8s_config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration
    )
    async with ApiClient(configuration) as client:
        yield client
