"""Series over the window and the weeks folded from them, against the scenario's own answers.

The demo ends here on a Tuesday, so its two days cross Monday 00:00 in Berlin (Sunday 23:00 UTC):
two partial weeks. It holds the awkward cases: a pod not scraped for 15 minutes, an autoscaler
that never rescales, pods that come and go with the other one, and a crash loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.collect.sections import Plan, query_budget
from opsreport.model.report import Point
from opsreport.model.spec import TrafficSpec
from opsreport.scheduling import Window
from tests.integration.conftest import COUNTER_REL, SCOPE, blocks_cache
from tests.support.engines import EngineServer, serve_history
from tests.support.scenario import Scenario, SeriesSummary

TUESDAY = datetime(2026, 11, 24, 12, tzinfo=UTC)
WINDOW = Window(TUESDAY - timedelta(days=2), TUESDAY)
ZONE = "Europe/Berlin"
SELECTOR = {"job": "checkout"}
REL = 1e-6


@pytest.fixture(scope="module")
def tuesday() -> Scenario:
    return Scenario.demo(TUESDAY)


@pytest.fixture(scope="module")
def prometheus_tuesday(
    engine: str,
    tuesday: Scenario,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineServer]:
    with serve_history(engine, tuesday, blocks_cache(request, tmp_path_factory)) as server:
        yield server


_COLLECTED: dict[tuple[str, Window, bool], tuple[MetricFacts, int]] = {}


TRAFFIC = TrafficSpec(
    requests_counter="http_requests_total",
    latency_histogram="http_request_duration_seconds",
    selector=SELECTOR,
)


async def collect(
    prometheus: EngineServer, window: Window = WINDOW, traffic: bool = True
) -> tuple[MetricFacts, int]:
    key = (prometheus.url, window, traffic)
    if key not in _COLLECTED:
        async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
            facts = await collect_metrics(
                client,
                queries.Scope(SCOPE),
                window,
                traffic=TRAFFIC if traffic else None,
                time_zone=ZONE,
            )
            _COLLECTED[key] = (facts, client.queries_sent)
    return _COLLECTED[key]


def expand(points: list[Point], steps: list[int]) -> dict[int, float]:
    """Change points back to a value per step; a null point is a stretch without one."""
    out: dict[int, float] = {}
    value: float | None = None
    found = {round(at.timestamp()): v for at, v in points}
    for t in steps:
        value = found.get(t, value)
        if value is not None:
            out[t] = value
    return out


@pytest.fixture(scope="module")
def want(tuesday: Scenario) -> SeriesSummary:
    # 172,800 s in at most 750 points, with Sunday 23:00 UTC on the grid: 5 minutes.
    return tuesday.expected_series(
        WINDOW.start, WINDOW.end, set(SCOPE), step=300, time_zone=ZONE, selector=SELECTOR
    )


def approx(values: Mapping[int, float]) -> object:
    return pytest.approx(dict(values), rel=REL)


async def test_the_window_has_two_partial_weeks_split_at_monday_midnight_in_berlin(
    prometheus_tuesday: EngineServer, want: SeriesSummary
) -> None:
    facts, _ = await collect(prometheus_tuesday)
    assert facts.series.step_seconds == 300
    monday = datetime(2026, 11, 22, 23, tzinfo=UTC)
    assert [(w.start, w.end, w.iso_week, w.partial) for w in facts.weeks] == [
        (WINDOW.start, monday, 47, True),
        (monday, WINDOW.end, 48, True),
    ]
    assert [(w.start, w.end, w.iso_week) for w in want.weeks] == [
        (w.start, w.end, w.iso_week) for w in facts.weeks
    ]


async def test_week_figures_match_the_samples(
    prometheus_tuesday: EngineServer, want: SeriesSummary
) -> None:
    facts, _ = await collect(prometheus_tuesday)
    counter_rel = COUNTER_REL[prometheus_tuesday.kind]
    for week, expected in zip(facts.weeks, want.weeks, strict=True):
        assert week.notes == []
        assert (week.successful_scrapes, week.total_scrapes) == (
            expected.successful_scrapes,
            expected.total_scrapes,
        )
        assert week.availability == pytest.approx(
            100 * expected.successful_scrapes / expected.total_scrapes, rel=REL
        )
        assert week.restarts == expected.restarts
        assert (week.incidents, week.downtime_seconds) == (
            expected.incidents,
            expected.downtime_seconds,
        )
        assert week.alerts == expected.alerts
        assert expected.requests is not None
        assert expected.errors is not None
        assert week.requests == pytest.approx(expected.requests, rel=counter_rel)
        assert week.errors == pytest.approx(expected.errors, rel=counter_rel)
        assert week.error_ratio == pytest.approx(
            expected.errors / expected.requests, rel=counter_rel
        )
        assert week.latency_p95 == pytest.approx(expected.latency_p95, rel=counter_rel)
    # Not a vacuous check: both weeks saw restarts, an incident and requests.
    assert all(w.restarts and w.incidents and w.requests for w in facts.weeks)


async def test_weeks_add_up_to_the_window(prometheus_tuesday: EngineServer) -> None:
    """Restarts are rounded per container and week as for the window, so the weeks give its
    total; scrapes differ by the samples at the window's end, which the window's instant query
    also takes."""
    facts, _ = await collect(prometheus_tuesday)
    assert facts.restarts is not None
    assert sum(w.restarts or 0 for w in facts.weeks) == facts.restarts.total
    total = sum(w.total_scrapes or 0 for w in facts.weeks)
    assert facts.availability.total_scrapes is not None
    assert 0 <= facts.availability.total_scrapes - total <= len(SCOPE) * 10


async def test_availability_per_step_and_the_scrape_gap(
    prometheus_tuesday: EngineServer, tuesday: Scenario, want: SeriesSummary
) -> None:
    facts, _ = await collect(prometheus_tuesday)
    assert facts.series.availability is not None
    measured = expand(facts.series.availability, want.steps)
    assert measured == approx(want.availability)
    # The unscraped pod counts in no step of its gap: the others' scrapes decide them.
    [gap] = tuesday.scrape_gaps
    inside = [t for t in want.steps if gap.start <= t and t + 300 <= gap.end]
    assert inside
    assert all(measured[t] == 100.0 for t in inside)
    assert min(measured.values()) < 100.0  # the dips show


async def test_replicas_per_step_include_an_autoscaler_that_never_rescales(
    prometheus_tuesday: EngineServer, want: SeriesSummary
) -> None:
    facts, _ = await collect(prometheus_tuesday)
    replicas = facts.series.replicas
    assert replicas is not None
    assert [(r.namespace, r.name) for r in replicas] == [("shop", "checkout"), ("payments", "api")]
    assert replicas[0].rescales
    assert replicas[1].rescales == 0
    for r in replicas:
        for which in ("current", "desired"):
            assert (
                expand(getattr(r, which), want.steps) == want.replicas[(r.namespace, r.name)][which]
            )
    assert replicas[1].current == [(WINDOW.start, 2.0)]  # one point: flat all window


async def test_latency_p95_per_step(prometheus_tuesday: EngineServer, want: SeriesSummary) -> None:
    facts, _ = await collect(prometheus_tuesday)
    assert facts.series.latency_p95 is not None
    assert expand(facts.series.latency_p95, want.steps) == approx(want.latency_p95)


async def test_the_query_count_is_fixed(prometheus_tuesday: EngineServer) -> None:
    facts, sent = await collect(prometheus_tuesday)
    assert sent == len(facts.queries) == query_budget(Plan(traffic=TRAFFIC))
    ranges = {q.figure: q for q in facts.queries if q.start is not None}
    assert set(ranges) == {
        "incidents",
        "alerts",
        "series.scope",
        "series.replicas",
        "series.traffic",
    }
    for figure in ("series.scope", "series.replicas", "series.traffic"):
        assert ranges[figure].step_seconds == 300
        assert ranges[figure].start == WINDOW.start + timedelta(seconds=300)
    _, without_traffic = await collect(prometheus_tuesday, traffic=False)
    assert without_traffic == query_budget(Plan())


async def test_a_window_off_the_minute_still_has_its_weeks_restarts(
    prometheus_tuesday: EngineServer,
) -> None:
    """A `run-now` window ends between whole minutes: no series step fits its weeks, so the
    step figures are null with the reason; restarts come from the restarts query, not a step."""
    window = Window(WINDOW.start + timedelta(seconds=7), WINDOW.end - timedelta(seconds=53))
    facts, _ = await collect(prometheus_tuesday, window)
    assert facts.restarts is not None
    assert len(facts.weeks) == 2
    assert sum(w.restarts or 0 for w in facts.weeks) == facts.restarts.total
    assert all(w.restarts for w in facts.weeks)
    for week in facts.weeks:
        assert week.availability is None
        assert any(
            note.startswith("availability: the window does not start and end on whole minutes")
            for note in week.notes
        )
        assert not any(note.startswith("restarts:") for note in week.notes)
