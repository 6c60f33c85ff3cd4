"""Alerts that fired in the window (`ALERTS{alertstate="firing"}`), with their stretches."""

from __future__ import annotations

from opsreport.collect import history, queries
from opsreport.collect.sections.base import Context, Headline, Section, fixed, named
from opsreport.collect.sections.incidents import over_both_windows
from opsreport.model import figures


async def _follow_up(ctx: Context) -> None:
    answer = await over_both_windows(ctx, "alerts", queries.firing_alerts)
    if answer is None:
        return
    firing, step = answer
    previous = ctx.window.previous()
    ctx.facts.alerts = history.alerts(firing, step, ctx.window)
    totals = history.alert_totals(history.alerts(firing, step, previous))
    ctx.previous_measured[figures.ALERTS] = totals.count
    ctx.previous_measured[figures.ALERT_SECONDS] = totals.seconds
    ctx.alert_stretches = history.alert_stretches(firing, step, ctx.window)


SECTION = Section(
    name="alerts",
    budget=fixed(1),
    gaps=named("alerts"),
    follow_up=_follow_up,
    headlines=(
        Headline(
            figures.ALERTS, lambda report: None if report.alerts is None else len(report.alerts)
        ),
        Headline(
            figures.ALERT_SECONDS,
            lambda report: (
                None if report.alerts is None else sum(a.duration_seconds for a in report.alerts)
            ),
        ),
    ),
)
