"""The Prometheus harness: backfill, block cache, server lifecycle, and the scaled scenario."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.openmetrics import OpenMetricsWriter
from tests.support.prometheus import (
    BackfillError,
    PrometheusError,
    PrometheusServer,
    backfill,
    blocks_for,
    prometheus_available,
)
from tests.support.scenario import Scenario, promql, window

pytestmark = pytest.mark.skipif(
    not prometheus_available(),
    reason="needs `prometheus` and `promtool` on PATH (Debian: apt-get install prometheus)",
)

END = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
T0 = int(END.timestamp())


class _Tiny:
    """A history source that counts how often it is asked to write."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.writes = 0

    def cache_key(self) -> str:
        return self.key

    def write_openmetrics(self, path: Path) -> None:
        self.writes += 1
        with OpenMetricsWriter.open(path) as writer:
            writer.family("jobs_done_total", "counter")
            writer.series({"job": "a"}, [(T0 - 600 + 60 * i, float(i)) for i in range(11)])
            writer.family("up", "gauge")
            writer.series({"job": "a", "instance": "x:1"}, [(T0 - 60, 1), (T0, 0)])


def test_backfill_reports_promtool_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.om"
    bad.write_text('# TYPE up gauge\nup{job="a} 1 1700000000\n# EOF\n')
    with pytest.raises(BackfillError, match="label value"):
        backfill(bad, tmp_path / "blocks")
    unterminated = tmp_path / "unterminated.om"
    unterminated.write_text("# TYPE up gauge\nup 1 1700000000\n")
    with pytest.raises(BackfillError, match="EOF"):
        backfill(unterminated, tmp_path / "blocks")


def test_blocks_are_cached_and_server_cleans_up(tmp_path: Path) -> None:
    source = _Tiny("tiny-v1")
    blocks = blocks_for(source, tmp_path)
    assert blocks_for(source, tmp_path) == blocks
    assert source.writes == 1
    assert not list(tmp_path.glob(".tiny-v1.*")), "no temporary entries left behind"

    server = PrometheusServer(blocks, workdir=tmp_path)
    with server:
        pid = server.pid
        assert pid is not None
        assert server.url.startswith("http://127.0.0.1:")
        [(_, value)] = server.vector("increase(jobs_done_total[10m])", END)
        assert value == 10
        assert server.vector("up", END)[0][1] == 0
        # Without an explicit time the data is "in the past" and nothing comes back.
        assert server.query("up", END.timestamp() + 3600)["result"] == []
        with pytest.raises(PrometheusError, match="bad_data"):
            server.query("up[", END)
    assert server.pid is None
    assert not list(tmp_path.glob("opsreport-prometheus-*"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_server_refuses_an_empty_blocks_dir(tmp_path: Path) -> None:
    with pytest.raises(PrometheusError, match="no TSDB blocks"):
        PrometheusServer(tmp_path, workdir=tmp_path).start()
    assert not list(tmp_path.glob("opsreport-prometheus-*"))


def test_scaled_scenario_matches_prometheus(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    scenario = Scenario.scaled(12, END)
    cache = getattr(request.config, "cache", None)
    cache_dir = Path(cache.mkdir("opsreport-blocks")) if cache else tmp_path
    start, end = window(END)
    scope = {"team-00"}
    expected = scenario.expected(start, end, scope)
    queries = promql("24h", scope)
    with PrometheusServer(blocks_for(scenario, cache_dir), workdir=tmp_path) as prometheus:
        restarts = {
            (labels["namespace"], labels["pod"], labels["container"]): value
            for labels, value in prometheus.vector(queries["restarts"], end)
        }
        [(_, ratio)] = prometheus.vector(queries["availability"], end)
        p95 = {
            (labels["namespace"], labels["pod"], labels["container"]): value
            for labels, value in prometheus.vector(queries["cpu_p95"], end)
        }
    assert restarts == expected.restarts_by_container
    assert expected.restarts_total > 0
    assert ratio == expected.availability_ratio
    assert p95 == {
        key: pytest.approx(usage.cpu_p95, rel=1e-6)
        for key, usage in expected.containers.items()
        if usage.cpu_p95 is not None
    }
