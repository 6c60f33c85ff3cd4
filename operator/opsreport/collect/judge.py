"""Objectives, KPI targets and trends: pure judgements of figures that were measured.

A figure that was not measured is never judged: its status and trend stay None.
"""

from __future__ import annotations

import math

from opsreport.model import figures
from opsreport.model.figures import HEADLINES, Figure
from opsreport.model.report import (
    Direction,
    KpiResult,
    ObjectiveResult,
    ObjectiveStatus,
    Trend,
    Verdict,
)
from opsreport.model.spec import KpiSpec, ObjectiveSpec

# "At risk": the objective is met, but 75% or more of its budget is spent. The budget is the
# distance from the ideal to the target: 0.1 points for 99.9% availability, the whole target for
# a latency or an error rate (whose ideal is 0).
AT_RISK_SPENT = 0.75


_BY_NAME = {figure.name: figure for figure in HEADLINES}

# An objective's metric -> the headline figure it judges, and the factor to its unit: an error
# rate's target is in percent ("1" is 1%), the figure a ratio.
OBJECTIVE_FIGURES: dict[str, tuple[str, float, str]] = {
    "availability": (figures.AVAILABILITY, 1.0, "%"),
    "errorRate": (figures.ERROR_RATIO, 100.0, "%"),
    "latencyP50": (figures.LATENCY_P50, 1.0, "s"),
    "latencyP95": (figures.LATENCY_P95, 1.0, "s"),
    "latencyP99": (figures.LATENCY_P99, 1.0, "s"),
    "restarts": (figures.RESTARTS, 1.0, ""),
    "incidents": (figures.INCIDENTS, 1.0, ""),
    "downtimeSeconds": (figures.DOWNTIME_SECONDS, 1.0, "s"),
}

Values = dict[str, float | None]


def direction(current: float | None, previous: float | None) -> Direction | None:
    if current is None or previous is None:
        return None
    if math.isclose(current, previous, rel_tol=1e-9, abs_tol=1e-12):
        return "flat"
    return "up" if current > previous else "down"


def _verdict(moved: Direction | None, higher_is_better: bool | None) -> Verdict | None:
    if moved is None or higher_is_better is None:
        return None
    if moved == "flat":
        return "same"
    return "better" if (moved == "up") == higher_is_better else "worse"


def trends(current: Values, previous: Values | None) -> list[Trend]:
    """Every headline figure that exists this window, with last window's value where known."""
    rows = []
    for figure in HEADLINES:
        if figure.name not in current:
            continue  # e.g. traffic figures without spec.traffic
        now = current[figure.name]
        before = previous.get(figure.name) if previous is not None else None
        moved = direction(now, before)
        rows.append(
            Trend(
                figure=figure.name,
                current=now,
                previous=before,
                direction=moved,
                verdict=_verdict(moved, figure.higher_is_better),
            )
        )
    return rows


def objective_status(actual: float, target: float, figure: Figure) -> ObjectiveStatus:
    if figure.higher_is_better:
        if actual < target:
            return "missed"
        ideal = figure.ideal if figure.ideal is not None else target
        budget, spent = ideal - target, ideal - actual
    else:
        if actual > target:
            return "missed"
        budget, spent = target, actual
    if budget > 0 and spent >= AT_RISK_SPENT * budget:
        return "atRisk"
    return "met"


def objectives(
    specs: tuple[ObjectiveSpec, ...], current: Values, previous: Values | None
) -> list[ObjectiveResult]:
    results = []
    for spec in specs:
        name, scale, unit = OBJECTIVE_FIGURES[spec.metric]
        figure = _BY_NAME[name]
        actual = _scaled(current.get(name), scale)
        before = _scaled(previous.get(name), scale) if previous is not None else None
        target = spec.target_value
        results.append(
            ObjectiveResult(
                name=spec.name or spec.metric,
                metric=spec.metric,
                unit=unit,
                target=target,
                actual=actual,
                status=None if actual is None else objective_status(actual, target, figure),
                previous=before,
                trend=direction(actual, before),
            )
        )
    return results


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def kpi_met(value: float, target: float, comparison: str) -> bool:
    return {
        ">=": value >= target,
        "<=": value <= target,
        ">": value > target,
        "<": value < target,
        "==": math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-12),
    }[comparison]


def kpi_result(spec: KpiSpec, query: str, value: float | None, previous: float | None) -> KpiResult:
    target = spec.target_value
    status = None
    if value is not None and target is not None and spec.comparison is not None:
        status = "met" if kpi_met(value, target, spec.comparison) else "missed"
    return KpiResult(
        name=spec.name,
        query=query,
        unit=spec.unit,
        target=target,
        comparison=spec.comparison,
        value=value,
        status=status,
        previous=previous,
        trend=direction(value, previous),
    )
