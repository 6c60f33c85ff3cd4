"""The operator as a process: idle memory with many schedules, and a burst of due runs.

The burst's reports read a 100-pod cluster whose history ends at the top of the current hour, so
that run-now windows (which end now) hold a day of data like a real cluster's would.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.prometheus import PrometheusServer
from tests.support.stack import CRD_FILE, GROUP_VERSION, OperatorProcess, seed_scenario

from bench import procfs
from bench.history import DEFAULT_CACHE, bench_scenario, blocks_for, log

Json = dict[str, Any]
RUN_NOW = "opsreport.dev/run-now"
PLURAL = "reportschedules"


@dataclass
class OperatorResult:
    schedules: int
    reconcile_seconds: float = 0.0
    idle_samples: list[int] = field(default_factory=list)
    burst_seconds: float = 0.0
    burst_samples: list[int] = field(default_factory=list)
    burst_hwm: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def idle_rss(self) -> int:
        return max(self.idle_samples)

    @property
    def burst_peak(self) -> int:
        return max([*self.burst_samples, self.burst_hwm])

    def detail(self) -> Json:
        return {
            "schedules": self.schedules,
            "reconcileSeconds": round(self.reconcile_seconds, 2),
            "idleRssBytes": {
                "max": self.idle_rss,
                "median": int(statistics.median(self.idle_samples)),
                "samples": len(self.idle_samples),
            },
            "burstSeconds": round(self.burst_seconds, 2),
            "burstPeakRssBytes": self.burst_peak,
            "burstVmHWM": self.burst_hwm,
            "outcomes": self.outcomes,
        }


def _spec(namespace: str) -> Json:
    return {
        # Once a year: never due while the benchmark runs, only run-now starts reports.
        "schedule": "0 0 1 1 *",
        "timeZone": "UTC",
        "window": {"duration": "24h"},
        "formats": ["markdown", "html", "json"],
        "scope": {"namespaces": [namespace]},
        "outputs": [{"configMap": {}}],
    }


def _wait(
    kube: KubeApiServer,
    done: Any,
    pid: int,
    samples: list[int],
    timeout: float,
    what: str,
) -> float:
    """Poll the schedules until `done(schedule)` holds for all, sampling the operator's RSS."""
    started = time.monotonic()
    while True:
        samples.append(procfs.tree_rss(pid))
        items = kube.list(GROUP_VERSION, PLURAL)
        if items and all(done(item) for item in items):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pending = sum(1 for item in items if not done(item))
            raise TimeoutError(f"{what}: {pending} of {len(items)} not done after {timeout:g}s")
        time.sleep(0.5)


def measure_operator(
    schedules: int = 500,
    *,
    pods: int = 100,
    history_seconds: int = 86400,
    cache_dir: Path = DEFAULT_CACHE,
    idle_seconds: float = 20.0,
    timeout: float = 1800.0,
    python: Path | None = None,
) -> OperatorResult:
    """With `python`, the operator runs on that interpreter (bench.runtime: as it ships)."""
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    scenario = bench_scenario(pods, end=end, history_seconds=history_seconds)
    data = blocks_for(scenario, cache_dir)
    result = OperatorResult(schedules)
    workdir = Path(tempfile.mkdtemp(prefix="opsreport-bench-operator-"))
    with KubeApiServer() as kube:
        kube.apply_crd(crd_from_file(CRD_FILE))
        seed_scenario(kube, scenario.kube_objects())
        namespaces = scenario.namespaces
        for index in range(schedules):
            namespace = namespaces[index % len(namespaces)]
            kube.create(
                {
                    "apiVersion": GROUP_VERSION,
                    "kind": "ReportSchedule",
                    "metadata": {"name": f"sched-{index:04d}", "namespace": namespace},
                    "spec": _spec(namespace),
                }
            )
        kubeconfig = kube.write_kubeconfig(workdir / "kubeconfig")
        with PrometheusServer(data, workdir=workdir) as prom:
            operator = OperatorProcess(kubeconfig, workdir, prometheus_url=prom.url, python=python)
            try:
                started = time.monotonic()
                operator.start(timeout=120)
                pid = operator.pid
                assert pid is not None
                reconciled = _wait(
                    kube,
                    lambda s: (s.get("status") or {}).get("nextScheduleTime"),
                    pid,
                    [],
                    timeout,
                    "reconcile",
                )
                result.reconcile_seconds = time.monotonic() - started
                log(f"operator: {schedules} schedules reconciled {reconciled:.1f}s after healthy")
                # Idle: every schedule reconciled, nothing due; timers tick every 5 s.
                deadline = time.monotonic() + idle_seconds
                while time.monotonic() < deadline:
                    result.idle_samples.append(procfs.tree_rss(pid))
                    time.sleep(0.5)
                log(f"operator: idle RSS {result.idle_rss / 2**20:.0f} MiB")
                value = str(int(time.time()))
                burst_started = time.monotonic()
                for item in kube.list(GROUP_VERSION, PLURAL):
                    meta = item["metadata"]
                    kube.patch_object(
                        GROUP_VERSION,
                        PLURAL,
                        meta["namespace"],
                        meta["name"],
                        {"metadata": {"annotations": {RUN_NOW: value}}},
                    )
                _wait(
                    kube,
                    lambda s: ((s.get("status") or {}).get("runNow") or {}).get("value") == value,
                    pid,
                    result.burst_samples,
                    timeout,
                    "burst",
                )
                result.burst_seconds = time.monotonic() - burst_started
                result.burst_hwm = procfs.status_bytes(pid, "VmHWM")
                for item in kube.list(GROUP_VERSION, PLURAL):
                    history = (item.get("status") or {}).get("history") or [{}]
                    outcome = str(history[0].get("result", "none"))  # newest first
                    result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
                log(
                    f"operator: {schedules} run-now reports in {result.burst_seconds:.1f}s, "
                    f"peak RSS {result.burst_peak / 2**20:.0f} MiB, outcomes {result.outcomes}"
                )
            finally:
                operator.stop()
    return result
