"""What a template sees: the report plus views derived from it, built once per render.

Templates stay dumb: every judgement (status wording, key-metric status, ranking, error budgets,
recommendations, charts) is made here in typed Python and tested directly. docs/templates.md lists
every name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from markupsafe import Markup

from opsreport.model import assessment, figures
from opsreport.model.report import (
    ObjectiveResult,
    ReportData,
    Trend,
    Week,
    WorkloadStatus,
    WorkloadUsage,
)
from opsreport.render import charts
from opsreport.render.filters import (
    bytes_iec,
    cores,
    human_duration,
    latency,
    number,
    percent,
    trend,
)
from opsreport.render.recommendations import recommend
from opsreport.render.summary import summary_sentences

MetricStatus = Literal["ok", "warning", "critical"]

STATUS_TEXT = {
    "ok": ("✅", "Operational"),
    "warning": ("⚠️", "Degraded"),
    "critical": ("❌", "Objectives missed"),
}
OBJECTIVE_STATUS: dict[str, MetricStatus] = {"met": "ok", "atRisk": "warning", "missed": "critical"}
# Objective metrics: a label, and whether a higher value is better.
OBJECTIVE_METRICS: dict[str, tuple[str, bool]] = {
    "availability": ("Availability", True),
    "errorRate": ("Error rate", False),
    "latencyP50": ("Latency p50", False),
    "latencyP95": ("Latency p95", False),
    "latencyP99": ("Latency p99", False),
    "restarts": ("Container restarts", False),
    "incidents": ("Incidents", False),
    "downtimeSeconds": ("Downtime", False),
}


@dataclass(frozen=True)
class KeyMetric:
    name: str
    actual: str
    target: str | None = None  # only where an objective exists; never invented
    status: MetricStatus | None = None
    trend: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ErrorBudget:
    """How much of an objective's allowed shortfall the window used."""

    name: str
    target: str
    actual: str
    consumed_percent: float | None  # None: not measured, or no budget (a target of zero)
    status: MetricStatus | None


def format_value(value: float | None, metric: str, unit: str = "") -> str:
    """A figure in its unit for people: `99.95%`, `120 ms`, `2h 5m`, `3`."""
    if value is None:
        return number(None)
    if unit == "%" or metric in ("availability", "errorRate"):
        return percent(value, 3)
    if metric == "downtimeSeconds":
        return human_duration(value)
    if metric.startswith("latency") or unit in ("s", "seconds"):
        return latency(value)
    if metric == "downtimeSeconds":
        return human_duration(value)
    return f"{number(value)} {unit}".rstrip()


def _trend_text(current: float | None, previous: float | None, metric: str) -> str | None:
    if current is None or previous is None:
        return None
    if metric.startswith("latency"):
        return trend(round(current * 1000), round(previous * 1000), "ms")
    unit = "pp" if metric in ("availability", "errorRate") else ""
    return trend(current, previous, unit)


def _objective_row(objective: ObjectiveResult) -> KeyMetric:
    label, higher_better = OBJECTIVE_METRICS.get(objective.metric, (objective.metric, True))
    target = format_value(objective.target, objective.metric, objective.unit)
    return KeyMetric(
        objective.name or label,
        format_value(objective.actual, objective.metric, objective.unit),
        f"{'≥' if higher_better else '≤'} {target}",
        OBJECTIVE_STATUS.get(objective.status) if objective.status else None,
        _trend_text(objective.actual, objective.previous, objective.metric),
        note="objective",
    )


def _trends(report: ReportData) -> dict[str, Trend]:
    return {t.figure: t for t in report.trends}


