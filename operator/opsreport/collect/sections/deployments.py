"""Deployments over the window: the most replicas unavailable, for how long, and spec changes."""

from __future__ import annotations

from opsreport.collect import queries
from opsreport.collect.sections.base import Context, Section, counts_by, fixed, named
from opsreport.model.report import WorkloadStatus


async def _figures(ctx: Context) -> None:
    scope, seconds, step = ctx.scope, ctx.seconds, ctx.step
    results = await ctx.run.instant(
        "workloads",
        {
            "workloads.maxUnavailableReplicas": queries.deployment_max_unavailable(scope, seconds),
            "workloads.secondsUnavailable": queries.deployment_seconds_unavailable(
                scope, seconds, step
            ),
            "workloads.specChanges": queries.deployment_spec_changes(scope, seconds),
        },
    )
    if results is None:
        return
    found = {
        figure: counts_by(samples, "namespace", "deployment") for figure, samples in results.items()
    }
    ctx.facts.deployments = {
        (ns, name): WorkloadStatus(
            namespace=ns,
            kind="Deployment",
            name=name,
            max_unavailable_replicas=peak,
            seconds_unavailable=found["workloads.secondsUnavailable"].get((ns, name), 0),
            spec_changes=found["workloads.specChanges"].get((ns, name)),
        )
        for (ns, name), peak in sorted(found["workloads.maxUnavailableReplicas"].items())
    }


SECTION = Section(
    name="workloads",
    budget=fixed(3),
    gaps=named("workloads"),
    figures=_figures,
)
