"""Incidents, alerts, Deployments and the previous window's figures, against the scenario.

The scenario computes its answers from the samples it wrote (tests/support_tests check those
against Prometheus itself); here the collector's folding of its queries must agree with them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.scheduling import Window
from tests.integration.conftest import SCOPE, window_start_seen
from tests.support.prometheus import PrometheusServer
from tests.support.scenario import Expected, Scenario

_COLLECTED: dict[tuple[str, Window], MetricFacts] = {}


async def collect(prometheus: PrometheusServer, window: Window) -> MetricFacts:
    key = (prometheus.url, window)
    if key not in _COLLECTED:
        async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
            _COLLECTED[key] = await collect_metrics(client, queries.Scope(SCOPE), window)
    return _COLLECTED[key]


@pytest.fixture
def expected(scenario: Scenario, window: Window) -> Expected:
    return scenario.expected(window.start, window.end, set(SCOPE))


async def test_incidents_are_the_jobs_down_stretches(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts = await collect(prometheus, window)
    assert facts.incidents is not None
    measured = [(i.namespace, i.job, i.start, i.end, tuple(i.targets)) for i in facts.incidents]
    assert measured == [
        (s.namespace, s.name, s.start, s.end, s.members) for s in expected.incidents
    ]
    assert measured, "each day of the scenario has a dip"
    for incident in facts.incidents:
        assert incident.duration_seconds == (incident.end - incident.start).total_seconds()
        assert incident.job in incident.cause
        assert all(target in incident.cause for target in incident.targets)


async def test_a_dip_of_two_pods_is_one_incident(
    prometheus: PrometheusServer, window: Window
) -> None:
    facts = await collect(prometheus, window)
    assert facts.incidents is not None
    dips = [i for i in facts.incidents if i.job in ("checkout", "ledger")]
    [dip] = dips
    assert len(dip.targets) == 2
    assert dip.duration_seconds == (600 if dip.job == "checkout" else 360)


async def test_a_scrape_gap_is_no_incident(
    prometheus: PrometheusServer, scenario: Scenario, window: Window
) -> None:
    """Prometheus not scraping a target says nothing about the target: no downtime."""
    facts = await collect(prometheus, window)
    assert facts.incidents is not None
    [gap] = scenario.scrape_gaps
    for incident in facts.incidents:
        assert gap.pod not in incident.targets or not (
            incident.start.timestamp() < gap.end and incident.end.timestamp() > gap.start
        )


async def test_alerts_fired_in_the_window(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts = await collect(prometheus, window)
    assert facts.alerts is not None
    measured = {
        (a.name, a.severity, a.namespace): (
            a.first_firing,
            a.last_firing,
            a.duration_seconds,
            a.firings,
            a.firing_at_end,
        )
        for a in facts.alerts
    }
    assert measured == {
        (a.name, a.severity, a.namespace): (
            a.first_firing,
            a.last_firing,
            a.duration_seconds,
            a.firings,
            a.firing_at_end,
        )
        for a in expected.alerts
    }
    # Cluster-wide alerts have no namespace: no namespace scope includes them.
    assert {a.name for a in facts.alerts}.isdisjoint({"Watchdog", "KubeNodeNotReady"})


async def test_an_alert_still_firing_counts_to_the_end(
    prometheus: PrometheusServer, scenario: Scenario
) -> None:
    window = Window(scenario.end - timedelta(days=1), scenario.end)
    facts = await collect(prometheus, window)
    assert facts.alerts is not None
    crash = next(a for a in facts.alerts if a.name == "KubePodCrashLooping")
    assert crash.firing_at_end
    assert crash.last_firing == window.end
    assert crash.duration_seconds == 9 * 60  # it started firing 9 minutes before the end


async def test_deployments_unavailable_replicas_and_spec_changes(
    prometheus: PrometheusServer, window: Window, expected: Expected
) -> None:
    facts = await collect(prometheus, window)
    assert facts.deployments is not None
    measured = {
        key: (d.max_unavailable_replicas, d.seconds_unavailable, d.spec_changes)
        for key, d in facts.deployments.items()
    }
    assert measured == {
        key: (d.max_unavailable, d.seconds_unavailable, d.spec_changes)
        for key, d in expected.deployments.items()
    }


async def test_the_previous_window_gives_every_headline_a_trend(
    prometheus: PrometheusServer, scenario: Scenario, window: Window
) -> None:
    facts = await collect(prometheus, window)
    before = window.previous()
    previous = scenario.expected(
        window_start_seen(prometheus, before.start), before.end, set(SCOPE)
    )
    assert facts.previous is not None
    if previous.availability_ratio is None:
        # The window before the history: nothing measured, so nothing to compare with.
        assert set(facts.previous.values()) == {None}
    else:
        assert facts.previous["availability.percent"] == pytest.approx(
            100 * previous.availability_ratio, rel=1e-9
        )
        # increase() needs two samples of a counter in the window, else there is no figure.
        restarts = previous.restarts_total if previous.restarts_by_container else None
        assert facts.previous["restarts.total"] == restarts
        assert facts.previous["scaling.rescales"] == sum(h.rescales for h in previous.hpas.values())
        assert facts.previous["incidents.count"] == len(previous.incidents)
        assert facts.previous["incidents.downtimeSeconds"] == sum(
            (i.end - i.start).total_seconds() for i in previous.incidents
        )
        assert facts.previous["alerts.count"] == len(previous.alerts)
        assert facts.previous["alerts.firingSeconds"] == sum(
            a.duration_seconds for a in previous.alerts
        )
    # The query ran at this window's start, and is recorded so.
    [record] = [q for q in facts.queries if q.figure == "previous"]
    assert record.time == window.start


async def test_history_queries_cover_both_windows_at_one_step(
    prometheus: PrometheusServer, window: Window
) -> None:
    facts = await collect(prometheus, window)
    ranges = [
        q
        for q in facts.queries
        if q.step_seconds is not None and q.figure in ("incidents", "alerts")
    ]
    assert len(ranges) == 2
    for record in ranges:
        assert record.start == window.previous().start
        assert record.time == window.end
        assert record.step_seconds == 60
