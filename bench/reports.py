"""Reports of one cluster size, each in a fresh process, against the bare-client baseline."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.prometheus import PrometheusServer
from tests.support.stack import CRD_FILE, seed_scenario

from bench.child import Job
from bench.history import DEFAULT_CACHE, REPO, bench_scenario, blocks_for, log
from opsreport.kube import DEFAULT_PAGE_SIZE

Json = dict[str, Any]


@dataclass(frozen=True)
class SizeOptions:
    runs: int = 3
    history_seconds: int = 86400
    step_seconds: int = 60
    chunk_pods: int = 500
    cache_dir: Path = DEFAULT_CACHE
    regenerate: bool = False
    warmup: bool = True
    profile_dir: Path | None = None  # write pyinstrument/tracemalloc profiles here


# What the cluster collector lists (collect/cluster.py); Events once, through either API.
LISTED_KINDS = (
    "Pod",
    "Event",
    "HorizontalPodAutoscaler",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ControllerRevision",
    "Node",
)


def list_pages(objects: list[Json]) -> int:
    """Pages of 500 that listing each kind once takes: the least a report can send."""
    counts = Counter(obj["kind"] for obj in objects)
    return sum(max(1, -(-counts[kind] // DEFAULT_PAGE_SIZE)) for kind in LISTED_KINDS)


@dataclass
class SizeResult:
    pods: int
    reports: list[Json] = field(default_factory=list)
    baselines: list[Json] = field(default_factory=list)
    seed_seconds: float = 0.0
    history: Json = field(default_factory=dict)
    list_pages: int = 0  # the pages that listing every kind the report reads takes, cluster-wide

    def summary(self) -> Json:
        """One entry of results.json's `runs`: medians over the runs, the peak of the peaks."""

        def median(key: str) -> float:
            return round(float(statistics.median(r[key] for r in self.reports)), 4)

        total = median("total")
        base = round(statistics.median(b["total"] for b in self.baselines), 4)
        last = self.reports[-1]
        return {
            "pods": self.pods,
            "promQueries": last["promQueries"],
            "apiRequests": last["apiRequests"],
            "apiListPages": self.list_pages,
            "seconds": {
                "median": total,
                "collect": median("collect"),
                "render": median("render"),
                "deliver": median("deliver"),
            },
            "baselineSeconds": base,
            "ratio": round(total / base, 3) if base else None,
            # Compiling the built-in templates, once per process (the operator: at start-up).
            "renderCompileSeconds": median("renderCompile"),
            "peakRssBytes": max(r["peakRssBytes"] for r in self.reports),
            "outputBytes": last["outputBytes"],
        }

    def detail(self) -> Json:
        return {
            "pods": self.pods,
            "history": self.history,
            "seedSeconds": round(self.seed_seconds, 2),
            "reports": [
                {k: v for k, v in r.items() if k not in ("queries", "kubeCalls", "promCalls")}
                for r in self.reports
            ],
            "baselines": self.baselines,
        }


