"""The PromQL engines of the local stack, behind one entry point.

Tests that measure through PromQL take an engine `kind` and get a server with a `url`; how the
history gets in (promtool backfill for Prometheus, the import API for VictoriaMetrics) is this
module's business.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from tests.support.prometheus import (
    HistorySource,
    PrometheusServer,
    backfill,
    blocks_for,
    prometheus_available,
)
from tests.support.victoriametrics import VictoriaMetricsServer, victoriametrics_available

ENGINES: tuple[str, ...] = ("prometheus", "victoriametrics")


class EngineServer(Protocol):
    url: str  # base URL, e.g. "http://127.0.0.1:PORT"
    kind: str


def engine_available(kind: str) -> bool:
    if kind == "prometheus":
        return prometheus_available()
    if kind == "victoriametrics":
        return victoriametrics_available()
    raise ValueError(f"unknown engine {kind!r}; one of {ENGINES}")


@contextmanager
def serve_openmetrics(kind: str, openmetrics: Path, workdir: Path) -> Iterator[EngineServer]:
    """A fresh `kind` server holding the samples of an OpenMetrics file (second timestamps)."""
    if kind == "prometheus":
        blocks = Path(tempfile.mkdtemp(prefix="blocks-", dir=workdir))
        try:
            backfill(openmetrics, blocks)
            with PrometheusServer(blocks, workdir=workdir) as prometheus:
                yield prometheus
        finally:
            shutil.rmtree(blocks, ignore_errors=True)
    elif kind == "victoriametrics":
        with VictoriaMetricsServer(workdir=workdir) as vm:
            vm.import_openmetrics(openmetrics)
            yield vm
    else:
        raise ValueError(f"unknown engine {kind!r}; one of {ENGINES}")


@contextmanager
def serve_history(kind: str, source: HistorySource, cache_dir: Path) -> Iterator[EngineServer]:
    """A fresh `kind` server holding `source`'s history.

    Prometheus serves cached blocks (`blocks_for`); VictoriaMetrics imports the text each time,
    because its data directory is not meant to be copied while a server may write it, and the
    import of the demo scenario takes seconds.
    """
    if kind == "prometheus":
        with PrometheusServer(blocks_for(source, cache_dir)) as prometheus:
            yield prometheus
    elif kind == "victoriametrics":
        cache_dir.mkdir(parents=True, exist_ok=True)
        text = Path(tempfile.mkdtemp(prefix=".vm-import-", dir=cache_dir))
        try:
            openmetrics = text / "history.om"
            source.write_openmetrics(openmetrics)
            with VictoriaMetricsServer() as vm:
                vm.import_openmetrics(openmetrics)
                # The text is only needed for the import; it can be tens of MB.
                shutil.rmtree(text, ignore_errors=True)
                yield vm
        finally:
            shutil.rmtree(text, ignore_errors=True)
    else:
        raise ValueError(f"unknown engine {kind!r}; one of {ENGINES}")
