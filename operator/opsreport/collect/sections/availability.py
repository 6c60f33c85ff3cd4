"""Availability: the share of successful scrapes of `up` in scope, over the window and per step."""

from __future__ import annotations

from datetime import timedelta

from opsreport.collect import queries, series
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import (
    Context,
    Headline,
    Section,
    Values,
    fixed,
    named,
    scalar,
)
from opsreport.model import figures
from opsreport.model.report import Availability

NO_UP = "no `up` series of a scrape target in scope"


async def _figures(ctx: Context) -> None:
    results = await ctx.run.instant(
        "availability",
        {
            "availability.successfulScrapes": queries.availability_successful(
                ctx.scope, ctx.seconds
            ),
            "availability.totalScrapes": queries.availability_total(ctx.scope, ctx.seconds),
        },
    )
    if results is None:
        return
    successful = scalar(results["availability.successfulScrapes"])
    total = scalar(results["availability.totalScrapes"])
    if successful is None or not total:
        ctx.run.gap("availability", NO_UP)
        return
    ctx.facts.availability = Availability(
        percent=100.0 * successful / total,
        successful_scrapes=round(successful),
        total_scrapes=round(total),
    )


async def _follow_up(ctx: Context) -> None:
    """Availability per step: the availability chart and the weeks."""
    step = ctx.series_step
    found = await ctx.run.range(
        "availability series",
        "series.scope",
        queries.scope_series(ctx.scope, step),
        ctx.window.start + timedelta(seconds=step),
        step,
    )
    if found is None:
        ctx.steps.notes["availability"] = "not measured (see Data gaps)"
        return
    rows = series.by_figure(found)
    ctx.steps.successful = series.by_step(rows.get("successful", []), step)
    ctx.steps.total = series.by_step(rows.get("total", []), step)


def _previous_queries(ctx: Context) -> dict[str, str]:
    return {"availability": queries.availability_ratio(ctx.scope, ctx.seconds)}


def _previous_values(ctx: Context, rows: dict[str, list[Sample]]) -> Values:
    ratio = scalar(rows.get("availability", []))
    return {figures.AVAILABILITY: None if ratio is None else 100.0 * ratio}


SECTION = Section(
    name="availability",
    budget=fixed(3),  # the window's two sums, and the per-step series
    gaps=named("availability", "availability series"),
    figures=_figures,
    follow_up=_follow_up,
    headlines=(Headline(figures.AVAILABILITY, lambda report: report.availability.percent),),
    previous_queries=_previous_queries,
    previous_values=_previous_values,
)
