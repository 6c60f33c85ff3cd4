"""A scope of many namespaces: lists are cluster-wide, so requests count pages, not namespaces.

The emulator holds a 1,500-pod cluster of 30 namespaces (Scenario.scaled); the scope is 20 of
them, so objects of the other 10 come in the cluster-wide pages and must be dropped. What the
collector reports is checked against the seeded objects and against the same collection done
namespace by namespace (a refused cluster-wide list falls back to that).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from opsreport.collect import cluster
from opsreport.collect.cluster import (
    CLUSTER_WIDE_MIN_NAMESPACES,
    PAGES_IN_HAND,
    ClusterFacts,
    collect_cluster,
)
from opsreport.kube import DEFAULT_PAGE_SIZE, KubeApi, connect
from opsreport.scheduling import Window
from tests.integration.conftest import END
from tests.support.kube_emulator import KubeApiServer
from tests.support.scenario import Scenario
from tests.support.stack import seed_scenario

PODS = 1500
SCOPE = tuple(f"team-{i:02d}" for i in range(20))  # of team-00 .. team-29
WINDOW = Window(END - timedelta(hours=24), END)
# (apiVersion, plural, cluster-wide path) of every namespaced list the collector makes.
LISTS = (
    ("v1", "pods", "/api/v1/pods"),
    ("events.k8s.io/v1", "events", "/apis/events.k8s.io/v1/events"),
    ("autoscaling/v2", "horizontalpodautoscalers", "/apis/autoscaling/v2/horizontalpodautoscalers"),
    ("apps/v1", "deployments", "/apis/apps/v1/deployments"),
    ("apps/v1", "statefulsets", "/apis/apps/v1/statefulsets"),
    ("apps/v1", "daemonsets", "/apis/apps/v1/daemonsets"),
    ("apps/v1", "replicasets", "/apis/apps/v1/replicasets"),
    ("apps/v1", "controllerrevisions", "/apis/apps/v1/controllerrevisions"),
)


@pytest.fixture(scope="module")
def wide() -> Iterator[KubeApiServer]:
    scenario = Scenario.scaled(PODS, END, history_seconds=6 * 3600)
    with KubeApiServer() as server:
        seed_scenario(server, scenario.kube_objects())
        yield server
        assert server.internal_errors == ()


@pytest.fixture
def kube(wide: KubeApiServer) -> Iterator[KubeApiServer]:
    yield wide
    wide.clear_faults()


@pytest.fixture
async def client(wide: KubeApiServer, tmp_path: Path) -> AsyncIterator[KubeApi]:
    """A new client each time: a refused list is remembered per client."""
    api = await connect(str(wide.write_kubeconfig(tmp_path / "kubeconfig")))
    yield api
    await api.close()


def _pages(kube: KubeApiServer, api_version: str, plural: str) -> int:
    """Pages of a cluster-wide list of everything the emulator holds (at least one)."""
    return max(1, math.ceil(len(kube.list(api_version, plural)) / DEFAULT_PAGE_SIZE))


def _per_namespace_requests(kube: KubeApiServer) -> int:
    groups = ("/api/v1", "/apis/events.k8s.io/v1", "/apis/autoscaling/v2", "/apis/apps/v1")
    return sum(kube.count_requests("GET", f"{group}/namespaces/") for group in groups)


def _refuse_cluster_wide(kube: KubeApiServer) -> None:
    for _, _, path in LISTS:
        kube.inject_fault("GET", f"^{re.escape(path)}$", 403)


def _in_scope(kube: KubeApiServer, api_version: str, plural: str) -> list[dict[str, Any]]:
    return [o for o in kube.list(api_version, plural) if o["metadata"]["namespace"] in SCOPE]


async def test_requests_are_pages_of_objects_not_namespaces(
    kube: KubeApiServer, client: KubeApi
) -> None:
    assert len(SCOPE) >= CLUSTER_WIDE_MIN_NAMESPACES
    before = {path: kube.count_requests("GET", path) for _, _, path in LISTS}
    per_namespace = _per_namespace_requests(kube)

    facts = await collect_cluster(client, SCOPE, None, WINDOW)

    assert not facts.gaps
    sent = {path: kube.count_requests("GET", path) - before[path] for _, _, path in LISTS}
    assert sent == {path: _pages(kube, version, plural) for version, plural, path in LISTS}
    assert sent["/api/v1/pods"] == math.ceil(PODS / DEFAULT_PAGE_SIZE) == 3
    assert _per_namespace_requests(kube) == per_namespace
    # The lists above and the nodes: 11 requests where per namespace it took 8 x 20 + 1.
    assert client.requests_sent == sum(sent.values()) + 1 == 11


async def test_other_namespaces_are_dropped(kube: KubeApiServer, client: KubeApi) -> None:
    facts = await collect_cluster(client, SCOPE, None, WINDOW)

    assert facts.pods.total == len(_in_scope(kube, "v1", "pods")) < PODS
    assert facts.workloads is not None
    assert set(facts.workloads) == {
        (o["metadata"]["namespace"], o["kind"], o["metadata"]["name"])
        for plural in ("deployments", "statefulsets", "daemonsets")
        for o in _in_scope(kube, "apps/v1", plural)
    }
    assert facts.failures is not None
    assert facts.failures.top
    assert {e.namespace for e in facts.failures.top} <= set(SCOPE)
    assert "OOMKilling" not in facts.failures.by_reason  # posted in default, not in scope
    assert {k[0] for k in facts.last_terminations} <= set(SCOPE)


async def test_the_pod_selector_still_applies_on_the_server(
    kube: KubeApiServer, client: KubeApi
) -> None:
    pods = kube.list("v1", "pods")
    inside = [o for o in pods if o["metadata"]["namespace"] in SCOPE]
    outside = [o for o in pods if o["metadata"]["namespace"] not in SCOPE]
    apps = {inside[0]["metadata"]["labels"]["app"], outside[0]["metadata"]["labels"]["app"]}

    facts = await collect_cluster(client, SCOPE, f"app in ({','.join(sorted(apps))})", WINDOW)

    chosen = [o for o in inside if o["metadata"]["labels"]["app"] in apps]
    assert 0 < len(chosen) < len(inside)
    assert facts.pods.total == len(chosen)


async def test_a_refused_cluster_wide_list_falls_back_per_namespace_and_is_remembered(
    kube: KubeApiServer, client: KubeApi, tmp_path: Path
) -> None:
    """Namespaced Roles (the chart's watchNamespaces) allow lists in each namespace only."""
    wide = await collect_cluster(client, SCOPE, None, WINDOW)
    kube_api = await connect(str(kube.write_kubeconfig(tmp_path / "k2")))
    try:
        _refuse_cluster_wide(kube)
        narrow = await collect_cluster(kube_api, SCOPE, None, WINDOW)
        assert not narrow.gaps
        assert narrow == wide
        # Eight refusals, then eight lists per namespace and the nodes.
        assert kube_api.requests_sent == len(LISTS) + len(LISTS) * len(SCOPE) + 1

        # The next report of this client does not ask again: no refusal is left to answer.
        kube.clear_faults()
        before = {path: kube.count_requests("GET", path) for _, _, path in LISTS}
        sent = kube_api.requests_sent
        again = await collect_cluster(kube_api, SCOPE, None, WINDOW)
        assert again == wide
        assert kube_api.requests_sent - sent == len(LISTS) * len(SCOPE) + 1
        assert {path: kube.count_requests("GET", path) for _, _, path in LISTS} == before
    finally:
        await kube_api.close()


async def test_a_remembered_refusal_is_asked_again_later(
    kube: KubeApiServer, client: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_cluster_wide(kube)
    await collect_cluster(client, SCOPE, None, WINDOW)
    monkeypatch.setattr(cluster, "FALLBACK_MEMORY_SECONDS", 0.0)  # as if an hour had passed
    sent = client.requests_sent

    facts = await collect_cluster(client, SCOPE, None, WINDOW)

    assert not facts.gaps
    assert client.requests_sent - sent == 11  # cluster-wide again: RBAC was widened


async def test_a_refusal_of_one_kind_keeps_the_others_cluster_wide(
    kube: KubeApiServer, client: KubeApi
) -> None:
    kube.inject_fault("GET", r"^/apis/apps/v1/replicasets$", 403)
    sent = client.requests_sent

    facts = await collect_cluster(client, SCOPE, None, WINDOW)

    assert not facts.gaps
    assert facts.rollouts is not None
    assert client.requests_sent - sent == 11 + len(SCOPE)  # the refusal replaced by 20 lists


async def test_events_come_from_core_cluster_wide_without_events_k8s_io(
    kube: KubeApiServer, client: KubeApi, tmp_path: Path
) -> None:
    whole = await collect_cluster(client, SCOPE, None, WINDOW)
    kube.inject_fault("GET", r"^/apis/events\.k8s\.io/", 404)
    core = kube.count_requests("GET", "/api/v1/events")
    kube_api = await connect(str(kube.write_kubeconfig(tmp_path / "k2")))
    try:
        facts = await collect_cluster(kube_api, SCOPE, None, WINDOW)
    finally:
        await kube_api.close()

    assert not facts.gaps
    assert (facts.scaling_events, facts.failures) == (whole.scaling_events, whole.failures)
    assert kube.count_requests("GET", "/api/v1/events") == core + 1


class _InFlight:
    """A reverse proxy before the emulator: delays matching GETs and records the most at once."""

    def __init__(self, upstream: str, pattern: str, delay: float) -> None:
        self.upstream, self.pattern, self.delay = upstream, re.compile(pattern), delay
        self.now = self.peak = self.hits = 0
        self.url = ""

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        hit = self.pattern.search(request.path) is not None
        if hit:
            self.hits += 1
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            if hit:
                await asyncio.sleep(self.delay)
            async with (
                aiohttp.ClientSession() as session,
                session.get(self.upstream + request.path_qs) as answer,
            ):
                body = await answer.read()
                return aiohttp.web.Response(
                    status=answer.status, body=body, content_type="application/json"
                )
        finally:
            if hit:
                self.now -= 1


@pytest.fixture
async def in_flight(kube: KubeApiServer) -> AsyncIterator[_InFlight]:
    proxy = _InFlight(kube.url, r"^/api/v1/namespaces/[^/]+/pods$", 0.2)
    app = aiohttp.web.Application()
    app.router.add_get("/{path:.*}", proxy.handle)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy.url = f"http://127.0.0.1:{port}"
    yield proxy
    await runner.cleanup()


async def test_namespaces_are_listed_a_few_at_a_time(
    kube: KubeApiServer, in_flight: _InFlight, tmp_path: Path
) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    kubeconfig.write_text(kubeconfig.read_text().replace(kube.url, in_flight.url))
    kube.inject_fault("GET", r"^/api/v1/pods$", 403)
    api = await connect(str(kubeconfig))
    try:
        facts: ClusterFacts = await collect_cluster(api, SCOPE, None, WINDOW)
    finally:
        await api.close()

    assert not facts.gaps
    assert in_flight.hits == len(SCOPE)
    assert in_flight.peak == PAGES_IN_HAND
