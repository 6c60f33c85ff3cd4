"""The benchmark itself runs: small clusters and a short history, checking shape, not speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench.__main__ import main

from tests.support.prometheus import prometheus_available

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

RUN_KEYS = {
    "pods",
    "promQueries",
    "apiRequests",
    "seconds",
    "baselineSeconds",
    "ratio",
    "peakRssBytes",
    "outputBytes",
    "renderCompileSeconds",
    "apiListPages",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    work = tmp_path_factory.mktemp("bench")
    output = work / "results.json"
    code = main(
        [
            "--pods=50,100",
            "--runs=1",
            "--no-warmup",
            "--history-hours=3",
            "--schedules=4",
            "--operator-pods=10",
            "--idle-seconds=1",
            f"--cache-dir={work / 'cache'}",
            f"--output={output}",
            f"--detail={work / 'detail.json'}",
        ]
    )
    assert code == 0
    body: dict[str, Any] = json.loads(Path(output).read_text())
    return body


def test_results_have_the_documented_shape(results: dict[str, Any]) -> None:
    assert set(results) == {"machine", "runs", "idleOperatorRssBytes", "scheduleBurst"}
    assert isinstance(results["machine"], str)
    assert "cores" in results["machine"]
    runs = results["runs"]
    assert isinstance(runs, list)
    assert [run["pods"] for run in runs] == [50, 100]
    for run in runs:
        assert set(run) == RUN_KEYS
        assert set(run["seconds"]) == {"median", "collect", "render", "deliver"}
        assert run["baselineSeconds"] > 0
        assert run["ratio"] > 0
        assert run["peakRssBytes"] > 10 * 2**20
        assert run["renderCompileSeconds"] > 0
        assert set(run["outputBytes"]) == {"markdown", "html", "json", "configMap"}
        assert all(size > 0 for size in run["outputBytes"].values())
    assert isinstance(results["idleOperatorRssBytes"], int)
    assert results["idleOperatorRssBytes"] > 10 * 2**20
    burst = results["scheduleBurst"]
    assert isinstance(burst, dict)
    assert set(burst) == {"schedules", "seconds", "peakRssBytes"}
    assert burst["schedules"] == 4
    assert burst["seconds"] > 0


def test_query_count_does_not_grow_with_the_cluster(results: dict[str, Any]) -> None:
    runs = results["runs"]
    assert isinstance(runs, list)
    small, large = runs
    assert small["promQueries"] == large["promQueries"] > 0
    # API requests are list pages, which do grow with the cluster; only their presence is checked.
    assert 0 < small["apiRequests"] <= large["apiRequests"]
