"""Evicted events: from either Events API, placed in the window by their count and timestamps.

The kubelet reports an eviction with reason `Evicted` on the pod, as a core/v1 Event; newer
components write events.k8s.io/v1 with `series`. Each series is counted once, exactly when it
lies inside the window and as "at least one" when it straddles an edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsreport.collect.cluster import collect_cluster
from opsreport.kube import KubeApi, connect
from opsreport.scheduling import Window
from tests.support.kube_emulator import KubeApiServer

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW = Window(END - timedelta(hours=24), END)
NAMESPACE = "batch"
MEMORY_PRESSURE = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 61Mi. "
    "Container worker was using 1843Mi, request is 512Mi, has larger consumption of memory."
)


def _at(hours_before_end: float) -> str:
    return (END - timedelta(hours=hours_before_end)).strftime("%Y-%m-%dT%H:%M:%SZ")


def core_event(name: str, pod: str, first: float, last: float, count: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": pod},
        "reason": "Evicted",
        "type": "Warning",
        "message": MEMORY_PRESSURE,
        "source": {"component": "kubelet", "host": "node-2"},
        "firstTimestamp": _at(first),
        "lastTimestamp": _at(last),
        "count": count,
    }


def series_event(name: str, pod: str, first: float, last: float, count: int) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "regarding": {"kind": "Pod", "namespace": NAMESPACE, "name": pod},
        "reason": "Evicted",
        "type": "Warning",
        "note": "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.",
        "action": "Evicting",
        "reportingController": "kubelet",
        "reportingInstance": "node-3",
        "eventTime": _at(first).replace("Z", ".000000Z"),
        "series": {"count": count, "lastObservedTime": _at(last).replace("Z", ".000000Z")},
    }


EVENTS = [
    core_event("worker-a.1", "worker-a", first=5, last=5, count=1),  # inside: exactly 1
    series_event("worker-b.1", "worker-b", first=8, last=2, count=2),  # inside: exactly 2
    core_event("worker-c.1", "worker-c", first=30, last=20, count=4),  # straddles the start
    core_event("worker-d.1", "worker-d", first=50, last=40, count=3),  # before the window
]


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as kube:
        kube.seed(EVENTS)
        yield kube


@pytest.fixture
async def api(server: KubeApiServer, tmp_path: Path) -> AsyncIterator[KubeApi]:
    api = await connect(str(server.write_kubeconfig(tmp_path / "kubeconfig")))
    yield api
    await api.close()


async def test_evictions_are_counted_once_each_and_placed_in_the_window(api: KubeApi) -> None:
    facts = await collect_cluster(api, (NAMESPACE,), None, WINDOW)
    assert facts.failures is not None
    rows = {e.name: e for e in facts.failures.top}
    assert set(rows) == {"worker-a", "worker-b", "worker-c"}  # worker-d ended before the window
    assert {e.reason for e in rows.values()} == {"Evicted"}
    assert (rows["worker-a"].count, rows["worker-a"].count_in_window) == (1, 1)
    assert (rows["worker-b"].count, rows["worker-b"].count_in_window) == (2, 2)
    # Four evictions between 30 h and 20 h before the end: how many fell inside is unknown.
    assert (rows["worker-c"].count, rows["worker-c"].count_in_window) == (4, None)
    assert rows["worker-a"].message == MEMORY_PRESSURE
    assert rows["worker-b"].message.startswith("Pod ephemeral local storage")
    assert rows["worker-c"].first_time == END - timedelta(hours=30)
    assert facts.failures.by_reason == {"Evicted": 1 + 2 + 1}
    assert facts.failures.exact is False
    assert facts.failures.series == 3
