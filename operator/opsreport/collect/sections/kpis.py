"""The team's own KPIs: each query as written, now and at the window's start."""

from __future__ import annotations

import asyncio

from opsreport.collect import queries
from opsreport.collect.judge import kpi_result
from opsreport.collect.prometheus import Sample
from opsreport.collect.sections.base import Context, Plan, Section
from opsreport.model.report import KpiResult
from opsreport.model.spec import KpiSpec


def _one_value(samples: list[Sample]) -> tuple[float | None, str | None]:
    if not samples:
        return None, "returned no data"
    if len(samples) > 1:
        return None, f"returned {len(samples)} series; a KPI needs one value (aggregate it)"
    return samples[0].value, None


async def _kpi(ctx: Context, spec: KpiSpec) -> KpiResult:
    query = queries.substitute_window(spec.query, ctx.seconds)
    section = f"kpi {spec.name}"
    now_asked = ctx.run.instant(section, {f"kpis.{spec.name}": query})
    before_asked = ctx.run.instant(
        section, {f"kpis.{spec.name}.previous": query}, at=ctx.window.start
    )
    now, before = await asyncio.gather(now_asked, before_asked)
    value = previous = None
    if now is not None:
        value, problem = _one_value(now[f"kpis.{spec.name}"])
        if problem:
            ctx.run.gap(section, f"the query {problem}")
    if before is not None:
        previous, _ = _one_value(before[f"kpis.{spec.name}.previous"])
    return kpi_result(spec, query, value, previous)


async def _follow_up(ctx: Context) -> None:
    ctx.facts.kpis = list(await asyncio.gather(*(_kpi(ctx, kpi) for kpi in ctx.plan.kpis)))


def _budget(plan: Plan) -> int:
    return 2 * len(plan.kpis)  # now and at the window's start


def _gaps(plan: Plan) -> tuple[str, ...]:
    return tuple(f"kpi {kpi.name}" for kpi in plan.kpis)


SECTION = Section(name="kpis", budget=_budget, gaps=_gaps, follow_up=_follow_up)