def key_metrics(report: ReportData) -> list[KeyMetric]:
    """Objectives first, then the headline figures. A target appears only where the status is
    judged against one: a configured objective, or the assessment's own thresholds."""
    rows = [_objective_row(o) for o in report.objectives]
    judged = {o.metric for o in report.objectives}
    trends = _trends(report)

    def trend_of(figure: str, metric: str, scale: float = 1.0) -> str | None:
        """The row's trend: `figure` names the trend (model.figures), `metric` how the row reads
        (points for a percentage, ms for latency), `scale` takes the figure to the row's unit."""
        found = trends.get(figure)
        if found is None or found.current is None or found.previous is None:
            return None
        return _trend_text(found.current * scale, found.previous * scale, metric)

    availability = report.availability.percent
    if "availability" not in judged:
        rows.append(
            KeyMetric(
                "Availability",
                percent(availability, 3),
                f"≥ {percent(assessment.AVAILABILITY_TARGET)}",
                _availability_status(availability) if availability is not None else None,
                trend_of(figures.AVAILABILITY, "availability"),
            )
        )
    restarts = report.restarts
    if "restarts" not in judged:
        rows.append(
            KeyMetric(
                "Container restarts",
                number(restarts.total),
                trend=trend_of(figures.RESTARTS, "restarts"),
            )
        )
    if restarts.total is not None:
        oom = restarts.by_reason.get("OOMKilled", 0)
        rows.append(KeyMetric("Restarts after an OOMKill", number(oom), "0", _zero_status(oom)))
    if report.pods.total is not None:
        loops = sum(1 for w in report.pods.waiting if w.reason == "CrashLoopBackOff")
        rows.append(
            KeyMetric("Containers in CrashLoopBackOff now", number(loops), "0", _zero_status(loops))
        )
    if report.incidents is not None and "incidents" not in judged:
        rows.append(
            KeyMetric(
                "Incidents",
                number(len(report.incidents)),
                trend=trend_of(figures.INCIDENTS, "incidents"),
            )
        )
    if report.alerts is not None:
        rows.append(
            KeyMetric(
                "Alerts fired", number(len(report.alerts)), trend=trend_of(figures.ALERTS, "alerts")
            )
        )
    traffic = report.traffic
    if traffic is not None:
        if "errorRate" not in judged and traffic.error_ratio is not None:
            rows.append(
                KeyMetric(
                    "Error rate",
                    percent(traffic.error_ratio * 100, 3),
                    trend=trend_of(figures.ERROR_RATIO, "errorRate", 100.0),
                )
            )
        if "latencyP95" not in judged and traffic.latency.p95 is not None:
            rows.append(
                KeyMetric(
                    "Latency p95",
                    format_value(traffic.latency.p95, "latencyP95"),
                    trend=trend_of(figures.LATENCY_P95, "latencyP95"),
                )
            )
    rows.append(
        KeyMetric(
            "Autoscaler rescales",
            number(report.scaling.rescales),
            trend=trend_of(figures.RESCALES, "rescales"),
        )
    )
    gaps = len({gap.section for gap in report.data_gaps})
    rows.append(KeyMetric("Sections not measured", number(gaps), "0", _zero_status(gaps)))
    return rows


def _availability_status(value: float) -> MetricStatus:
    if value < assessment.AVAILABILITY_CRITICAL:
        return "critical"
    return "warning" if value < assessment.AVAILABILITY_TARGET else "ok"


def _zero_status(count: int) -> MetricStatus:
    return "ok" if count == 0 else "warning"


def error_budgets(report: ReportData) -> list[ErrorBudget]:
    """Per objective with a budget: the share of the allowed shortfall the window used.

    Availability allows `100 - target` percent of failure; an upper bound (error rate, restarts,
    incidents, downtime) allows its target. Latency quantiles are limits, not budgets.
    """
    budgets = []
    for objective in report.objectives:
        if objective.metric.startswith("latency"):
            continue
        label, higher_better = OBJECTIVE_METRICS.get(objective.metric, (objective.metric, True))
        allowed = 100 - objective.target if higher_better else objective.target
        used: float | None = None
        if objective.actual is not None:
            used = 100 - objective.actual if higher_better else objective.actual
        consumed = None if used is None or allowed <= 0 else 100 * max(used, 0) / allowed
        budgets.append(
            ErrorBudget(
                objective.name or label,
                f"{'≥' if higher_better else '≤'} "
                + format_value(objective.target, objective.metric, objective.unit),
                format_value(objective.actual, objective.metric, objective.unit),
                consumed,
                OBJECTIVE_STATUS.get(objective.status) if objective.status else None,
            )
        )
    return budgets


def _pressure(w: WorkloadUsage) -> float:
    """The highest share of a bound (limit, else request) that CPU p95 or memory peak reached."""
    ratios = []
    for used, bound in (
        (w.cpu.p95, w.cpu.limit or w.cpu.request),
        (w.memory.max, w.memory.limit or w.memory.request),
    ):
        if used is not None and bound:
            ratios.append(used / bound)
    return max(ratios, default=-1.0)


