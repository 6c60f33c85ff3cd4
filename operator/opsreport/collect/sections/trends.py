"""The previous window's headline figures, for the trends: one query, composed of the parts the
sections give (`Section.previous_queries`), evaluated at this window's start."""

from __future__ import annotations

from collections import defaultdict

from opsreport.collect import queries
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import Context, Section, Values, fixed, named
from opsreport.model import figures


async def _figures(ctx: Context) -> None:
    parts = [
        (section.previous_queries, section.previous_values)
        for section in ctx.sections
        if section.previous_queries is not None and section.previous_values is not None
    ]
    asked: dict[str, str] = {}
    for ask, _ in parts:
        asked.update(ask(ctx))
    results = await ctx.run.instant(
        "trends", {"previous": queries.labelled(asked)}, at=ctx.window.start
    )
    if results is None:
        return
    rows: dict[str, list[Sample]] = defaultdict(list)
    for sample in results["previous"]:
        rows[sample.labels.get("figure", "")].append(sample)
    values: Values = {}
    for _, read in parts:
        values.update(read(ctx, rows))
    ctx.facts.previous = values


def _finish(ctx: Context) -> None:
    """The figures the sections measured over both windows at once (incidents, alerts) join the
    query's, where the previous window had data: with no `up` there, Prometheus had none."""
    previous = ctx.facts.previous
    if previous is None:
        return
    had_data = previous.get(figures.AVAILABILITY) is not None
    for section in ctx.sections:
        if section.previous_queries is not None:
            continue
        for headline in section.headlines:
            measured = ctx.previous_measured.get(headline.figure)
            previous[headline.figure] = measured if had_data else None


SECTION = Section(
    name="trends",
    budget=fixed(1),
    gaps=named("trends"),
    figures=_figures,
    finish=_finish,
)
