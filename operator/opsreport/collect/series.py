"""Per-step series over the window, and the weeks of the window folded from them.

A range query runs from `start + step` to `end`; its point at T stands for the step [T - step, T)
(see queries.scope_series), stored at the step's start. Weeks are ISO weeks, Monday 00:00 to
Monday 00:00 in the schedule's time zone, cut to the window; the series' step puts every week
boundary on its grid, so a step is never split between two weeks. Sums by week are of steps, so
they never need a query per week: the query count does not depend on the window's length.
Restarts are the exception: one instant query holds a term per week (queries.restarts_by_week).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from opsreport.collect.history import Stretch
from opsreport.collect.prometheus import Series
from opsreport.model.report import Incident, Point, ReplicaSeries, Week
from opsreport.scheduling import Window

# Autoscalers drawn: the line chart has four colours, and the query stays bounded.
MAX_HPAS = 4
ByStep = dict[int, float]  # a step's start (Unix seconds) -> value


@dataclass(frozen=True)
class WeekSpan:
    start: datetime
    end: datetime
    iso_year: int
    iso_week: int
    partial: bool


def week_spans(window: Window, time_zone: str) -> list[WeekSpan]:
    """The ISO weeks the window touches, each cut to the window."""
    zone = ZoneInfo(time_zone)
    local = window.start.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).date()
    spans: list[WeekSpan] = []
    while True:
        week_start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
        following = monday + timedelta(days=7)
        week_end = datetime(following.year, following.month, following.day, tzinfo=zone)
        start = max(week_start.astimezone(UTC), window.start)
        end = min(week_end.astimezone(UTC), window.end)
        if start >= window.end:
            return spans
        iso = monday.isocalendar()
        spans.append(
            WeekSpan(
                start,
                end,
                iso.year,
                iso.week,
                partial=start > week_start.astimezone(UTC) or end < week_end.astimezone(UTC),
            )
        )
        monday = following


def boundaries(window: Window, spans: Iterable[WeekSpan]) -> list[int]:
    """Week boundaries inside the window, in seconds from its start."""
    return [int((s.start - window.start).total_seconds()) for s in spans][1:]


def by_step(series: Iterable[Series], step: int) -> ByStep:
    """One series' points by the start of the step each stands for."""
    out: ByStep = {}
    for row in series:
        for at, value in row.points:
            out[round(at) - step] = value
    return out


def by_figure(series: list[Series]) -> dict[str, list[Series]]:
    rows: dict[str, list[Series]] = defaultdict(list)
    for row in series:
        rows[row.labels.get("figure", "")].append(row)
    return rows


