"""The demo scenario on the local stack, shared by the collector and sink tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsreport.kube import KubeApi, connect
from opsreport.scheduling import Window
from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.prometheus import PrometheusServer, blocks_for, prometheus_available
from tests.support.scenario import Scenario
from tests.support.stack import CRD_FILE, seed_scenario

# A fixed end on the step grid keeps the expected answers exact and the blocks cacheable.
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
SCOPE = ("payments", "shop")


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario.demo(END)


@pytest.fixture(scope="session")
def prometheus(
    scenario: Scenario, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache_dir = Path(cache.mkdir("opsreport-blocks")) if cache else tmp_path_factory.mktemp("b")
    with PrometheusServer(blocks_for(scenario, cache_dir)) as server:
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
