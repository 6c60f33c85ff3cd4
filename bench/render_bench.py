"""Render time of the three formats for a large report, without a cluster or Prometheus.

    python -m bench.render_bench                      # 10,000 pods, 5 runs
    python -m bench.render_bench --pods 1000,10000 --runs 7
    python -m bench.render_bench --profile /tmp/render  # pyinstrument of one cold and warm render
    python -m bench.render_bench --baseline /tmp/before/operator  # against another checkout

The report is synthetic but shaped like a real collection of `Scenario.scaled(pods)` (the
benchmark's cluster): namespaces of 50 pods, workloads of 5 pods with a sidecar in every third,
one pod in 16 restarting with Error and one in 40 OOMKilled, an HPA on every fourth Deployment,
scaling events capped at 100 and failure events at 50 like the collectors; every other section is
the golden `full_report()`'s. At 10,000 pods: 2,667 usage rows, 875 restart rows, 429 HPAs and
2,000 workloads.

Figures, each the median of `--runs`:
- cold: a fresh process's first `render_documents` of Markdown, HTML and JSON (compiles templates);
- compile: a fresh process's `warm()` (the operator's start-up cost), where it exists;
- after compile: the first render after `warm()` in that process, which is what the operator pays
  per report;
- warm: the fifth render in one process.

With `--baseline OTHER/operator` the same figures (but compile) for another checkout, in runs that
alternate with this tree's, and the ratios before / after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from tests.golden.scenario import START, full_report

from opsreport.model.report import (
    HpaActivity,
    KubeEvent,
    ReportData,
    RestartRow,
    TerminatedContainer,
    WaitingContainer,
    WorkloadStatus,
    WorkloadUsage,
)

FORMATS = ("markdown", "html", "json")
MIB = 2**20


def build_report(pods: int) -> ReportData:
    base = full_report()
    usage: list[WorkloadUsage] = []
    statuses: list[WorkloadStatus] = []
    restarts: list[RestartRow] = []
    terminated: list[TerminatedContainer] = []
    waiting: list[WaitingContainer] = []
    hpas: list[HpaActivity] = []
    template_usage = base.resources.workloads[0]
    made = index = 0
    while made < pods:
        namespace = f"team-{made // 50:02d}"
        size = min(5, pods - made)
        kind = "StatefulSet" if index % 7 == 6 else "Deployment"
        name = f"svc-{index:04d}"
        cpu = (0.1, 0.25, 0.5)[index % 3]
        memory = (128, 256, 512)[index % 3] * MIB
        limited = index % 4 != 3
        for container, share in (("app", 0.3 + 0.6 * (index % 10) / 10), ("sidecar", 0.4)):
            if container == "sidecar" and index % 3:
                continue
            request = cpu if container == "app" else 0.02
            mem_request = memory if container == "app" else 32 * MIB
            usage.append(
                template_usage.model_copy(
                    update={
                        "namespace": namespace,
                        "kind": kind,
                        "name": name,
                        "container": container,
                        "pods": size,
                        "cpu": template_usage.cpu.model_copy(
                            update={
                                "avg": request * share * 0.7,
                                "p95": request * share,
                                "max": request * share * 1.3,
                                "request": request,
                                "limit": 2 * request if limited and container == "app" else None,
                            }
                        ),
                        "memory": template_usage.memory.model_copy(
                            update={
                                "avg": mem_request * share * 0.8,
                                "max": mem_request * share,
                                "request": mem_request,
                                "limit": 2 * mem_request
                                if limited and container == "app"
                                else None,
                            }
                        ),
                    }
                )
            )
        statuses.append(
            WorkloadStatus(
                namespace=namespace,
                kind=kind,
                name=name,
                desired_replicas=size,
                ready_replicas=size,
                unavailable_replicas=0,
                rollouts=0,
                max_unavailable_replicas=1 if index % 11 == 0 else 0,
                seconds_unavailable=60 * (index % 5) if index % 11 == 0 else 0,
                spec_changes=0,
            )
        )
        if kind == "Deployment" and index % 4 == 0:
            hpas.append(
                HpaActivity(
                    namespace=namespace,
                    name=name,
                    min_replicas=size,
                    max_replicas=2 * size,
                    rescales=1 + index % 4,
                    peak_replicas=2 * size if index % 8 == 0 else size + 1,
                    seconds_at_max=3600 if index % 8 == 0 else 0,
                    seconds_not_at_desired=120,
                    current_replicas=size,
                    desired_replicas=size,
                )
            )
        for i in range(size):
            number = made + i
            pod = f"{name}-{i}" if kind == "StatefulSet" else f"{name}-7d9f{number % 97:02d}-x{i}"
            reason = None
            if number % 16 == 5:
                reason, code, count = "Error", 1, 1 + number % 3
            elif number % 40 == 11 and limited:
                reason, code, count = "OOMKilled", 137, 1
            if reason is None:
                continue
            restarts.append(
                RestartRow(
                    namespace=namespace,
                    pod=pod,
                    container="app",
                    restarts=count,
                    last_reason=reason,
                    exit_code=code,
                )
            )
            terminated.append(
                TerminatedContainer(
                    namespace=namespace,
                    pod=pod,
                    container="app",
                    reason=reason,
                    exit_code=code,
                    finished_at=START,
                    lifetime_restarts=count,
                )
            )
            if number % 160 == 5:
                waiting.append(
                    WaitingContainer(
                        namespace=namespace, pod=pod, container="app", reason="CrashLoopBackOff"
                    )
                )
        made += size
        index += 1
    restarts.sort(key=lambda r: (-r.restarts, r.namespace, r.pod))
    by_reason: dict[str, int] = {}
    for row in restarts:
        by_reason[row.last_reason or ""] = by_reason.get(row.last_reason or "", 0) + row.restarts
    rescale = base.scaling.events[0] if base.scaling.events else None
    events: list[KubeEvent] = []
    if rescale is not None:
        events = [
            rescale.model_copy(
                update={
                    "namespace": h.namespace,
                    "name": h.name,
                    "message": f"New size: {h.peak_replicas}; reason: cpu above target",
                }
            )
            for h in hpas[:100]
        ]
    failure = base.events.top[0] if base.events else None
    failures = base.events
    if failure is not None and failures is not None:
        top = [
            failure.model_copy(update={"namespace": r.namespace, "name": r.pod})
            for r in restarts[:50]
        ]
        failures = failures.model_copy(update={"top": top, "series": len(restarts)})
    return base.model_copy(
        update={
            "scope": base.scope.model_copy(
                update={"namespaces": sorted({w.namespace for w in usage})}
            ),
            "restarts": base.restarts.model_copy(
                update={"total": sum(by_reason.values()), "by_reason": by_reason, "top": restarts}
            ),
            "resources": base.resources.model_copy(update={"workloads": usage}),
            "pods": base.pods.model_copy(
                update={
                    "total": pods,
                    "not_ready": len(waiting),
                    "waiting": waiting,
                    "terminated_in_window": terminated,
                }
            ),
            "scaling": base.scaling.model_copy(update={"hpas": hpas, "events": events}),
            "workloads": statuses,
            "events": failures,
        }
    )


def _render(report: ReportData) -> dict[str, float]:
    from opsreport.render.documents import render_documents

    times: dict[str, float] = {}
    started = time.perf_counter()
    for fmt in FORMATS:
        began = time.perf_counter()
        render_documents(report, "daily", (fmt,))
        times[fmt] = time.perf_counter() - began
    times["total"] = time.perf_counter() - started
    return times


def child(pods: int, mode: str) -> dict[str, Any]:
    """One fresh process: the report is built first (not timed), then rendered."""
    report = build_report(pods)
    from opsreport.render import environment

    result: dict[str, Any] = {}
    warm = getattr(environment, "warm", None)
    if mode == "compiled":
        if warm is None:
            return {}
        started = time.perf_counter()
        warm()
        result["compile"] = time.perf_counter() - started
    result["first"] = _render(report)
    if mode == "cold":
        for _ in range(3):
            _render(report)
        result["warm"] = _render(report)
    return result


def _fresh(pods: int, mode: str, source: str | None = None) -> dict[str, Any]:
    """One child process; `source` is another checkout's `operator/` to import opsreport from."""
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-m", "bench.render_bench", "--child", mode, "--pods", str(pods)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _figures(cold: list[dict[str, Any]], compiled: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "cold": _median([r["first"]["total"] for r in cold]),
        "coldByFormat": {f: _median([r["first"][f] for r in cold]) for f in FORMATS},
        "warm": _median([r["warm"]["total"] for r in cold]),
        "warmByFormat": {f: _median([r["warm"][f] for r in cold]) for f in FORMATS},
    }
    if compiled and all(compiled):
        figures["compile"] = _median([r["compile"] for r in compiled])
        figures["afterCompile"] = _median([r["first"]["total"] for r in compiled])
        figures["afterCompileByFormat"] = {
            f: _median([r["first"][f] for r in compiled]) for f in FORMATS
        }
    return figures


