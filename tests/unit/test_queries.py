"""PromQL builders: escaping keeps user values inside their string literal."""

from __future__ import annotations

import re

import pytest

from opsreport.collect import queries


def test_namespaces_become_an_escaped_alternation() -> None:
    scope = queries.Scope(("shop", "payments", "shop"))
    assert scope.matchers() == '{namespace=~"payments|shop"}'


@pytest.mark.parametrize(
    "hostile",
    ['a"} or vector(1) #', "a\\", 'x",namespace!="', "a|b.*", "new\nline"],
)
def test_hostile_values_stay_inside_the_literal(hostile: str) -> None:
    matcher = queries.Scope((hostile,)).matchers()
    body = matcher[len('{namespace=~"') : -len('"}')]
    # Unescaped, the literal ends only where we end it: no bare quote inside.
    assert re.search(r'(?<!\\)(\\\\)*"', body) is None
    assert "\n" not in body
    # Regex metacharacters are literal.
    assert "|" not in hostile or "\\\\|" in body


def test_every_query_is_bounded_to_the_window_and_scope() -> None:
    scope = queries.Scope(("shop",))
    built = [
        queries.restarts(scope, 86400),
        queries.last_terminated_reason(scope, 86400),
        queries.availability_successful(scope, 86400),
        queries.availability_total(scope, 86400),
        queries.cpu_usage(scope, 86400, "avg"),
        queries.cpu_usage(scope, 86400, "p95"),
        queries.cpu_usage(scope, 86400, "max"),
        queries.memory_usage(scope, 86400, "avg"),
        queries.memory_usage(scope, 86400, "max"),
        queries.resource_quantity(scope, 86400, "requests"),
        queries.resource_quantity(scope, 86400, "limits"),
        queries.owners(scope, 86400),
    ]
    for expr in built:
        assert 'namespace=~"shop"' in expr
        # CPU's subquery spans a second less, so that its points are the window's own.
        assert "[86400s" in expr or "[86399s:300s]" in expr
        assert expr.count("(") == expr.count(")")


def test_cpu_and_memory_exclude_pod_level_series() -> None:
    scope = queries.Scope(("shop",))
    for expr in (queries.cpu_usage(scope, 60, "avg"), queries.memory_usage(scope, 60, "max")):
        assert 'container!=""' in expr
        assert 'container!="POD"' in expr
        assert "by (namespace, pod, container)" in expr


def test_unknown_statistics_are_refused() -> None:
    scope = queries.Scope(("shop",))
    with pytest.raises(ValueError, match="unknown"):
        queries.cpu_usage(scope, 60, "median")
    with pytest.raises(ValueError, match="unknown"):
        queries.memory_usage(scope, 60, "p95")
    with pytest.raises(ValueError, match="unknown"):
        queries.resource_quantity(scope, 60, "quotas")


@pytest.mark.parametrize(
    ("window", "boundaries", "step"),
    [
        (86400, [], 120),  # a day: 720 points
        (7 * 86400, [], 900),  # a week: 672 points
        (30 * 86400, [3 * 86400 + 23 * 3600], 3600),  # 30 days, Monday 00:00 in Berlin
        (30 * 86400, [5 * 86400 + 1800], 1800),  # a half-hour zone: 1,440 points, still aligned
        (2 * 86400, [11 * 3600], 300),
    ],
)
def test_the_series_step_fits_the_window_and_its_weeks(
    window: int, boundaries: list[int], step: int
) -> None:
    assert queries.series_step(window, boundaries) == (step, True)


def test_a_window_off_the_minute_gets_a_step_that_is_said_not_to_align() -> None:
    assert queries.series_step(86400 + 7, [3607]) == (120, False)


def test_series_queries_select_one_step_each_and_escape_names() -> None:
    scope = queries.Scope(("shop",))
    expr = queries.scope_series(scope, 300)
    assert "[300s] offset 1ms" in expr
    assert "restarts" not in expr  # per week, in the restarts query: a join per step is too dear
    replicas = queries.hpa_replica_series(scope, ['a"b', "c.d"], 120)
    assert 'horizontalpodautoscaler=~"a\\"b|c\\\\.d"' in replicas
    traffic = queries.traffic_series(scope, 60, "h", "r", {"job": 'x"y'})
    assert traffic.count('job="x\\"y"') == 4  # buckets, requests, errors (5xx and coded)
    assert "increase(h_bucket{" in traffic


def test_restarts_by_week_measures_each_week_from_the_value_at_its_start() -> None:
    scope = queries.Scope(("shop",))
    end = 1_000_000.0
    expr = queries.restarts_by_week(scope, end, [(end - 7200, end - 3600.5), (end - 3600.5, end)])
    first, last = expr.split('"week", "0", "", "") or ')
    # Week 0 is (end - 7200 s, end - 3600.5 s]: its highest value over that span, less the value
    # at its start; week 1 starts where week 0 ends, so a restart counts in one week only.
    assert "max_over_time({" in first
    assert "[3599500ms] offset 3600500ms" in first
    assert "} offset 7200s)" in first
    assert '"week", "1"' in last
    assert "[3600500ms])" in last
    assert "} offset 3600500ms)" in last
    assert "max by (namespace, pod, container, uid)" in last
    assert "increase(" not in expr  # no extrapolation: exact on every engine
