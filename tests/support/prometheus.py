"""A real Prometheus with known history, for tests and demos.

History goes in by backfill (promtool writes TSDB blocks from OpenMetrics text), the
blocks are copied into a fresh data directory for every server because Prometheus
compacts them soon after it starts, and queries must always carry an explicit time
(an instant query without one finds nothing once the data is 5 minutes old).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, Self

import httpx

from tests.support.served import ServedProcess

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"

# The repository root: tests/support/prometheus.py -> ../../
_REPO_ROOT = Path(__file__).resolve().parents[2]

_CONFIG = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"


class PrometheusError(RuntimeError):
    pass


class BackfillError(PrometheusError):
    pass


def prometheus_available() -> bool:
    """Both binaries are needed: promtool to backfill, prometheus to serve."""
    return shutil.which(PROMETHEUS) is not None and shutil.which(PROMTOOL) is not None


def backfill(openmetrics_path: Path, blocks_dir: Path) -> None:
    """Turn an OpenMetrics file into TSDB blocks in `blocks_dir`.

    promtool reads the whole file once per block: 1536h (64-day) blocks read two months of
    history (the monthly golden's) in at most two passes, 19 s instead of 72 s with weekly blocks.
    """
    blocks_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            "--max-block-duration=1536h",
            str(openmetrics_path),
            str(blocks_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BackfillError(
            f"promtool exited {proc.returncode} for {openmetrics_path}: "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )


class HistorySource(Protocol):
    """What blocks_for() needs from a scenario."""

    def cache_key(self) -> str: ...

    def write_openmetrics(self, path: Path) -> None: ...


def default_cache_dir() -> Path:
    """`$OPSREPORT_BLOCKS_CACHE`, else `.cache/opsreport-blocks` in the repository."""
    env = os.environ.get("OPSREPORT_BLOCKS_CACHE")
    return Path(env) if env else _REPO_ROOT / ".cache" / "opsreport-blocks"


def blocks_for(source: HistorySource, cache_dir: Path | None = None) -> Path:
    """Return a directory of TSDB blocks for `source`, generating it only on a cache miss.

    The entry `<cache_dir>/<key>/` is built in a temporary sibling and renamed into place,
    so concurrent test processes never see a half-written entry; the loser of a race
    discards its copy. The key covers the scenario and the generator's source code.
    """
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ignore = cache_dir / ".gitignore"
    if not ignore.exists():
        # The default lives in the repository; keep generated blocks out of commits.
        ignore.write_text("*\n")
    final = cache_dir / source.cache_key()
    if final.is_dir():
        return final / "blocks"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache_dir))
    try:
        openmetrics = tmp / "history.om"
        source.write_openmetrics(openmetrics)
        backfill(openmetrics, tmp / "blocks")
        # The text is ~100x bigger than the blocks and can be regenerated.
        openmetrics.unlink()
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / "blocks"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _timestamp(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime; Prometheus times must be timezone-aware")
        return value.timestamp()
    return float(value)


class PrometheusServer(ServedProcess):
    """A Prometheus process on 127.0.0.1 serving the blocks in `blocks_dir`.

    >>> with PrometheusServer(blocks) as prom:
    ...     prom.query("up", time=end)
    """

    LOG_NAME = "prometheus.log"

    # What tests.support.engines.EngineServer asks of every engine.
    kind = "prometheus"

    def __init__(
        self,
        blocks_dir: Path | None = None,
        *,
        workdir: Path | None = None,
        ready_timeout: float = 30.0,
        retention: str = "3650d",
    ) -> None:
        self.blocks_dir = blocks_dir
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        # Retention counts back from the newest block and drops older blocks without an
        # error, so it must reach well beyond any generated history.
        self.retention = retention
        self.url = ""
        super().__init__()

    def start(self) -> Self:
        if self._proc is not None:
            raise PrometheusError("already started")
        if shutil.which(PROMETHEUS) is None:
            raise PrometheusError(f"{PROMETHEUS} is not on PATH")
        self._tmp = Path(tempfile.mkdtemp(prefix="opsreport-prometheus-", dir=self.workdir))
        try:
            data = self._tmp / "data"
            data.mkdir()
            if self.blocks_dir is not None:
                self._copy_blocks(self.blocks_dir, data)
            config = self._tmp / "prometheus.yml"
            config.write_text(_CONFIG)
            self._client = httpx.Client(timeout=60.0)
            # The free port can be taken between probing and binding; try a few.
            for _attempt in range(3):
                if self._launch(config, data):
                    return self
            raise PrometheusError(f"prometheus did not become ready:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _copy_blocks(blocks_dir: Path, data: Path) -> None:
        blocks = [p for p in blocks_dir.iterdir() if (p / "meta.json").is_file()]
        if not blocks:
            raise PrometheusError(f"no TSDB blocks in {blocks_dir}")
        for block in blocks:
            shutil.copytree(block, data / block.name)

    def _launch(self, config: Path, data: Path) -> bool:
        assert self._tmp is not None
        assert self._client is not None
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        started = self._spawn_until_ready(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.retention.time={self.retention}",
            ],
            f"{self.url}/-/ready",
            lambda response: response.status_code == 200,
            self.ready_timeout,
        )
        if started is not None:
            return started
        raise PrometheusError(
            f"prometheus not ready after {self.ready_timeout}s:\n{self.log_tail()}"
        )

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self._client is None or not self.url:
            raise PrometheusError("not started")
        response = self._client.get(f"{self.url}{path}", params=params)
        body: dict[str, Any] = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        data: dict[str, Any] = body["data"]
        return data

    def query(self, expr: str, time: datetime | float) -> dict[str, Any]:
        """Instant query; `time` is mandatory because data ends in the past."""
        return self._get("/api/v1/query", {"query": expr, "time": repr(_timestamp(time))})

    def query_range(
        self, expr: str, start: datetime | float, end: datetime | float, step: float
    ) -> dict[str, Any]:
        return self._get(
            "/api/v1/query_range",
            {
                "query": expr,
                "start": repr(_timestamp(start)),
                "end": repr(_timestamp(end)),
                "step": repr(float(step)),
            },
        )

    def vector(self, expr: str, time: datetime | float) -> list[tuple[dict[str, str], float]]:
        """An instant query's result as (labels, value) pairs."""
        data = self.query(expr, time)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"{expr}: expected a vector, got {data['resultType']}")
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]
