"""One measurement in a fresh process: `python -m bench.child report|baseline < job.json`.

A fresh interpreter per run makes the peak RSS that of one report and nothing else, and keeps
the two sides of a comparison from warming each other's caches inside Python. The result is one
JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import procfs

Json = dict[str, Any]

PROMETHEUS_CONCURRENCY = 4  # PrometheusClient's default: the same parallelism as a report
QUERY_TIMEOUT = 120  # seconds, for both sides; see report()


@dataclass(frozen=True)
class Job:
    kubeconfig: str
    prometheus_url: str
    namespaces: list[str]
    window_start: str
    window_end: str
    schedule_namespace: str = "default"
    schedule_name: str = "bench"
    # The report's Prometheus requests as [path, params] (instant and range queries, at the
    # times the report chose); meta.queries names the same expressions.
    prom_calls: tuple[tuple[str, dict[str, str]], ...] = ()
    # The report's GET requests as [task, path, query]: the baseline replays each task's in order.
    kube_calls: tuple[tuple[int, str, dict[str, str]], ...] = ()
    # Where to write a profile (a path without suffix), and of what: "time" or "memory".
    profile: str | None = None
    profile_kind: str = "time"

    @classmethod
    def parse(cls, text: str) -> Job:
        body = json.loads(text)
        body["prom_calls"] = tuple(
            (str(path), dict(params)) for path, params in body.get("prom_calls") or ()
        )
        body["kube_calls"] = tuple(
            (int(task), str(path), dict(query))
            for task, path, query in body.get("kube_calls") or ()
        )
        return cls(**body)


def _record_gets(kube: Any) -> list[tuple[int, str, dict[str, str]]]:
    """Note every GET the client sends, with the asyncio task that sent it (measuring only)."""
    calls: list[tuple[int, str, dict[str, str]]] = []
    tasks: dict[int, int] = {}
    send = kube.request

    async def request(method: str, path: str, **kwargs: Any) -> Any:
        if method == "GET":
            task = tasks.setdefault(id(asyncio.current_task()), len(tasks))
            query = {k: str(v) for k, v in (kwargs.get("query") or {}).items()}
            calls.append((task, path, query))
        return await send(method, path, **kwargs)

    kube.request = request
    return calls


def _record_prometheus() -> list[tuple[str, dict[str, str]]]:
    """Note every query sent through httpx (the Prometheus client's transport; measuring only)."""
    calls: list[tuple[str, dict[str, str]]] = []
    send = httpx.AsyncClient.send

    async def recording(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        if request.url.path.endswith(("/api/v1/query", "/api/v1/query_range")):
            calls.append((request.url.path, dict(request.url.params)))
        return await send(self, request, **kwargs)

    httpx.AsyncClient.send = recording  # type: ignore[method-assign]
    return calls


def _peak_rss() -> int:
    """This process's own high-water RSS. Not ru_maxrss: subprocess starts children with vfork,
    and exec then hands the parent's peak to the child's ru_maxrss, so a child of the bench
    (which holds the whole synthetic cluster) reported the bench's peak, not its own."""
    return procfs.own("VmHWM")


async def report(job: Job) -> Json:
    # Imported here so that the baseline process never pays for (or holds) opsreport's modules.
    from opsreport.collect.prometheus import PrometheusSettings
    from opsreport.deliver.base import ScheduleIdentity
    from opsreport.deliver.configmap import ConfigMapSink
    from opsreport.kube import connect
    from opsreport.model.spec import parse_spec
    from opsreport.pipeline import ReportRequest, Sources, collect_report
    from opsreport.render.documents import render_documents
    from opsreport.render.environment import warm
    from opsreport.scheduling import Window, parse_rfc3339

    window = Window(parse_rfc3339(job.window_start), parse_rfc3339(job.window_end))
    spec = parse_spec(
        {
            "schedule": "0 12 * * *",
            "window": {"duration": "24h"},
            "formats": ["markdown", "html", "json"],
            "scope": {"namespaces": job.namespaces},
            "outputs": [{"configMap": {}}],
        }
    )
    request = ReportRequest(
        ScheduleIdentity(job.schedule_namespace, job.schedule_name, f"uid-{job.schedule_name}"),
        spec,
        window,
    )
    kube = await connect(job.kubeconfig)
    generated = window.end + timedelta(minutes=5)

    def clock() -> datetime:
        return generated

    calls = _record_gets(kube)
    prom_calls = _record_prometheus()
    # The operator compiles the built-in templates at start-up (handlers/startup.py), not per
    # report: so does this process, timed on its own.
    began = time.perf_counter()
    warm()
    render_compile = time.perf_counter() - began
    rss: dict[str, int] = {"start": procfs.own()}
    try:
        # The heaviest queries of a 10,000-pod scope take longer than the 30 s default: a team
        # with such a cluster raises spec.prometheus.timeoutSeconds, and so does the benchmark.
        prometheus = PrometheusSettings(url=job.prometheus_url, timeout_seconds=QUERY_TIMEOUT)
        sources = Sources(kube=kube, prometheus=prometheus)
        sink = ConfigMapSink(kube)
        started = time.perf_counter()
        # The same steps as pipeline.run_report, timed one by one.
        data = await collect_report(request, sources, clock)
        collected = time.perf_counter()
        kube_calls = list(calls)  # the collection's only: delivery's reads are not listing
        prom_sent = list(prom_calls)
        rss["collected"] = procfs.own()
        documents = render_documents(data, spec.template.name, spec.formats)
        rendered = time.perf_counter()
        rss["rendered"] = procfs.own()
        outcome = await sink.deliver(request.identity, data, documents, data.generated_at)
        delivered = time.perf_counter()
        rss["delivered"] = procfs.own()
        peak = _peak_rss()  # before the extra render below
        # A second render: what is left between two reports (caches warm, objects allocated).
        render_documents(data, spec.template.name, spec.formats)
        render_warm = time.perf_counter() - delivered
    finally:
        await kube.close()
    meta = data.meta
    return {
        "collect": collected - started,
        "render": rendered - collected,
        "deliver": delivered - rendered,
        "total": delivered - started,
        "renderCompile": render_compile,
        "renderWarm": render_warm,
        "promQueries": meta.prom_queries,
        "apiRequests": meta.api_requests,
        "queries": [q.expr for q in meta.queries],
        "kubeCalls": kube_calls,
        "promCalls": prom_sent,
        "dataGaps": [gap.model_dump() for gap in data.data_gaps],
        "outputBytes": {
            **{doc.format: len(doc.content.encode()) for doc in documents},
            "configMap": outcome.bytes,
        },
        "delivered": outcome.ok,
        "deliveryMessage": outcome.message,
        "rows": {
            "workloads": len(data.resources.workloads),
            "restarts": len(data.restarts.top),
            "hpas": len(data.scaling.hpas or []),
            "pods": data.pods.total,
        },
        "rss": rss,
        "peakRssBytes": peak,
    }


def _kube_target(kubeconfig: str) -> tuple[str, dict[str, str]]:
    config = yaml.safe_load(Path(kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    token = (config["users"][0].get("user") or {}).get("token")
    return server, {"Authorization": f"Bearer {token}"} if token else {}


async def baseline(job: Job) -> Json:
    """The report's own PromQL and API calls, with the report's parallelism, and nothing else.

    Bodies are read whole but never parsed. The API calls are replayed as recorded, continue
    tokens included, each asyncio task's calls in order and the tasks side by side, which is how
    the collectors send them.
    """
    server, headers = _kube_target(job.kubeconfig)
    slots = asyncio.Semaphore(PROMETHEUS_CONCURRENCY)
    received = {"prometheus": 0, "kubernetes": 0}
    requests = {"prometheus": 0, "kubernetes": 0}
    spans: dict[str, float] = {}
    took: dict[str, float] = {}  # seconds per PromQL expression, to name the costly ones
    statuses: dict[str, int] = {}

    async with (
        httpx.AsyncClient(base_url=job.prometheus_url, timeout=QUERY_TIMEOUT + 2) as prom,
        httpx.AsyncClient(base_url=server, headers=headers, timeout=120) as api,
    ):

        async def one_query(path: str, params: dict[str, str]) -> None:
            async with slots:
                sent = time.perf_counter()
                response = await prom.get(path, params=params)
                took[params.get("query", "")] = time.perf_counter() - sent
            # An error (Prometheus' 503 on its query timeout) is an answer too: the report got
            # the same one. Counted, not raised.
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            received["prometheus"] += len(response.content)
            requests["prometheus"] += 1

        async def all_queries() -> None:
            started = time.perf_counter()
            await asyncio.gather(*(one_query(path, params) for path, params in job.prom_calls))
            spans["prometheus"] = time.perf_counter() - started

        async def one_task(calls: list[tuple[str, dict[str, str]]]) -> None:
            for path, query in calls:
                response = await api.get(path, params=query)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
                received["kubernetes"] += len(response.content)
                requests["kubernetes"] += 1

        async def all_lists() -> None:
            started = time.perf_counter()
            by_task: dict[int, list[tuple[str, dict[str, str]]]] = {}
            for task, path, query in job.kube_calls:
                by_task.setdefault(task, []).append((path, query))
            await asyncio.gather(*(one_task(calls) for calls in by_task.values()))
            spans["kubernetes"] = time.perf_counter() - started

        started = time.perf_counter()
        await asyncio.gather(all_queries(), all_lists())
        total = time.perf_counter() - started
    return {
        "total": total,
        "spans": spans,
        "requests": requests,
        "receivedBytes": received,
        "statuses": statuses,
        "slowestQueries": sorted(took.items(), key=lambda item: -item[1])[:8],
        "peakRssBytes": _peak_rss(),
    }


def _profiled(job: Job, base: Path) -> Json:
    """The report under pyinstrument (where time goes) or tracemalloc (where memory goes), one
    at a time: each distorts what the other measures."""
    if job.profile_kind == "memory":
        import threading
        import tracemalloc

        # What is allocated at the peak, not only at the end: a watcher snapshots whenever the
        # traced total passes its highest yet by 5%. Snapshots are slow, so the peak found is
        # within 5% (and a snapshot's time) of the true one.
        tracemalloc.start(8)
        at_peak: list[tuple[int, tracemalloc.Snapshot]] = []
        done = threading.Event()

        def watch() -> None:
            highest = 0
            while not done.wait(0.05):
                current, _ = tracemalloc.get_traced_memory()
                if current > highest * 1.05:
                    highest = current
                    at_peak[:] = [(current, tracemalloc.take_snapshot())]

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        result = asyncio.run(report(job))
        done.set()
        watcher.join()
        current, peak = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")[:30]
        tracemalloc.stop()
        lines = [f"traced at the end {current:,} B, traced peak {peak:,} B", *map(str, top)]
        if at_peak:
            traced, snapshot = at_peak[0]
            lines += ["", f"at the highest snapshot, {traced:,} B traced, by caller:"]
            for stat in snapshot.statistics("traceback")[:15]:
                lines += [f"{stat.size:,} B in {stat.count:,} blocks", *stat.traceback.format()]
        base.with_suffix(".mem.txt").write_text("\n".join(lines) + "\n")
        return result
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled", interval=0.001)
    profiler.start()
    result = asyncio.run(report(job))
    profiler.stop()
    base.with_suffix(".html").write_text(profiler.output_html())
    base.with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
    return result


def main() -> None:
    mode, job = sys.argv[1], Job.parse(sys.stdin.read())
    if mode == "report":
        result = _profiled(job, Path(job.profile)) if job.profile else asyncio.run(report(job))
    elif mode == "baseline":
        result = asyncio.run(baseline(job))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
