"""The new PromQL builders: user values stay literal, steps fit Prometheus, user PromQL balances."""

from __future__ import annotations

import re

import pytest

from opsreport.collect import queries
from opsreport.collect.prometheus import thanos_params
from opsreport.model.promql import check_promql

SCOPE = queries.Scope(("shop",))
DAY = 86400

# A double-quoted PromQL string: anything but an unescaped quote or backslash, or an escape.
_LITERAL = r'"(?:[^"\\]|\\.)*"'


def _matchers(expr: str) -> list[str]:
    """The label matchers of every selector in `expr`, split where PromQL would split them."""
    found = []
    for body in re.findall(r"\{((?:[^{}\"]|" + _LITERAL + r")*)\}", expr):
        found.extend(re.findall(r"[a-zA-Z_]\w*\s*(?:=~|!~|!=|=)\s*" + _LITERAL, body))
    return found


@pytest.mark.parametrize(
    "hostile",
    [
        'x"} or vector(1) or up{a="',
        'a\\"} or vector(1) #',
        "a\\",
        'a\\\\"}',
        "new\nline",
        '/search?q="a\\b"',
    ],
)
def test_selector_values_never_leave_their_literal(hostile: str) -> None:
    for expr in (
        queries.requests_total(SCOPE, DAY, "http_requests_total", {"handler": hostile}),
        queries.latency_quantiles(SCOPE, DAY, "h", {"handler": hostile, "job": "x"}),
        queries.requests_failed(SCOPE, DAY, "c", {"handler": hostile}),
    ):
        assert "vector(1)" not in expr.replace(queries.escape_string(hostile), "")
        for matcher in _matchers(expr):
            name, _, _ = matcher.partition("=")
            assert name.rstrip("!~") in ("namespace", "handler", "job", "code", "le")
        handler = [m for m in _matchers(expr) if m.startswith("handler=")]
        assert handler
        assert all(m == f'handler="{queries.escape_string(hostile)}"' for m in handler)


def test_errors_are_zero_only_where_codes_exist() -> None:
    expr = queries.requests_failed(SCOPE, DAY, "http_requests_total", {"job": "a"})
    assert 'code=~"5.."' in expr
    assert ' or 0 * sum(increase(http_requests_total{namespace=~"shop",job="a",code!=""}' in expr


@pytest.mark.parametrize(
    ("seconds", "step"),
    [(3600, 60), (DAY, 60), (7 * DAY, 60), (14 * DAY, 120), (31 * DAY, 300), (366 * DAY, 3600)],
)
def test_history_steps_fit_prometheus_and_align(seconds: int, step: int) -> None:
    assert queries.history_step(seconds) == step
    assert seconds // step <= 11_000
    assert 3600 % step == 0 or step % 3600 == 0


def test_seconds_where_counts_steps_in_start_to_end() -> None:
    expr = queries.hpa_seconds_at_max(SCOPE, DAY, 60)
    assert "60 * count_over_time(" in expr
    assert expr.endswith("[86400s:60s] offset 1s))")
    assert "> on (namespace, horizontalpodautoscaler)" in expr  # max above min only
    assert expr.count("(") == expr.count(")")


def test_history_range_selectors_are_one_second_short_of_the_step() -> None:
    assert "[59s]" in queries.down_targets(SCOPE, 60)
    assert "[299s]" in queries.firing_alerts(SCOPE, 300)
    assert 'alertstate="firing"' in queries.firing_alerts(SCOPE, 60)


def test_throttling_deduplicates_cgroups() -> None:
    expr = queries.cpu_throttling(SCOPE, DAY, "throttled")
    assert "max by (namespace, pod, container, id)" in expr
    assert 'container!="POD"' in expr
    with pytest.raises(ValueError, match="unknown counter"):
        queries.cpu_throttling(SCOPE, DAY, "quota")


def test_labelled_union_names_each_part() -> None:
    expr = queries.labelled({"a": "sum(x)", "b": "sum(y) or vector(0)"})
    assert expr == (
        'label_replace(sum(x), "figure", "a", "", "")'
        ' or label_replace(sum(y) or vector(0), "figure", "b", "", "")'
    )


def test_the_window_is_substituted() -> None:
    query = "sum(rate(x[$__window])) / sum(rate(y[$__window]))"
    assert queries.substitute_window(query, 3600) == "sum(rate(x[3600s])) / sum(rate(y[3600s]))"


@pytest.mark.parametrize(
    "query",
    [
        "sum(rate(x[5m]))",
        'up{job="a)"}',  # brackets inside a string do not count
        "sum(x) # a comment with ( and [",
        "`raw\\` + ')'",
        'label_replace(up, "a", "$1", "b", "(.*)")',
    ],
)
def test_balanced_promql_passes(query: str) -> None:
    check_promql(query)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sum(rate(x[5m])", "'(' at character 4 is not closed"),
        ("sum(x))", "')' at character 7 closes nothing"),
        ("sum(x[5m)]", "')' at character 9 closes nothing"),
        ('up{job="a}', "the string starting at character 8 is not closed"),
        ('up{job="a\\"}', "the string starting at character 8 is not closed"),
        ("   ", "the query is empty"),
    ],
)
def test_unbalanced_promql_is_refused_saying_where(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_promql(query)


@pytest.mark.parametrize(
    ("days", "resolution"), [(1, None), (6, None), (7, "5m"), (27, "5m"), (28, "1h"), (366, "1h")]
)
def test_thanos_parameters(days: int, resolution: str | None) -> None:
    params = thanos_params(days * DAY)
    assert params["partial_response"] == "false"
    assert params.get("max_source_resolution") == resolution
