"""Incidents: stretches when scrape targets of a job failed every scrape (`up == 0`)."""

from __future__ import annotations

from collections.abc import Callable

from opsreport.collect import history, queries
from opsreport.collect.prometheus import Series
from opsreport.collect.sections.availability import NO_UP
from opsreport.collect.sections.base import Context, Headline, Section, fixed, named
from opsreport.model import figures


async def over_both_windows(
    ctx: Context, section: str, build: Callable[[queries.Scope, int], str]
) -> tuple[list[Series], int] | None:
    """This window and the previous one in one range query, at one step, so a trend compares
    like with like; the answer and its step, or None (a DataGap says why)."""
    step = queries.history_step(2 * ctx.seconds)
    found = await ctx.run.range(
        section, section, build(ctx.scope, step), ctx.window.previous().start, step
    )
    return None if found is None else (found, step)


async def _follow_up(ctx: Context) -> None:
    answer = await over_both_windows(ctx, "incidents", queries.down_targets)
    if answer is None:
        return
    down, step = answer
    previous = ctx.window.previous()
    ctx.facts.incidents = history.incidents(down, step, ctx.window)
    totals = history.incident_totals(history.incidents(down, step, previous))
    ctx.previous_measured[figures.INCIDENTS] = totals.count
    ctx.previous_measured[figures.DOWNTIME_SECONDS] = totals.seconds


def _finish(ctx: Context) -> None:
    facts = ctx.facts
    if facts.incidents is not None and facts.availability.percent is None:
        # No `up` at all is no evidence of uptime either: not "no incidents".
        facts.incidents = None
        ctx.run.gap("incidents", NO_UP)


SECTION = Section(
    name="incidents",
    budget=fixed(1),
    gaps=named("incidents"),
    follow_up=_follow_up,
    finish=_finish,
    headlines=(
        Headline(
            figures.INCIDENTS,
            lambda report: None if report.incidents is None else len(report.incidents),
        ),
        Headline(
            figures.DOWNTIME_SECONDS,
            lambda report: (
                None
                if report.incidents is None
                else sum(i.duration_seconds for i in report.incidents)
            ),
        ),
    ),
)
