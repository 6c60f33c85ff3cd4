"""The demo scenario on the local stack, shared by the collector and sink tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsreport.kube import KubeApi, connect
from opsreport.scheduling import Window
from tests.support.engines import ENGINES, EngineServer, engine_available, serve_history
from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.scenario import Scenario
from tests.support.stack import CRD_FILE, seed_scenario

# A fixed end on the step grid keeps the expected answers exact and the blocks cacheable.
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
SCOPE = ("payments", "shop")


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario.demo(END)


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The PromQL engine under test: every test that measures through `prometheus` runs on each."""
    kind: str = request.param
    if not engine_available(kind):
        pytest.skip(f"{kind} is not installed (make install)")
    return kind


def blocks_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    return Path(cache.mkdir("opsreport-blocks")) if cache else tmp_path_factory.mktemp("b")


@pytest.fixture(scope="session")
def prometheus(
    engine: str,
    scenario: Scenario,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineServer]:
    """The demo scenario served by `engine` (the name stays: most engines are Prometheus)."""
    with serve_history(engine, scenario, blocks_cache(request, tmp_path_factory)) as server:
        yield server


@pytest.fixture(scope="session")
def kube_server(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        server.apply_crd(crd_from_file(CRD_FILE))
        seed_scenario(server, scenario.kube_objects())
        yield server


@pytest.fixture
async def kube_api(kube_server: KubeApiServer, tmp_path: Path) -> AsyncIterator[KubeApi]:
    kubeconfig = kube_server.write_kubeconfig(tmp_path / "kubeconfig")
    api = await connect(str(kubeconfig))
    yield api
    await api.close()


@pytest.fixture(params=["last day", "previous day"])
def window(request: pytest.FixtureRequest) -> Window:
    end = END if request.param == "last day" else END - DAY
    return Window(end - DAY, end)


# VictoriaMetrics differs from Prometheus by design in two ways that move the scenario's figures
# (docs/collectors.md, "Engines differ"); the scenario's answers follow Prometheus 2.
#
# - Its ranges leave out their start, and the scenario's samples sit on whole minutes: on it the
#   window is (start, end], so its answer is the scenario's from one second after the start.
# - Its `increase` does not extrapolate: it reports the growth the samples show, which is at most
#   half a scrape's growth per series that starts or ends inside a range away from Prometheus'
#   figure. Over a day of 60 s scrapes that is 1/2880 of a steady counter per such series; the
#   demo's window counters move by 3.5e-4 at most, its weekly requests (summed from 5-minute
#   steps, some holding a pod's counter reset) by 1.8e-3. A 5-minute rate (CPU) moves by up to a
#   tenth at a point whose five minutes hold a container's start or restart, a handful of the
#   window's 288 points; the demo's CPU figures move by 3.1e-3 at most.
COUNTER_REL = {"prometheus": 1e-6, "victoriametrics": 2e-3}
RATE_REL = {"prometheus": 1e-6, "victoriametrics": 1e-2}


def engine_of(server: EngineServer) -> str:
    return server.kind


def window_start_seen(server: EngineServer, start: datetime) -> datetime:
    """The first instant a range ending at the window's end selects a sample at, in the
    scenario's closed terms: the start itself on Prometheus 2, a second later on a left-open
    engine."""
    return start if server.kind == "prometheus" else start + timedelta(seconds=1)


# Tests that still fail on VictoriaMetrics, with the reason; each was looked at. Strict: the
# day one passes there, its entry must go.
VM_DIFFERS = {
    "history-start": "the window starts at the scenario's first sample: a left-open engine sees "
    "no sample before the first step, so that step has no latency figure",
}
VM_EXPECTED_FAILURES = {
    "test_collect_series.py::test_latency_p95_per_step": ("history-start",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("engine") != "victoriametrics":
            continue
        reasons = VM_EXPECTED_FAILURES.get(f"{item.path.name}::{getattr(item, 'originalname', '')}")
        if reasons:
            reason = "; ".join(VM_DIFFERS[r] for r in reasons)
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
