"""Traffic of spec.traffic: latency quantiles, requests and 5xx errors, over the window and per
step (the latency chart and the weeks)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from opsreport.collect import queries, series
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import Context, Headline, Plan, Section, Values, scalar
from opsreport.model import figures
from opsreport.model.report import Latency, ReportData, Traffic
from opsreport.model.spec import TrafficSpec


def _queries(scope: queries.Scope, seconds: int, spec: TrafficSpec) -> dict[str, str]:
    found = {}
    if spec.latency_histogram:
        found["traffic.latency"] = queries.latency_quantiles(
            scope, seconds, spec.latency_histogram, spec.selector
        )
    if spec.requests_counter:
        found["traffic.requests"] = queries.requests_total(
            scope, seconds, spec.requests_counter, spec.selector
        )
        found["traffic.errors"] = queries.requests_failed(
            scope, seconds, spec.requests_counter, spec.selector
        )
    return found


def _quantiles(samples: list[Sample]) -> Latency:
    by_q = {s.labels.get("quantile"): s.value for s in samples}
    return Latency(p50=by_q.get("0.5"), p95=by_q.get("0.95"), p99=by_q.get("0.99"))


def _values(rows: dict[str, list[Sample]]) -> tuple[Latency, float | None, float | None]:
    latency = _quantiles(rows.get("traffic.latency", []))
    return latency, scalar(rows.get("traffic.requests", [])), scalar(rows.get("traffic.errors", []))


async def _figures(ctx: Context) -> None:
    spec = ctx.plan.traffic
    if spec is None:
        return
    # One query: latency, requests and errors told apart by a `figure` label.
    results = await ctx.run.instant(
        "traffic", {"traffic": queries.labelled(_queries(ctx.scope, ctx.seconds, spec))}
    )
    if results is None:
        ctx.facts.traffic = Traffic()
        return
    rows: dict[str, list[Sample]] = defaultdict(list)
    for sample in results["traffic"]:
        rows[sample.labels.get("figure", "")].append(sample)
    latency, requests, errors = _values(rows)
    matched = f"{{{', '.join(queries.label_equals(spec.selector))}}}" if spec.selector else ""
    if spec.latency_histogram and latency.p95 is None:
        ctx.run.gap(
            "traffic",
            f"no latency: no {spec.latency_histogram}_bucket series in scope matched"
            f" {matched or 'the scope'}, or none counted a request in the window",
        )
    if spec.requests_counter and requests is None:
        ctx.run.gap(
            "traffic",
            f"no {spec.requests_counter} series in scope matched {matched or 'the scope'}",
        )
    elif spec.requests_counter and errors is None:
        ctx.run.gap("traffic", f"{spec.requests_counter} has no `code` label: errors are unknown")
    ctx.facts.traffic = Traffic(
        latency=latency,
        requests=requests,
        errors=errors,
        error_ratio=errors / requests if errors is not None and requests else None,
        requests_per_second=requests / ctx.seconds if requests is not None else None,
    )


async def _follow_up(ctx: Context) -> None:
    """Latency p95, requests and errors per step: the latency chart and the weeks."""
    spec = ctx.plan.traffic
    if spec is None:
        return
    step, steps = ctx.series_step, ctx.steps
    found = await ctx.run.range(
        "traffic series",
        "series.traffic",
        queries.traffic_series(
            ctx.scope, step, spec.latency_histogram, spec.requests_counter, spec.selector
        ),
        ctx.window.start + timedelta(seconds=step),
        step,
    )
    if found is None:
        for figure in ("requests", "errors", "latency p95"):
            steps.notes[figure] = "not measured (see Data gaps)"
        return
    rows = series.by_figure(found)
    if spec.requests_counter:
        steps.requests = series.by_step(rows.get("requests", []), step)
        steps.errors = series.by_step(rows.get("errors", []), step)
    else:
        for figure in ("requests", "errors"):
            steps.notes[figure] = "spec.traffic names no requests counter"
    if not spec.latency_histogram:
        steps.notes["latency p95"] = "spec.traffic names no latency histogram"
        return
    steps.buckets = series.buckets_by_step(rows.get("buckets", []), step)
    p95 = {t: series.bucket_quantile(0.95, b) for t, b in steps.buckets.items()}
    ctx.facts.series.latency_p95 = series.points(p95, ctx.window, step) or None


def _previous_queries(ctx: Context) -> dict[str, str]:
    spec = ctx.plan.traffic
    if spec is None:
        return {}
    return {
        figure.removeprefix("traffic."): expr
        for figure, expr in _queries(ctx.scope, ctx.seconds, spec).items()
    }


def _previous_values(ctx: Context, rows: dict[str, list[Sample]]) -> Values:
    if ctx.plan.traffic is None:
        return {}
    latency, requests, errors = _values(
        {f"traffic.{name}": samples for name, samples in rows.items()}
    )
    return {
        figures.LATENCY_P50: latency.p50,
        figures.LATENCY_P95: latency.p95,
        figures.LATENCY_P99: latency.p99,
        figures.ERROR_RATIO: errors / requests if errors is not None and requests else None,
        figures.REQUESTS_PER_SECOND: requests / ctx.seconds if requests is not None else None,
    }


def _budget(plan: Plan) -> int:
    return 2 if plan.traffic else 0  # the window's, and per step


def _gaps(plan: Plan) -> tuple[str, ...]:
    return ("traffic", "traffic series") if plan.traffic else ()


_CURRENT: dict[str, Callable[[ReportData], float | None]] = {
    figures.LATENCY_P50: lambda r: r.traffic.latency.p50 if r.traffic else None,
    figures.LATENCY_P95: lambda r: r.traffic.latency.p95 if r.traffic else None,
    figures.LATENCY_P99: lambda r: r.traffic.latency.p99 if r.traffic else None,
    figures.ERROR_RATIO: lambda r: r.traffic.error_ratio if r.traffic else None,
    figures.REQUESTS_PER_SECOND: lambda r: r.traffic.requests_per_second if r.traffic else None,
}

SECTION = Section(
    name="traffic",
    budget=_budget,
    gaps=_gaps,
    figures=_figures,
    follow_up=_follow_up,
    headlines=tuple(
        Headline(name, read, present=lambda report: report.traffic is not None)
        for name, read in _CURRENT.items()
    ),
    previous_queries=_previous_queries,
    previous_values=_previous_values,
)