def ranked_usage(report: ReportData) -> list[WorkloadUsage]:
    """Containers closest to (or over) their bounds first; unbounded ones after, by name."""
    return sorted(
        report.resources.workloads,
        key=lambda w: (-_pressure(w), w.namespace, w.name, w.container),
    )


def ranked_workload_status(report: ReportData) -> list[WorkloadStatus]:
    """The least available workloads first: longest unavailable, then most unavailable now."""
    return sorted(
        report.workloads or [],
        key=lambda w: (
            -(w.seconds_unavailable or 0),
            -(w.unavailable_replicas or 0),
            w.namespace,
            w.kind,
            w.name,
        ),
    )


def _label(w: WorkloadUsage) -> str:
    return f"{w.namespace}/{w.name}:{w.container}"


def _usage_chart(
    title: str,
    rows: list[WorkloadUsage],
    pick: Callable[[WorkloadUsage], charts.UsageRow],
    fmt: Callable[[float], str],
) -> str:
    if not rows:
        return charts.placeholder(title, "No container usage was measured in the window.")
    return charts.usage_bars(title, [pick(w) for w in rows], fmt)


def _target(report: ReportData, metric: str) -> float | None:
    return next((o.target for o in report.objectives if o.metric == metric), None)


def _step_note(report: ReportData) -> str:
    step = report.series.step_seconds
    return f" per {human_duration(step)}" if step else ""


def _availability_chart(report: ReportData) -> str:
    title = f"Availability over the window (successful scrapes of up{_step_note(report)})"
    points = report.series.availability
    if points is None:
        gap = report.availability.percent is None or any(
            g.section == "availability series" for g in report.data_gaps
        )
        return charts.placeholder(
            title, "Not measured (see Data gaps)." if gap else "No series collected."
        )
    return charts.line_chart(
        title,
        [charts.Series("availability", points)],
        start=report.window.start,
        end=report.window.end,
        fmt=lambda v: percent(v, 2),
        time_zone=report.window.time_zone,
        target=_target(report, "availability"),
        target_label="availability objective",
        step=True,
        ceiling=100.0,
    )


def _hpa_chart(report: ReportData, top_n: int) -> str:
    hpas = report.scaling.hpas
    replicas = report.series.replicas
    if replicas:
        return charts.line_chart(
            f"Autoscaler replicas: current (solid) and desired (dashed), top {len(replicas)}"
            " by rescales",
            [
                line
                for index, r in enumerate(replicas)
                for line in (
                    charts.Series(f"{r.namespace}/{r.name} current", r.current, index),
                    charts.Series(f"{r.namespace}/{r.name} desired", r.desired, index, True),
                )
            ],
            start=report.window.start,
            end=report.window.end,
            fmt=lambda v: f"{v:.0f}",
            time_zone=report.window.time_zone,
            step=True,
        )
    if hpas:
        return charts.range_bars(
            "Autoscalers: replica bounds and peak",
            [
                charts.RangeRow(
                    f"{h.namespace}/{h.name}", h.min_replicas, h.max_replicas, h.peak_replicas
                )
                for h in hpas[:top_n]
            ],
            note="Replicas over time were not measured (see Data gaps): the window's bounds and"
            " peak.",
        )
    return charts.placeholder(
        "Autoscaler replicas over time",
        "Not measured." if hpas is None else "No HorizontalPodAutoscaler in scope.",
    )


def _latency_chart(report: ReportData) -> str:
    target = _target(report, "latencyP95")
    title = f"Latency p95 over the window{_step_note(report)}" + (
        " against the p95 objective" if target is not None else ""
    )
    traffic = report.traffic
    if traffic is None:
        return charts.placeholder(title, "Not measured: no request latency is configured.")
    points = report.series.latency_p95
    if not points:
        return charts.placeholder(title, "Not measured (see Data gaps).")
    return charts.line_chart(
        title,
        [charts.Series("p95", points)],
        start=report.window.start,
        end=report.window.end,
        fmt=lambda v: format_value(v, "latencyP95"),
        time_zone=report.window.time_zone,
        target=target,
        target_label="p95 objective",
        step=True,
    )


@dataclass(frozen=True)
class WeekRow:
    """A week of `report.weeks` as the breakdown shows it."""

    label: str  # `2026-W47`
    week: Week