def measure(pods: int, runs: int, baseline: str | None = None) -> dict[str, Any]:
    """Medians of `runs` fresh processes per figure; with `baseline`, its runs alternate with
    this tree's, so that both meet the same load on a shared machine."""
    cold, compiled, base = [], [], []
    for _ in range(runs):
        cold.append(_fresh(pods, "cold"))
        if baseline:
            base.append(_fresh(pods, "cold", baseline))
        compiled.append(_fresh(pods, "compiled"))
    figures: dict[str, Any] = {"pods": pods, **_figures(cold, compiled)}
    if baseline:
        before = _figures(base, [])
        figures["baseline"] = before
        figures["ratios"] = {
            "cold": round(before["cold"] / figures["cold"], 2),
            "warm": round(before["warm"] / figures["warm"], 2),
        }
        if "afterCompile" in figures:
            figures["ratios"]["coldBeforeToAfterCompile"] = round(
                before["cold"] / figures["afterCompile"], 2
            )
    return figures


def profile(pods: int, base: str) -> None:
    from pyinstrument import Profiler

    report = build_report(pods)
    for label in ("cold", "warm"):
        profiler = Profiler(interval=0.0005)
        profiler.start()
        _render(report)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False)
        with open(f"{base}-{pods}-{label}.txt", "w") as out:
            out.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", default="10000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=("cold", "compiled"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="write pyinstrument profiles to PROFILE-N-*.txt")
    parser.add_argument("--baseline", help="another checkout's operator/ directory to compare")
    args = parser.parse_args()
    sizes = [int(p) for p in args.pods.split(",") if p]
    if args.child:
        print(json.dumps(child(sizes[0], args.child)))
        return
    if args.profile:
        for pods in sizes:
            profile(pods, args.profile)
        return
    for pods in sizes:
        print(json.dumps(measure(pods, args.runs, args.baseline)), flush=True)


if __name__ == "__main__":
    main()
