"""A real single-node VictoriaMetrics with known history, for tests: the second PromQL engine.

History goes in through `/api/v1/import/prometheus` (text exposition lines with millisecond
timestamps), converted line by line from the OpenMetrics files that promtool backfills (second
timestamps), then `/internal/force_flush` makes it searchable at once. Queries use the same
`/api/v1/query` and `/api/v1/query_range` as Prometheus, always with an explicit time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import httpx

from tests.support.prometheus import _free_port
from tests.support.served import ServedProcess

VICTORIA_METRICS = "victoria-metrics"

# Bytes of text per import request: bounded memory whatever the file's size (tens of MB).
CHUNK_BYTES = 4 << 20

# Tests query fixed windows in the past and need raw samples, so: no 30 s hiding of the newest
# samples (`latencyOffset`), no response cache (each server is fresh, but a cached answer would
# hide a changed import), and no `-dedup.minScrapeInterval` (duplicate scrapes are a test case).
_FLAGS = ("-search.latencyOffset=0s", "-search.disableCache", "-retentionPeriod=100y")


class VictoriaMetricsError(RuntimeError):
    pass


def victoriametrics_available() -> bool:
    return shutil.which(VICTORIA_METRICS) is not None


def to_import_line(line: str) -> str | None:
    """One OpenMetrics line as an import line with a millisecond timestamp; None for comments.

    The timestamp is the last space-separated field (label values may hold spaces, never after
    the closing brace); a sample without one would be stamped "now" by the server, so it is an
    error here.
    """
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        return None
    head, sep, stamp = line.rpartition(" ")
    if not sep or not stamp.isdigit() or " " not in head:
        raise VictoriaMetricsError(f"sample without an integer seconds timestamp: {line!r}")
    return f"{head} {stamp}000\n"


def import_chunks(openmetrics: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's samples as import bodies of about `chunk_bytes`, ending at line boundaries."""
    buffer: list[str] = []
    size = 0
    eof = False
    with openmetrics.open(encoding="utf-8") as text:
        for raw in text:
            if eof:
                raise VictoriaMetricsError(f"{openmetrics}: text after # EOF")
            if raw.rstrip("\n") == "# EOF":
                eof = True
                continue
            line = to_import_line(raw)
            if line is None:
                continue
            buffer.append(line)
            size += len(line)
            if size >= chunk_bytes:
                yield "".join(buffer).encode()
                buffer, size = [], 0
    if not eof:
        # promtool refuses such a file too: it may be a truncated write.
        raise VictoriaMetricsError(f"{openmetrics}: no final # EOF")
    if buffer:
        yield "".join(buffer).encode()


class VictoriaMetricsServer(ServedProcess):
    """A victoria-metrics process on 127.0.0.1 with a fresh data directory.

    >>> with VictoriaMetricsServer() as vm:
    ...     vm.import_openmetrics(path)
    """

    LOG_NAME = "victoria-metrics.log"

    kind = "victoriametrics"

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        ready_timeout: float = 30.0,
        extra_flags: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        self.extra_flags = extra_flags
        self.url = ""
        super().__init__()

    def start(self) -> Self:
        if self._proc is not None:
            raise VictoriaMetricsError("already started")
        if not victoriametrics_available():
            raise VictoriaMetricsError(f"{VICTORIA_METRICS} is not on PATH")
        self._tmp = Path(tempfile.mkdtemp(prefix="opsreport-vm-", dir=self.workdir))
        try:
            self._client = httpx.Client(timeout=120.0)
            # The free port can be taken between probing and binding; try a few.
            for _attempt in range(3):
                if self._launch():
                    return self
            raise VictoriaMetricsError(f"victoria-metrics did not start:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> bool:
        assert self._tmp is not None
        assert self._client is not None
        port = _free_port()
        data = self._tmp / "data"
        shutil.rmtree(data, ignore_errors=True)  # a failed attempt may have left a lock
        self.url = f"http://127.0.0.1:{port}"
        started = self._spawn_until_ready(
            [
                VICTORIA_METRICS,
                f"-storageDataPath={data}",
                f"-httpListenAddr=127.0.0.1:{port}",
                *_FLAGS,
                *self.extra_flags,
            ],
            f"{self.url}/health",
            lambda response: response.status_code == 200 and response.text.strip() == "OK",
            self.ready_timeout,
        )
        if started is not None:
            return started
        raise VictoriaMetricsError(
            f"victoria-metrics not healthy after {self.ready_timeout}s:\n{self.log_tail()}"
        )

    def import_openmetrics(self, openmetrics: Path, chunk_bytes: int = CHUNK_BYTES) -> int:
        """Load the file's samples, then flush so they are searchable; returns the requests made."""
        if self._client is None or not self.url:
            raise VictoriaMetricsError("not started")
        requests = 0
        for body in import_chunks(openmetrics, chunk_bytes):
            response = self._client.post(f"{self.url}/api/v1/import/prometheus", content=body)
            if response.status_code != 204:
                raise VictoriaMetricsError(
                    f"import answered {response.status_code}: {response.text[:500]}"
                )
            requests += 1
        self.flush()
        return requests

    def flush(self) -> None:
        if self._client is None:
            raise VictoriaMetricsError("not started")
        self._client.get(f"{self.url}/internal/force_flush").raise_for_status()