def week_rows(report: ReportData) -> list[WeekRow]:
    return [WeekRow(f"{w.iso_year}-W{w.iso_week:02d}", w) for w in report.weeks]


def week_notes(report: ReportData) -> list[str]:
    """Why figures are missing, each reason once, with the weeks it applies to."""
    weeks: dict[str, list[str]] = defaultdict(list)
    for row in week_rows(report):
        for note in row.week.notes:
            weeks[note].append(row.label)
    if len(report.weeks) == 1:
        return list(weeks)
    return [f"{note} ({', '.join(labels)})" for note, labels in weeks.items()]


def build_charts(report: ReportData, top_n: int) -> dict[str, Markup]:
    """Every chart of the built-in HTML reports, as markup ready to inline."""
    top = ranked_usage(report)[:top_n]
    cpu = _usage_chart(
        f"CPU: the top {len(top)} containers against request and limit",
        top,
        lambda w: charts.UsageRow(
            _label(w), w.cpu.avg, w.cpu.p95, w.cpu.max, w.cpu.request, w.cpu.limit
        ),
        cores,
    )
    memory = _usage_chart(
        f"Memory: the top {len(top)} containers against request and limit",
        top,
        lambda w: charts.UsageRow(
            _label(w), w.memory.avg, None, w.memory.max, w.memory.request, w.memory.limit
        ),
        bytes_iec,
    )
    svgs = {
        "availability": _availability_chart(report),
        "cpu": cpu,
        "memory": memory,
        "hpa": _hpa_chart(report, top_n),
        "latency": _latency_chart(report),
    }
    # The chart functions escape every label themselves.
    return {name: Markup(svg) for name, svg in svgs.items()}  # noqa: S704


@dataclass(frozen=True)
class Compared:
    """A headline figure against the previous window's, as people read it."""

    label: str
    previous: str
    current: str
    verdict: str | None


# How each headline figure reads: its name for people and its unit.
_COMPARED: dict[str, tuple[str, Callable[[float], str]]] = {
    figures.AVAILABILITY: ("Availability", lambda v: percent(v, 3)),
    figures.RESTARTS: ("Container restarts", number),
    figures.RESCALES: ("Autoscaler rescales", number),
    figures.INCIDENTS: ("Incidents", number),
    figures.DOWNTIME_SECONDS: ("Downtime", human_duration),
    figures.ALERTS: ("Alerts fired", number),
    figures.ALERT_SECONDS: ("Time alerts fired", human_duration),
    figures.LATENCY_P50: ("Latency p50", latency),
    figures.LATENCY_P95: ("Latency p95", latency),
    figures.LATENCY_P99: ("Latency p99", latency),
    figures.ERROR_RATIO: ("Error rate", lambda v: percent(100.0 * v, 3)),
    figures.REQUESTS_PER_SECOND: ("Requests per second", number),
}


def compared(report: ReportData) -> list[Compared]:
    rows = []
    for found in report.trends:
        label, unit = _COMPARED.get(found.figure, (found.figure, number))
        rows.append(
            Compared(
                label,
                number(None) if found.previous is None else unit(found.previous),
                number(None) if found.current is None else unit(found.current),
                found.verdict,
            )
        )
    return rows


def template_context(report: ReportData, *, template: str, fmt: str, top_n: int) -> dict[str, Any]:
    icon, label = STATUS_TEXT[report.status]
    metrics = key_metrics(report)
    recommendations = recommend(report)
    summary = summary_sentences(report)
    if recommendations:
        high = sum(1 for r in recommendations if r.priority == "high")
        summary.append(
            f"{len(recommendations)} recommendation(s) follow"
            + (f", {high} of them high priority." if high else ".")
        )
    return {
        "report": report,
        "template": template,
        "format": fmt,
        "top_n": top_n,
        "tz": report.window.time_zone,
        "window_seconds": (report.window.end - report.window.start).total_seconds(),
        "status_icon": icon,
        "status_label": label,
        "summary": summary,
        "key_metrics": metrics,
        "has_trends": any(row.trend for row in metrics),
        "compared": compared(report),
        "error_budgets": error_budgets(report),
        "usage": ranked_usage(report),
        "workload_status": ranked_workload_status(report),
        "recommendations": recommendations,
        "charts": build_charts(report, top_n),
        "weeks": week_rows(report),
        "week_notes": week_notes(report),
    }
