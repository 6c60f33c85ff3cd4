"""The VictoriaMetrics harness and the engine-neutral entry point, against hand-computed values."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.engines import ENGINES, engine_available, serve_openmetrics
from tests.support.openmetrics import OpenMetricsWriter
from tests.support.victoriametrics import (
    VictoriaMetricsError,
    VictoriaMetricsServer,
    import_chunks,
    to_import_line,
    victoriametrics_available,
)

END = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
T0 = int(END.timestamp())  # 1741608000

needs_vm = pytest.mark.skipif(
    not victoriametrics_available(),
    reason="needs victoria-metrics (apt-get install victoria-metrics)",
)


def test_an_import_line_carries_milliseconds() -> None:
    assert to_import_line('up{job="a b"} 1 1741608000\n') == 'up{job="a b"} 1 1741608000000\n'
    assert to_import_line("jobs_done_total 2.5 1741608060") == "jobs_done_total 2.5 1741608060000\n"
    assert to_import_line("# TYPE up gauge\n") is None
    with pytest.raises(VictoriaMetricsError, match="without an integer seconds timestamp"):
        to_import_line("up 1\n")  # the server would stamp it "now"


def _counter_file(path: Path) -> Path:
    """jobs_done_total = i at T0 - 600 + 60 i, i = 0..10; restarts_total 4 from T0 - 120 on."""
    with OpenMetricsWriter.open(path) as writer:
        writer.family("jobs_done_total", "counter")
        writer.series({"job": "a"}, [(T0 - 600 + 60 * i, float(i)) for i in range(11)])
        writer.family("restarts_total", "counter")
        writer.series({"job": "a"}, [(T0 - 120, 4.0), (T0 - 60, 4.0), (T0, 4.0)])
    return path


def test_chunks_end_at_line_boundaries_and_need_the_eof(tmp_path: Path) -> None:
    path = _counter_file(tmp_path / "c.om")
    # 14 samples of at most 50 bytes each: a 100-byte chunk holds 2 or 3 whole lines.
    chunks = list(import_chunks(path, chunk_bytes=100))
    lines = [line for chunk in chunks for line in chunk.decode().splitlines()]
    assert len(lines) == 14
    assert lines[0] == 'jobs_done_total{job="a"} 0 1741607400000'
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert 5 <= len(chunks) <= 7
    truncated = tmp_path / "t.om"
    truncated.write_text(path.read_text().removesuffix("# EOF\n"))
    with pytest.raises(VictoriaMetricsError, match="no final # EOF"):
        list(import_chunks(truncated))


def _value(url: str, expr: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": str(T0)}).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


# Hand-computed at T0 over jobs_done_total = 0..10 every 60 s:
# - [270s] at T0 holds the samples at T0-240..T0, values 6..10. Prometheus: 4 over 240 s of
#   samples, extrapolated by the 30 s to the range's start: 4 * 270 / 240 = 4.5. VictoriaMetrics
#   takes the increase from the sample before the range (5 at T0-300): 10 - 5 = 5.
# - count_over_time([600s]): Prometheus 2.x counts both ends, 11; VictoriaMetrics (T0-600, T0], 10.
# - restarts_total is 4 throughout its 3 samples: Prometheus 0; VictoriaMetrics, with no sample
#   before the series, counts its first value as an increase from 0: 4.
# - timestamp() proves the seconds became milliseconds: the sample at T0 is at T0.
EXPECTED: dict[str, dict[str, float]] = {
    "increase(jobs_done_total[270s])": {"prometheus": 4.5, "victoriametrics": 5.0},
    "count_over_time(jobs_done_total[600s])": {"prometheus": 11.0, "victoriametrics": 10.0},
    "increase(restarts_total[10m])": {"prometheus": 0.0, "victoriametrics": 4.0},
    "timestamp(jobs_done_total)": {"prometheus": T0, "victoriametrics": T0},
    "increase(jobs_done_total[600s])": {"prometheus": 10.0, "victoriametrics": 10.0},
}


@pytest.mark.parametrize("kind", ENGINES)
def test_each_engine_gives_its_hand_computed_answers(kind: str, tmp_path: Path) -> None:
    if not engine_available(kind):
        pytest.skip(f"{kind} is not installed")
    path = _counter_file(tmp_path / "c.om")
    with serve_openmetrics(kind, path, tmp_path) as server:
        assert server.kind == kind
        got = {expr: _value(server.url, expr) for expr in EXPECTED}
    assert got == {expr: answers[kind] for expr, answers in EXPECTED.items()}


@needs_vm
def test_the_server_stops_and_frees_its_port_and_data(tmp_path: Path) -> None:
    server = VictoriaMetricsServer(workdir=tmp_path)
    with server:
        assert httpx.get(f"{server.url}/health").text.strip() == "OK"
        pid = server.pid
        port = int(server.url.rsplit(":", 1)[1])
        assert pid is not None
        assert any(tmp_path.iterdir())
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not any(tmp_path.iterdir())  # the data directory went with it
    with socket.socket() as sock:
        # As servers bind: closed connections may linger in TIME_WAIT, a listener may not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


@needs_vm
def test_a_refused_import_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.om"
    bad.write_text('up{job="a" 1 1741608000\n# EOF\n')  # an unclosed label set
    with VictoriaMetricsServer(workdir=tmp_path) as server:
        server.import_openmetrics(bad)
        # The import API skips lines it cannot parse; nothing may be found afterwards.
        assert _value(server.url, "count(up)") is None
