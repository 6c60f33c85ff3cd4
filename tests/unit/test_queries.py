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
        queries.pod_owners(scope, 86400),
        queries.replicaset_owners(scope, 86400),
    ]
    for expr in built:
        assert 'namespace=~"shop"' in expr
        assert "[86400s" in expr
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