def points(values: Mapping[int, float | None], window: Window, step: int) -> list[Point]:
    """Steps as [time, value] points, a point only where the value changes; a step without a
    value starts a null point (a gap, not a zero)."""
    start, end = round(window.start.timestamp()), round(window.end.timestamp())
    out: list[Point] = []
    for t in range(start, end, step):
        value = values.get(t)
        if not out or out[-1][1] != value:
            out.append((datetime.fromtimestamp(t, UTC), value))
    return [] if all(v is None for _, v in out) else out


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile over (upper bound -> cumulative count); None for NaN."""
    ordered = sorted(buckets.items())
    if len(ordered) < 2 or ordered[-1][0] != math.inf:
        return None
    counts: list[float] = []
    highest = -math.inf
    for _, count in ordered:  # Prometheus' ensureMonotonic
        highest = max(highest, count)
        counts.append(highest)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next((i for i, c in enumerate(counts[:-1]) if c >= rank), len(counts) - 1)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    low, high, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        low = ordered[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return low + (high - low) * (rank / count)


def buckets_by_step(series: Iterable[Series], step: int) -> dict[int, dict[float, float]]:
    """Bucket increases per step; buckets whose `le` spell one number differently are one."""
    out: dict[int, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for row in series:
        try:
            bound = float(row.labels.get("le", ""))
        except ValueError:
            continue
        for at, value in row.points:
            out[round(at) - step][bound] += value
    return out


def replica_series(
    series: list[Series], picked: list[tuple[str, str, int | None]], step: int, window: Window
) -> list[ReplicaSeries]:
    rows = by_figure(series)

    def of(which: str, namespace: str, name: str) -> list[Point]:
        mine = [
            r
            for r in rows.get(which, [])
            if (r.labels.get("namespace"), r.labels.get("horizontalpodautoscaler"))
            == (namespace, name)
        ]
        return points(by_step(mine, step), window, step)

    return [
        ReplicaSeries(
            namespace=namespace,
            name=name,
            rescales=rescales,
            current=of("current", namespace, name),
            desired=of("desired", namespace, name),
        )
        for namespace, name, rescales in picked
    ]


@dataclass
class StepFacts:
    """What the range queries returned, by step start, and the restarts query's weeks (by the
    week's index; None: no counter in scope in the week); None: the query was not sent or
    failed (a DataGap says why), or the figure is not configured."""

    step: int = 60
    successful: ByStep | None = None
    total: ByStep | None = None
    weekly_restarts: list[int | None] | None = None
    buckets: dict[int, dict[float, float]] | None = None
    requests: ByStep | None = None
    errors: ByStep | None = None
    notes: dict[str, str] = field(default_factory=dict)  # figure -> why it is missing


def _in(values: Mapping[int, float], start: int, end: int) -> list[float]:
    return [v for t, v in values.items() if start <= t < end]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def fold_weeks(
    spans: list[WeekSpan],
    steps: StepFacts,
    incidents: list[Incident] | None,
    alert_stretches: Mapping[tuple[str, str, str], list[Stretch]] | None,
    traffic: bool,
) -> list[Week]:
    weeks = []
    for index, span in enumerate(spans):
        lo, hi = round(span.start.timestamp()), round(span.end.timestamp())
        week = Week(
            start=span.start,
            end=span.end,
            iso_year=span.iso_year,
            iso_week=span.iso_week,
            partial=span.partial,
        )
        notes: list[str] = []

        def missing(figure: str, fallback: str, notes: list[str] = notes) -> None:
            # The query's own reason (a failure, not configured) before the week's.
            notes.append(f"{figure}: {steps.notes.get(figure, fallback)}")

        if steps.successful is not None and steps.total is not None:
            total = sum(_in(steps.total, lo, hi))
            if total:
                successful = sum(_in(steps.successful, lo, hi))
                week.successful_scrapes, week.total_scrapes = round(successful), round(total)
                week.availability = 100.0 * successful / total
            else:
                missing("availability", "no scrape of `up` in scope in the week")
        else:
            missing("availability", "not measured (see Data gaps)")
        if steps.weekly_restarts is not None:
            week.restarts = steps.weekly_restarts[index]
            if week.restarts is None:
                missing("restarts", "no restart counter in scope in the week")
        else:
            missing("restarts", "not measured (see Data gaps)")
        if incidents is not None:
            inside = [
                _overlap((i.start.timestamp(), i.end.timestamp()), (lo, hi)) for i in incidents
            ]
            week.incidents = sum(1 for seconds in inside if seconds > 0)
            week.downtime_seconds = round(sum(inside))
        else:
            missing("incidents", "not measured (see Data gaps)")
        if alert_stretches is not None:
            week.alerts = sum(
                1
                for spans_of_alert in alert_stretches.values()
                if any(_overlap(s, (lo, hi)) > 0 for s in spans_of_alert)
            )
        else:
            missing("alerts", "not measured (see Data gaps)")
        if traffic:
            _traffic_week(week, steps, lo, hi, missing)
        week.notes = notes
        weeks.append(week)
    return weeks


def _traffic_week(
    week: Week, steps: StepFacts, lo: int, hi: int, missing: Callable[[str, str], None]
) -> None:
    if steps.requests is not None:
        requests = _in(steps.requests, lo, hi)
        if requests:
            week.requests = math.fsum(requests)
        else:
            missing("requests", "no request counter series matched in the week")
    else:
        missing("requests", "not measured")
    if steps.errors is not None and week.requests is not None:
        errors = _in(steps.errors, lo, hi)
        if errors:
            week.errors = math.fsum(errors)
            week.error_ratio = week.errors / week.requests if week.requests else None
        else:
            missing("errors", "the request counter has no `code` label in the week")
    elif week.requests is not None:
        missing("errors", "not measured")
    if steps.buckets is not None:
        summed: dict[float, float] = defaultdict(float)
        for t, buckets in steps.buckets.items():
            if lo <= t < hi:
                for bound, count in buckets.items():
                    summed[bound] += count
        week.latency_p95 = bucket_quantile(0.95, summed)
        if week.latency_p95 is None:
            missing("latency p95", "no request observed by the latency histogram in the week")
    else:
        missing("latency p95", "not measured")
