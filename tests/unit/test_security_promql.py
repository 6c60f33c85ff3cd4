"""PromQL injection through scope values: whatever a namespace is, it stays one literal inside
one matcher and matches exactly itself. (The pod selector never reaches PromQL: it goes to the
Kubernetes API as a labelSelector; tests/faults/test_promql_injection.py checks both live.)"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from opsreport.collect import queries

PREFIX, SUFFIX = '{namespace=~"', '"}'
hostile = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ['"} or vector(1) #', 'x",namespace!="', "a|b.*", ".*", "\\", '\\"', "})", "\n", "$"]
    ),
)


def unquote(body: str) -> str:
    """A PromQL double-quoted string's value; fails on a quote that would end it early."""
    value, i = [], 0
    escapes = {"\\": "\\", '"': '"', "n": "\n"}
    while i < len(body):
        char = body[i]
        assert char != '"', f"an unescaped quote ends the literal early: {body!r}"
        if char == "\\":
            value.append(escapes[body[i + 1]])
            i += 2
        else:
            value.append(char)
            i += 1
    return "".join(value)


@settings(max_examples=400, deadline=None)
@given(namespaces=st.lists(hostile, min_size=1, max_size=4), other=hostile)
def test_a_namespace_is_one_literal_that_matches_only_itself(
    namespaces: list[str], other: str
) -> None:
    matcher = queries.Scope(tuple(namespaces)).matchers()
    assert matcher.startswith(PREFIX)
    assert matcher.endswith(SUFFIX)
    regex = unquote(matcher[len(PREFIX) : -len(SUFFIX)])
    # Prometheus anchors =~ at both ends; RE2 and Python agree on these escapes.
    for namespace in namespaces:
        assert re.fullmatch(regex, namespace, flags=re.DOTALL)
    if other not in namespaces:
        assert not re.fullmatch(regex, other, flags=re.DOTALL)


@settings(max_examples=200, deadline=None)
@given(namespace=hostile)
def test_every_query_keeps_its_shape_whatever_the_namespace(namespace: str) -> None:
    """The query built for a hostile namespace is the query for a plain one, but for the literal."""
    scope = queries.Scope((namespace,))
    plain = queries.Scope(("plain",))
    # The namespace matcher alone: some selectors carry more matchers after it.
    literal = scope.matchers()[1:-1]
    for build in (
        queries.restarts,
        queries.owners,
        queries.availability_successful,
        queries.availability_total,
    ):
        assert build(scope, 3600).replace(literal, "@") == build(plain, 3600).replace(
            plain.matchers()[1:-1], "@"
        )
