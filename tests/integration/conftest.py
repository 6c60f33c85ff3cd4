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


# Why a figure differs on VictoriaMetrics by design; docs/collectors.md "Engines differ" has the
# measured differences. Keys name the tests' reasons so each is written once.
VM_DIFFERS = {
    "left-open": "VictoriaMetrics' range selectors are left-open (t - d, t]: the sample at the "
    "window's start is not counted",
    "no-extrapolation": "VictoriaMetrics' increase()/rate() do not extrapolate to the window's "
    "edges where a series starts or ends inside it (Prometheus adds up to half an interval)",
    "first-sample": "VictoriaMetrics' increase() counts a counter's first sample in full when no "
    "sample precedes the window (it assumes the series was born at 0)",
}


# Tests that fail on VictoriaMetrics for the reasons named; each was looked at (the measured
# figures are in docs/collectors.md). Strict: the day one passes there, its entry must go.
VM_EXPECTED_FAILURES = {
    "test_collect_history.py::test_the_previous_window_gives_every_headline_a_trend": (
        "left-open",
        "first-sample",
    ),
    "test_metrics_collector.py::test_resources_per_workload_match": (
        "left-open",
        "no-extrapolation",
    ),
    "test_metrics_collector.py::test_cpu_throttling_per_workload": ("no-extrapolation",),
    "test_duplicate_scrapes.py::test_throttling_counters_match_the_scenario": ("no-extrapolation",),
    "test_collect_traffic.py::test_traffic_matches_the_scenario": ("no-extrapolation",),
    "test_collect_traffic.py::test_kpis_run_with_the_window_substituted": ("no-extrapolation",),
    "test_collect_traffic.py::test_objectives_are_judged_and_decide_the_status": (
        "no-extrapolation",
    ),
    "test_collect_series.py::test_week_figures_match_the_samples": ("no-extrapolation",),
    "test_collect_series.py::test_latency_p95_per_step": ("no-extrapolation",),
    "test_pipeline.py::test_a_report_is_true_and_stored": ("left-open", "no-extrapolation"),
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
