"""Incidents: stretches when scrape targets of a job failed every scrape (`up == 0`)."""

from __future__ import annotations

from opsreport.collect import history, queries
from opsreport.collect.sections.availability import NO_UP
from opsreport.collect.sections.base import Context, Headline, Section, fixed, named
from opsreport.model import figures


def history_step(ctx: Context) -> int:
    """Both windows in one range query, at one step, so a trend compares like with like."""
    return queries.history_step(2 * ctx.seconds)


async def _follow_up(ctx: Context) -> None:
    step = history_step(ctx)
    previous = ctx.window.previous()
    down = await ctx.run.range(
        "incidents", "incidents", queries.down_targets(ctx.scope, step), previous.start, step
    )
    if down is None:
        return
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
