"""Benchmark clusters and their Prometheus history, generated once and cached by scenario.

A 10,000-pod day at a 60 s step is ~80 GB of OpenMetrics text, and promtool maps a whole file
into memory. So the scenario is cut into chunks of whole namespaces (≤ `chunk_pods` pods), each
chunk is written and backfilled into the same blocks directory (Prometheus 2.42 accepts
overlapping blocks), and each chunk's text is deleted as soon as promtool is done with it. Writing
chunk k+1 overlaps with backfilling chunk k, one core each.

Overlapping blocks would make Prometheus vertically compact them during the first minutes of every
benchmark, so the cache entry is "settled" once: a Prometheus runs on it until no two blocks
overlap, which is also what a long-running Prometheus serves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.support.prometheus import PROMETHEUS, PROMTOOL
from tests.support.scenario import DAY, HPA, Scenario
from tests.support.stack import free_port

# Fixed, on the grid, so that cache entries are reused run after run.
BENCH_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# The cache key is made of this version and the benchmark's own parameters (pods, step, history,
# end, seed, chunking), not of the scenario generator's code as in tests/support's blocks_for:
# regenerating 10,000 pods takes the best part of an hour, the generator is edited often, and a
# benchmark needs representative data, not exact expected answers. After a change to
# tests/support/scenario/ that adds series the report queries, run with --regenerate (or bump
# this) so that the new queries have data to read.
DATA_VERSION = 1
DEFAULT_CHUNK_PODS = 500
REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / ".cache" / "opsreport-bench"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _hpas(scenario: Scenario) -> tuple[HPA, ...]:
    """An HPA on every fourth Deployment, rescaling 1-4 times a day between 3 and 8 replicas."""
    out: list[HPA] = []
    deployments = [w for w in scenario.workloads if w.kind == "Deployment"]
    for index, workload in enumerate(deployments):
        if index % 4:
            continue
        rng = random.Random(f"{scenario.seed}|hpa|{workload.namespace}|{workload.name}")
        times = sorted(rng.sample(range(scenario.start_ts + 600, scenario.end_ts, 60), 4))
        rescales = tuple((t, rng.randint(3, 8)) for t in times[: rng.randint(1, 4)])
        out.append(
            HPA(workload.namespace, workload.name, workload.name, 3, 8, workload.replicas, rescales)
        )
    return tuple(out)


def bench_scenario(
    pods: int,
    *,
    end: datetime = BENCH_END,
    history_seconds: int = DAY,
    step_seconds: int = 60,
) -> Scenario:
    """Scenario.scaled (namespaces of 50 pods, workloads of 5, restarts, OOMKills, events) plus
    HPAs, which scaled() has none of."""
    base = Scenario.scaled(pods, end, history_seconds=history_seconds, step_seconds=step_seconds)
    return dataclasses.replace(base, hpas=_hpas(base))


def chunks(scenario: Scenario, chunk_pods: int) -> Iterator[Scenario]:
    """The scenario cut into whole namespaces of at most `chunk_pods` pods (at least one each).

    Every chunk keeps every node, because pods name their node's IP; the node series are thus
    written once per chunk, identically, and Prometheus merges the duplicates.
    """
    pods_in: dict[str, int] = {}
    for pod in scenario.pods:
        pods_in[pod.namespace] = pods_in.get(pod.namespace, 0) + 1
    group: list[str] = []
    count = 0
    groups: list[list[str]] = []
    for namespace in scenario.namespaces:
        if group and count + pods_in.get(namespace, 0) > chunk_pods:
            groups.append(group)
            group, count = [], 0
        group.append(namespace)
        count += pods_in.get(namespace, 0)
    if group:
        groups.append(group)
    for names in groups:
        keep = set(names)
        yield dataclasses.replace(
            scenario,
            namespaces=tuple(names),
            workloads=tuple(w for w in scenario.workloads if w.namespace in keep),
            pods=tuple(p for p in scenario.pods if p.namespace in keep),
            hpas=tuple(h for h in scenario.hpas if h.namespace in keep),
            dips=tuple(d for d in scenario.dips if d.namespace in keep),
        )


def cache_key(scenario: Scenario, chunk_pods: int) -> str:
    parts = (
        DATA_VERSION,
        len(scenario.pods),
        scenario.step_seconds,
        scenario.history_seconds,
        scenario.end.isoformat(),
        scenario.seed,
        chunk_pods,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def _promtool(openmetrics: Path, blocks: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            "--max-block-duration=168h",
            str(openmetrics),
            str(blocks),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[bytes], openmetrics: Path) -> None:
    _, err = proc.communicate()
    openmetrics.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool exited {proc.returncode}: {err.decode(errors='replace')}")


def _blocks(data: Path) -> list[tuple[int, int]]:
    spans = []
    for meta in data.glob("*/meta.json"):
        try:
            body = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue  # being written or deleted by the compactor
        spans.append((int(body["minTime"]), int(body["maxTime"])))
    return sorted(spans)


def _overlapping(spans: list[tuple[int, int]]) -> bool:
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def settle(data: Path, timeout: float = 3600.0) -> None:
    """Run Prometheus on `data` until its compactor has merged every overlapping block."""
    if not _overlapping(_blocks(data)):
        return
    config = data.parent / "settle.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    logfile = (data.parent / "settle.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=3650d",
        ],
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    logfile.close()
    started = time.monotonic()
    try:
        # The compactor first runs about a minute after start; poll the blocks on disk until then.
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {proc.returncode} while settling {data}")
            spans = _blocks(data)
            if spans and not _overlapping(spans) and not list(data.glob("*.tmp*")):
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"blocks in {data} still overlap after {timeout:g}s")
            time.sleep(2.0)
        # Ready means the compacted block is loaded; then stop cleanly so nothing is half-written.
        with httpx.Client(timeout=5.0) as client:
            for _ in range(100):
                try:
                    if client.get(f"http://127.0.0.1:{port}/-/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log(f"settled {len(_blocks(data))} block(s) in {time.monotonic() - started:.0f}s")


def blocks_for(
    scenario: Scenario,
    cache_dir: Path = DEFAULT_CACHE,
    *,
    chunk_pods: int = DEFAULT_CHUNK_PODS,
    regenerate: bool = False,
) -> Path:
    """A Prometheus data directory holding `scenario`'s history; generated on a cache miss.

    Built in a temporary sibling and renamed into place, so an interrupted run leaves no entry.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    ignore = cache_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    final = cache_dir / cache_key(scenario, chunk_pods)
    if final.is_dir() and regenerate:
        shutil.rmtree(final)
    if (final / "entry.json").is_file():
        return final / "data"
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache_dir))
    try:
        data = tmp / "data"
        data.mkdir()
        pending: tuple[subprocess.Popen[bytes], Path] | None = None
        parts = 0
        for index, chunk in enumerate(chunks(scenario, chunk_pods)):
            text = tmp / f"chunk-{index:04d}.om"
            chunk.write_openmetrics(text)
            if pending is not None:
                _finish(*pending)
            pending = (_promtool(text, data), text)
            parts += 1
            log(f"{len(scenario.pods)} pods: chunk {index + 1} written ({len(chunk.pods)} pods)")
        if pending is not None:
            _finish(*pending)
        generated = time.monotonic() - started
        settle(data)
        entry = {
            "pods": len(scenario.pods),
            "stepSeconds": scenario.step_seconds,
            "historySeconds": scenario.history_seconds,
            "end": scenario.end.isoformat(),
            "chunks": parts,
            "chunkPods": chunk_pods,
            "generateSeconds": round(generated, 1),
            "totalSeconds": round(time.monotonic() - started, 1),
            "bytesOnDisk": sum(p.stat().st_size for p in data.rglob("*") if p.is_file()),
        }
        (tmp / "entry.json").write_text(json.dumps(entry, indent=2) + "\n")
        try:
            tmp.rename(final)
        except OSError:
            if not (final / "entry.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{len(scenario.pods)} pods: history ready in {time.monotonic() - started:.0f}s")
    return final / "data"


def main() -> None:
    """`python -m bench.history 100,1000,10000@120`: fill the cache only (PODS[@STEP_SECONDS])."""
    for text in sys.argv[1].split(","):
        pods, _, step = text.partition("@")
        scenario = bench_scenario(int(pods), step_seconds=int(step or 60))
        log(f"history for {text} pods: {blocks_for(scenario)}")


if __name__ == "__main__":
    main()
