"""What every Prometheus section shares: the facts they fill, the query runner, the plan of the
report they measure, and the shape of a section.

A section is one module: its queries, the fold of their answers into its part of the facts, its
data-gap texts, the headline figures it contributes and its share of the query budget. The
collection (`collect.measure`) runs the registry of sections (`collect.sections`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsreport.collect import history, queries, series
from opsreport.collect.prometheus import PrometheusClient, PrometheusError, Sample, Series
from opsreport.model.report import (
    Alert,
    Availability,
    DataGap,
    HpaActivity,
    Incident,
    KpiResult,
    QueryRecord,
    ReportData,
    Restarts,
    TimeSeries,
    Traffic,
    Week,
    WorkloadStatus,
    WorkloadUsage,
)
from opsreport.model.spec import KpiSpec, TrafficSpec
from opsreport.scheduling import Window

ContainerKey = tuple[str, str, str]
Values = dict[str, float | None]
Owners = dict[tuple[str, str], tuple[str, str]]


@dataclass
class MetricFacts:
    """Everything Prometheus told about a window, section by section; None: not measured."""

    availability: Availability = field(default_factory=Availability)
    restarts: Restarts | None = None
    last_reasons: dict[ContainerKey, str] = field(default_factory=dict)
    workloads: list[WorkloadUsage] | None = None
    hpas: list[HpaActivity] | None = None
    deployments: dict[tuple[str, str], WorkloadStatus] | None = None
    incidents: list[Incident] | None = None
    alerts: list[Alert] | None = None
    traffic: Traffic | None = None  # None: spec.traffic not set
    # The previous window's headline figures (model.figures names); None: not measured.
    previous: Values | None = None
    kpis: list[KpiResult] = field(default_factory=list)
    series: TimeSeries = field(default_factory=TimeSeries)
    weeks: list[Week] = field(default_factory=list)
    gaps: list[DataGap] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)


class Run:
    """One report's queries: records each as it is sent, turns failures into DataGaps.

    A query is recorded when it is asked for, before anything is awaited, so the report lists
    queries in the order the sections ask, whatever order their answers come in.
    """

    def __init__(self, client: PrometheusClient, facts: MetricFacts, window: Window) -> None:
        self.client, self.facts, self.window = client, facts, window

    def gap(self, section: str, reason: str) -> None:
        self.facts.gaps.append(DataGap(section=section, source="prometheus", reason=reason))

    def instant(
        self, section: str, figures: dict[str, str], at: datetime | None = None
    ) -> Awaitable[dict[str, list[Sample]] | None]:
        """All of a section's instant queries together; any failure marks the section missing."""
        when = at or self.window.end
        for figure, expr in figures.items():
            self.facts.queries.append(QueryRecord(figure=figure, expr=expr, time=when))

        async def answers() -> dict[str, list[Sample]] | None:
            try:
                results = await asyncio.gather(
                    *(self.client.query(expr, when) for expr in figures.values())
                )
            except PrometheusError as error:
                self.gap(section, str(error))
                return None
            return dict(zip(figures, results, strict=True))

        return answers()

    def range(
        self, section: str, figure: str, expr: str, start: datetime, step: int
    ) -> Awaitable[list[Series] | None]:
        end = self.window.end
        self.facts.queries.append(
            QueryRecord(figure=figure, expr=expr, time=end, start=start, step_seconds=step)
        )

        async def answer() -> list[Series] | None:
            try:
                return await self.client.query_range(expr, start, end, step)
            except PrometheusError as error:
                self.gap(section, str(error))
                return None

        return answer()


@dataclass(frozen=True)
class Plan:
    """What the spec asks of the collection: the budget and the sections' gaps depend on it."""

    traffic: TrafficSpec | None = None
    kpis: tuple[KpiSpec, ...] = ()


@dataclass
class Context:
    """One collection's shared state: the scope, the window and its steps, the plan."""

    run: Run
    scope: queries.Scope
    plan: Plan
    step: int  # counting subqueries and range queries over both windows
    series_step: int  # per-step series inside the window
    weeks: list[series.WeekSpan]
    steps: series.StepFacts
    sections: tuple[Section, ...]  # the registry, for what composes the others' parts
    # The previous window's headline values measured by range queries (incidents, alerts), to
    # join the trends query's once every section is done.
    previous_measured: Values = field(default_factory=dict)
    alert_stretches: dict[history.AlertKey, list[history.Stretch]] | None = None

    @property
    def window(self) -> Window:
        return self.run.window

    @property
    def seconds(self) -> int:
        return self.window.seconds

    @property
    def facts(self) -> MetricFacts:
        return self.run.facts


@dataclass(frozen=True)
class Headline:
    """A headline figure a section contributes: its name (model.figures) and its value in the
    report. The section's `previous_queries` and `previous_values` give the previous window's."""

    figure: str
    current: Callable[[ReportData], float | None]
    # Whether the report has the figure at all (traffic figures need spec.traffic): a figure
    # that is absent has no trend row, where one that is None was not measured.
    present: Callable[[ReportData], bool] = lambda report: True


# The previous window: a section's part of the one trends query (labelled expressions), and how
# its answer (rows by label) becomes headline values.
PreviousQueries = Callable[[Context], dict[str, str]]
PreviousValues = Callable[[Context, dict[str, list[Sample]]], Values]

Step = Callable[[Context], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Section:
    """One report section measured through Prometheus.

    - `figures` asks the window's own figures; every section's runs first, in registry order.
    - `follow_up` asks what comes after every section's figures have been asked for: range
      queries over time, and the team's KPIs. The report lists queries in this order.
    - `finish` runs once every section is done: rules across sections.
    - `budget` is the number of queries it sends at most, `gaps` the data-gap sections it
      answers for when Prometheus cannot be asked at all.
    """

    name: str
    budget: Callable[[Plan], int]
    gaps: Callable[[Plan], tuple[str, ...]]
    figures: Step | None = None
    follow_up: Step | None = None
    finish: Callable[[Context], None] | None = None
    headlines: tuple[Headline, ...] = ()
    previous_queries: PreviousQueries | None = None
    previous_values: PreviousValues | None = None


def container(sample: Sample) -> ContainerKey:
    labels = sample.labels
    return labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", "")


def scalar(samples: list[Sample]) -> float | None:
    return samples[0].value if samples else None


def counts_by(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], int]:
    return {tuple(s.labels.get(label, "") for label in labels): round(s.value) for s in samples}


def fixed(count: int) -> Callable[[Plan], int]:
    return lambda plan: count


def named(*sections: str) -> Callable[[Plan], tuple[str, ...]]:
    return lambda plan: sections