def run_child(mode: str, job: Job, *, spy: Path | None = None) -> Json:
    """Run bench.child; with `spy`, under py-spy (every thread, so the render thread too)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "operator")])}
    prefix: list[str] = []
    if spy is not None:
        py_spy = Path(sys.executable).with_name("py-spy")
        prefix = [str(py_spy), "record", "--threads", "--rate", "250", "--format", "raw"]
        prefix += ["--output", str(spy), "--"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "bench.child", mode],
        input=json.dumps(asdict(job)),  # on stdin: a 10,000-pod job outgrows an argument
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.child {mode} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    # The result is the last JSON line: py-spy adds lines of its own to stdout.
    line = next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("{"))
    result: Json = json.loads(line)
    return result


def measure_size(pods: int, options: SizeOptions) -> SizeResult:
    scenario = bench_scenario(
        pods, history_seconds=options.history_seconds, step_seconds=options.step_seconds
    )
    data = blocks_for(
        scenario, options.cache_dir, chunk_pods=options.chunk_pods, regenerate=options.regenerate
    )
    entry = json.loads((data.parent / "entry.json").read_text())
    result = SizeResult(pods, history=entry)
    end = scenario.end
    # The report's window is the last `history` (24 h for the real benchmark) of the data.
    start = end - timedelta(seconds=min(options.history_seconds, 86400))
    workdir = Path(tempfile.mkdtemp(prefix=f"opsreport-bench-{pods}-"))
    with KubeApiServer() as kube:
        kube.apply_crd(crd_from_file(CRD_FILE))
        objects = scenario.kube_objects()
        result.list_pages = list_pages(objects)
        seeded = time.perf_counter()
        seed_scenario(kube, objects)
        result.seed_seconds = time.perf_counter() - seeded
        del objects
        kubeconfig = kube.write_kubeconfig(workdir / "kubeconfig")
        with PrometheusServer(data, workdir=workdir) as prom:
            job = Job(
                kubeconfig=str(kubeconfig),
                prometheus_url=prom.url,
                namespaces=list(scenario.namespaces),
                window_start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                window_end=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                schedule_namespace=scenario.namespaces[0],
            )
            calls: Json = {}
            rounds = options.runs + (1 if options.warmup else 0)
            for index in range(rounds):
                warm = options.warmup and index == 0
                name = f"bench-{pods}-{'warmup' if warm else index}"
                report_job = _with(job, schedule_name=name)
                # Alternate which side goes first, so neither always meets the colder caches.
                if index % 2 == 0:
                    report = run_child("report", report_job)
                    calls = _calls(report)
                    base = run_child("baseline", _with(job, **calls))
                else:
                    base = run_child("baseline", _with(job, **calls))
                    report = run_child("report", report_job)
                    calls = _calls(report)
                log(
                    f"{pods} pods {'warm-up' if warm else f'run {index}'}: report "
                    f"{report['total']:.3f}s (collect {report['collect']:.3f}, render "
                    f"{report['render']:.3f} after compiling {report['renderCompile']:.3f} at"
                    f" start, deliver {report['deliver']:.3f}), baseline "
                    f"{base['total']:.3f}s, peak RSS {report['peakRssBytes'] / 2**20:.0f} MiB"
                )
                if report["dataGaps"] or not report["delivered"]:
                    log(f"  gaps {report['dataGaps']} delivery {report['deliveryMessage']!r}")
                if not warm:
                    result.reports.append(report)
                    result.baselines.append(base)
            if options.profile_dir is not None:
                options.profile_dir.mkdir(parents=True, exist_ok=True)
                for kind in ("time", "memory"):
                    target = options.profile_dir / f"report-{pods}-{kind}"
                    run_child(
                        "report",
                        _with(
                            job,
                            schedule_name=f"bench-{pods}-profile-{kind}",
                            profile=str(target),
                            profile_kind=kind,
                        ),
                    )
                    log(f"profile ({kind}) written to {target}.*")
                raw = options.profile_dir / f"report-{pods}-spy.raw"
                run_child("report", _with(job, schedule_name=f"bench-{pods}-spy"), spy=raw)
                raw.with_suffix(".txt").write_text(summarize_spy(raw.read_text()))
                log(f"profile (py-spy, all threads) written to {raw.with_suffix('.txt')}")
    return result


def _calls(report: Json) -> Json:
    """What the baseline replays: the report's PromQL and its API reads."""
    sent = {params.get("query") for _, params in report["promCalls"]}
    if sent != set(report["queries"]):
        raise RuntimeError("the Prometheus requests seen differ from the report's meta.queries")
    return {
        "prom_calls": tuple((path, params) for path, params in report["promCalls"]),
        "kube_calls": tuple((t, p, q) for t, p, q in report["kubeCalls"]),
    }


def _with(job: Job, **changes: Any) -> Job:
    return Job(**{**asdict(job), **changes})


def summarize_spy(raw: str, top: int = 40) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def rows(table: dict[str, int]) -> list[str]:
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [f"{100 * n / total:6.1f}%  {n:6d}  {frame}" for frame, n in ranked]

    return "\n".join(
        [
            f"{total} samples (250/s, every thread, idle included)",
            "",
            "self:",
            *rows(own),
            "",
            "inclusive:",
            *rows(inclusive),
            "",
        ]
    )
