"""Autoscalers: rescales, peak and bounds, time at the maximum or behind the desired count, and
the replica series of the autoscalers that rescaled most."""

from __future__ import annotations

from datetime import timedelta

from opsreport.collect import queries, series
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import (
    Context,
    Headline,
    Section,
    Values,
    counts_by,
    fixed,
    named,
    scalar,
)
from opsreport.model import figures
from opsreport.model.report import HpaActivity


async def _replica_series(ctx: Context, hpas: list[HpaActivity]) -> None:
    """Current and desired replicas per step of the autoscalers that rescaled most; after the
    scaling query, which picks them (no autoscaler, no query)."""
    if not hpas:
        ctx.facts.series.replicas = []
        return
    ranked = sorted(hpas, key=lambda h: (-(h.rescales or 0), h.namespace, h.name))
    picked = [(h.namespace, h.name, h.rescales) for h in ranked[: series.MAX_HPAS]]
    step = ctx.series_step
    found = await ctx.run.range(
        "replica series",
        "series.replicas",
        queries.hpa_replica_series(ctx.scope, sorted({name for _, name, _ in picked}), step),
        ctx.window.start + timedelta(seconds=step),
        step,
    )
    if found is not None:
        ctx.facts.series.replicas = series.replica_series(found, picked, step, ctx.window)


async def _figures(ctx: Context) -> None:
    scope, seconds, step = ctx.scope, ctx.seconds, ctx.step
    results = await ctx.run.instant(
        "scaling",
        {
            "scaling.rescales": queries.hpa_rescales(scope, seconds, step),
            "scaling.peakReplicas": queries.hpa_replicas(scope, seconds, "peak"),
            "scaling.minReplicas": queries.hpa_replicas(scope, seconds, "min"),
            "scaling.maxReplicas": queries.hpa_replicas(scope, seconds, "max"),
            "scaling.secondsAtMax": queries.hpa_seconds_at_max(scope, seconds, step),
            "scaling.secondsNotAtDesired": queries.hpa_seconds_not_at_desired(scope, seconds, step),
        },
    )
    if results is None:
        return
    hpa = ("namespace", "horizontalpodautoscaler")
    found = {figure: counts_by(samples, *hpa) for figure, samples in results.items()}
    ctx.facts.hpas = [
        HpaActivity(
            namespace=ns,
            name=name,
            rescales=count,
            peak_replicas=found["scaling.peakReplicas"].get((ns, name)),
            min_replicas=found["scaling.minReplicas"].get((ns, name)),
            max_replicas=found["scaling.maxReplicas"].get((ns, name)),
            # No step counted means none in the window: the HPA's series are there (rescales).
            seconds_at_max=found["scaling.secondsAtMax"].get((ns, name), 0),
            seconds_not_at_desired=found["scaling.secondsNotAtDesired"].get((ns, name), 0),
        )
        for (ns, name), count in sorted(found["scaling.rescales"].items())
    ]
    await _replica_series(ctx, ctx.facts.hpas)


def _previous_queries(ctx: Context) -> dict[str, str]:
    step = queries.history_step(ctx.seconds)
    return {"rescales": queries.hpa_rescales_total(ctx.scope, ctx.seconds, step)}


def _previous_values(ctx: Context, rows: dict[str, list[Sample]]) -> Values:
    return {figures.RESCALES: scalar(rows.get("rescales", []))}


SECTION = Section(
    name="scaling",
    # Six figures, and the replicas per step (not sent when the scope has no autoscaler).
    budget=fixed(7),
    gaps=named("scaling"),
    figures=_figures,
    headlines=(Headline(figures.RESCALES, lambda report: report.scaling.rescales),),
    previous_queries=_previous_queries,
    previous_values=_previous_values,
)
