"""Objectives, KPI targets, trends and the overall status they lead to; stretches of history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsreport.collect import history, judge
from opsreport.collect.prometheus import Series
from opsreport.model.assessment import assess
from opsreport.model.report import ObjectiveResult, ReportData, ScheduleRef, ScopeData, WindowData
from opsreport.model.spec import KpiSpec, ObjectiveSpec
from opsreport.scheduling import Window

AVAILABILITY = judge.Figure("availability.percent", "%", True, 100.0)
LATENCY = judge.Figure("traffic.latency.p95", "s", False, 0.0)


@pytest.mark.parametrize(
    ("actual", "target", "status"),
    [
        (99.95, 99.9, "met"),  # half of the 0.1-point budget spent
        (99.925, 99.9, "atRisk"),  # exactly 75% spent
        (99.9, 99.9, "atRisk"),
        (99.89, 99.9, "missed"),
        (100.0, 100.0, "met"),  # no budget: met when exactly on target
        (99.999, 100.0, "missed"),
    ],
)
def test_availability_objectives(actual: float, target: float, status: str) -> None:
    assert judge.objective_status(actual, target, AVAILABILITY) == status


@pytest.mark.parametrize(
    ("actual", "target", "status"),
    [(0.2, 0.3, "met"), (0.225, 0.3, "atRisk"), (0.3, 0.3, "atRisk"), (0.31, 0.3, "missed"),
     (0.0, 0.0, "met"), (0.01, 0.0, "missed")],
)  # fmt: skip
def test_lower_is_better_objectives(actual: float, target: float, status: str) -> None:
    assert judge.objective_status(actual, target, LATENCY) == status


def test_objectives_scale_error_rates_to_percent_and_keep_unmeasured_unjudged() -> None:
    specs = (
        ObjectiveSpec(metric="errorRate", target="1"),
        ObjectiveSpec(name="p99", metric="latencyP99", target="0.5"),
    )
    current = {"traffic.errorRatio": 0.002, "traffic.latency.p99": None}
    previous = {"traffic.errorRatio": 0.004}
    error, latency = judge.objectives(specs, current, previous)
    assert (error.name, error.unit, error.target) == ("errorRate", "%", 1.0)
    assert error.actual == pytest.approx(0.2)
    assert error.previous == pytest.approx(0.4)
    assert (error.status, error.trend) == ("met", "down")
    assert (latency.name, latency.actual, latency.status, latency.trend) == (
        "p99",
        None,
        None,
        None,
    )


def test_trends_say_which_way_is_better() -> None:
    rows = judge.trends(
        {
            "availability.percent": 99.5,
            "restarts.total": 3,
            "scaling.rescales": 5,
            "incidents.count": 2,
        },
        {"availability.percent": 99.9, "restarts.total": 3, "scaling.rescales": 1},
    )
    by = {r.figure: r for r in rows}
    assert set(by) == {
        "availability.percent",
        "restarts.total",
        "scaling.rescales",
        "incidents.count",
    }
    assert (by["availability.percent"].direction, by["availability.percent"].verdict) == (
        "down",
        "worse",
    )
    assert (by["restarts.total"].direction, by["restarts.total"].verdict) == ("flat", "same")
    assert (by["scaling.rescales"].direction, by["scaling.rescales"].verdict) == ("up", None)
    assert by["incidents.count"].previous is None
    assert by["incidents.count"].direction is None
    assert all(r.previous is None for r in judge.trends({"restarts.total": 1}, None))


@pytest.mark.parametrize(
    ("comparison", "value", "met"),
    [(">=", 10, True), (">=", 9.9, False), ("<", 9.9, True), ("<=", 10, True), (">", 10, False),
     ("==", 10.0, True), ("==", 10.1, False)],
)  # fmt: skip
def test_kpi_comparisons(comparison: str, value: float, met: bool) -> None:
    spec = KpiSpec(name="k", query="sum(x)", target=10, comparison=comparison)  # type: ignore[arg-type]
    result = judge.kpi_result(spec, "sum(x)", value, None)
    assert result.status == ("met" if met else "missed")
    assert judge.kpi_result(spec, "sum(x)", None, 5).status is None


def _report(*objectives: ObjectiveResult, availability: float | None = 98.0) -> ReportData:
    report = ReportData(
        title="t",
        schedule=ScheduleRef(namespace="shop", name="s"),
        window=WindowData(
            start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
        ),
        generated_at=datetime(2026, 1, 2, tzinfo=UTC),
        scope=ScopeData(namespaces=["shop"]),
        objectives=list(objectives),
    )
    report.availability.percent = availability
    return report


def _objective(status: str | None) -> ObjectiveResult:
    return ObjectiveResult(
        name=f"o-{status}",
        metric="availability",
        unit="%",
        target=99.0,
        actual=None if status is None else 98.5,
        status=status,  # type: ignore[arg-type]
    )


def test_objectives_decide_the_status_instead_of_the_default_thresholds() -> None:
    assert assess(_report())[0] == "critical"  # 98% against the default 99%
    status, reasons = assess(_report(_objective("met")))
    assert (status, reasons) == ("ok", [])
    status, reasons = assess(_report(_objective("met"), _objective("atRisk")))
    assert status == "warning"
    assert reasons == [
        "Objective o-atRisk is at risk: 98.5% against the target 99%, most of its budget spent."
    ]
    status, reasons = assess(_report(_objective("missed"), _objective(None)))
    assert status == "critical"
    assert reasons == [
        "Objective o-missed: 98.5% misses the target 99%.",
        "Objective o-None was not measured.",
    ]


WINDOW = Window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))


def _at(minutes: int) -> float:
    return (WINDOW.start + timedelta(minutes=minutes)).timestamp()


def test_stretches_are_cut_at_the_window_and_merge_when_they_touch() -> None:
    points = [_at(m) for m in (-2, -1, 0, 1, 5, 6, 1439, 1440)]
    assert history.stretches(points, 60, WINDOW) == [
        (_at(0), _at(2)),
        (_at(5), _at(7)),
        (_at(1439), _at(1440)),  # the point at the end belongs to the next window
    ]
    assert history.merge([(1.0, 3.0), (3.0, 4.0), (6.0, 7.0), (2.0, 3.5)]) == [
        (1.0, 4.0),
        (6.0, 7.0),
    ]


def test_down_targets_of_one_job_make_one_incident() -> None:
    series = [
        Series({"namespace": "shop", "job": "web", "pod": "a"}, [(_at(m), 0.0) for m in (10, 11)]),
        Series({"namespace": "shop", "job": "web", "pod": "b"}, [(_at(m), 0.0) for m in (11, 12)]),
        Series({"namespace": "shop", "job": "db", "instance": "10.0.0.1:9187"}, [(_at(30), 0.0)]),
    ]
    web, db = history.incidents(series, 60, WINDOW)
    assert (web.start, web.end, web.duration_seconds, web.targets) == (
        WINDOW.start + timedelta(minutes=10),
        WINDOW.start + timedelta(minutes=13),
        180,
        ["a", "b"],
    )
    assert db.targets == ["10.0.0.1:9187"]  # no pod label: the instance names it
    assert "job db" in db.cause


def test_an_alert_firing_at_the_end_counts_to_the_end() -> None:
    labels = {"alertname": "Down", "severity": "critical", "namespace": "shop"}
    firing = [_at(m) for m in (*range(100, 110), *range(1430, 1441))]
    [alert] = history.alerts([Series(labels, [(t, 1.0) for t in firing])], 60, WINDOW)
    assert (alert.firings, alert.duration_seconds, alert.firing_at_end) == (2, 20 * 60, True)
    assert alert.last_firing == WINDOW.end
    [ended] = history.alerts([Series(labels, [(t, 1.0) for t in firing[:-1]])], 60, WINDOW)
    assert ended.last_firing == WINDOW.end  # it fired through the last step ...
    assert not ended.firing_at_end  # ... but no longer at the end itself
