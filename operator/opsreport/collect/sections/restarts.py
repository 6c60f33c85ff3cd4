"""Restarts per container and their last reasons; the weeks' restarts ride on the same query."""

from __future__ import annotations

from collections import defaultdict

from opsreport.collect import queries
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import (
    ContainerKey,
    Context,
    Headline,
    Section,
    Values,
    container,
    fixed,
    named,
    scalar,
)
from opsreport.model import figures
from opsreport.model.report import RestartRow, Restarts

NO_COUNTER = "no kube_pod_container_status_restarts_total series in scope"


def _newest_reasons(samples: list[Sample]) -> dict[ContainerKey, str]:
    newest: dict[ContainerKey, tuple[float, str]] = {}
    for sample in samples:
        key = container(sample)
        if key not in newest or sample.value > newest[key][0]:
            newest[key] = (sample.value, sample.labels.get("reason", ""))
    return {key: reason for key, (_, reason) in newest.items()}


async def _figures(ctx: Context) -> None:
    """Restarts per container, their last reasons, and (in the same query, rows labelled `week`)
    the weeks' totals into the steps."""
    spans = [(w.start.timestamp(), w.end.timestamp()) for w in ctx.weeks]
    by_week = queries.restarts_by_week(ctx.scope, ctx.window.end.timestamp(), spans)
    results = await ctx.run.instant(
        "restarts",
        {
            "restarts": f"{queries.restarts(ctx.scope, ctx.seconds)} or {by_week}",
            "restarts.lastReason": queries.last_terminated_reason(ctx.scope, ctx.seconds),
        },
    )
    if results is None:
        return
    per_week: dict[str, float] = {}
    containers: list[Sample] = []
    for sample in results["restarts"]:
        if "week" in sample.labels:
            per_week[sample.labels["week"]] = sample.value
        else:
            containers.append(sample)
    if not containers:
        # Without a counter there is nothing to count; 0 would be invented.
        ctx.run.gap("restarts", NO_COUNTER)
        return
    ctx.steps.weekly_restarts = [
        None if (value := per_week.get(str(index))) is None else round(value)
        for index in range(len(ctx.weeks))
    ]
    reasons = _newest_reasons(results["restarts.lastReason"])
    rows = [
        RestartRow(
            namespace=ns,
            pod=pod,
            container=name,
            restarts=round(sample.value),
            last_reason=reasons.get((ns, pod, name)),
        )
        for sample in containers
        for ns, pod, name in [container(sample)]
        if round(sample.value) > 0
    ]
    rows.sort(key=lambda r: (-r.restarts, r.namespace, r.pod, r.container))
    by_reason: dict[str, int] = defaultdict(int)
    for row in rows:
        by_reason[row.last_reason or "Unknown"] += row.restarts
    ctx.facts.restarts = Restarts(
        total=sum(r.restarts for r in rows), by_reason=dict(by_reason), top=rows
    )
    ctx.facts.last_reasons = reasons


def _previous_queries(ctx: Context) -> dict[str, str]:
    return {"restarts": queries.restarts_total(ctx.scope, ctx.seconds)}


def _previous_values(ctx: Context, rows: dict[str, list[Sample]]) -> Values:
    return {figures.RESTARTS: scalar(rows.get("restarts", []))}


SECTION = Section(
    name="restarts",
    budget=fixed(2),  # the counters (with the weeks) and the last reasons
    gaps=named("restarts"),
    figures=_figures,
    headlines=(Headline(figures.RESTARTS, lambda report: report.restarts.total),),
    previous_queries=_previous_queries,
    previous_values=_previous_values,
)
