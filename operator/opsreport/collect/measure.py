"""The Prometheus half of a report: the registry of sections (`collect.sections`), run together.

The number of queries depends on the spec (traffic, KPIs), never on the cluster: every query
aggregates on the server (`sections.query_budget` counts them). Sections run concurrently; a
failing query never sinks the report: its section is left unmeasured and a DataGap says why.
"""

from __future__ import annotations

import asyncio

from opsreport.collect import queries, series
from opsreport.collect.prometheus import PrometheusClient
from opsreport.collect.sections import REGISTRY
from opsreport.collect.sections.base import Context, MetricFacts, Plan, Run, Section
from opsreport.model.report import Point, TimeSeries
from opsreport.model.spec import KpiSpec, TrafficSpec
from opsreport.scheduling import Window

__all__ = ["MetricFacts", "collect_metrics"]


async def collect_metrics(
    client: PrometheusClient,
    scope: queries.Scope,
    window: Window,
    *,
    traffic: TrafficSpec | None = None,
    kpis: tuple[KpiSpec, ...] = (),
    time_zone: str = "UTC",
    sections: tuple[Section, ...] = REGISTRY,
) -> MetricFacts:
    facts = MetricFacts()
    seconds = window.seconds
    weeks = series.week_spans(window, time_zone)
    series_step, aligned = queries.series_step(seconds, series.boundaries(window, weeks))
    ctx = Context(
        run=Run(client, facts, window),
        scope=scope,
        plan=Plan(traffic=traffic, kpis=kpis),
        step=queries.history_step(seconds),
        series_step=series_step,
        weeks=weeks,
        steps=series.StepFacts(step=series_step),
        sections=sections,
    )
    async with asyncio.TaskGroup() as group:
        for section in sections:
            if section.figures is not None:
                group.create_task(section.figures(ctx))
        for section in sections:
            if section.follow_up is not None:
                group.create_task(section.follow_up(ctx))
    for section in sections:
        if section.finish is not None:
            section.finish(ctx)
    facts.series = TimeSeries(
        step_seconds=series_step,
        availability=_availability_series(ctx),
        replicas=facts.series.replicas,
        latency_p95=facts.series.latency_p95,
    )
    steps = ctx.steps
    if not aligned:
        for figure in ("availability", "requests", "errors", "latency p95"):
            steps.notes[figure] = (
                "the window does not start and end on whole minutes, so no step fits its weeks"
            )
        for name in ("successful", "total", "buckets", "requests", "errors"):
            setattr(steps, name, None)
    facts.weeks = series.fold_weeks(
        weeks,
        steps,
        facts.incidents,
        ctx.alert_stretches if facts.alerts is not None else None,
        traffic is not None,
    )
    return facts


def _availability_series(ctx: Context) -> list[Point] | None:
    steps = ctx.steps
    if steps.successful is None or steps.total is None:
        return None
    percent = {
        t: 100.0 * steps.successful.get(t, 0.0) / total for t, total in steps.total.items() if total
    }
    # No `up` at all is already the availability section's gap.
    return series.points(percent, ctx.window, steps.step) or None
