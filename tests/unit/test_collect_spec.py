"""The spec of what a report measures: traffic, objectives, KPIs, Prometheus access."""

from __future__ import annotations

from typing import Any

import pytest

from opsreport.model.spec import InvalidSpec, parse_spec
from opsreport.validate import check_document

TRAFFIC = {"requestsCounter": "http_requests_total", "selector": {"job": "web"}}


def spec(**extra: Any) -> dict[str, Any]:
    return {"schedule": "@daily", "window": {"duration": "24h"}, **extra}


def problems(**extra: Any) -> list[tuple[str, str]]:
    """What `opsreport validate` says: the CRD's schema, then the spec model."""
    return check_document(
        {
            "apiVersion": "opsreport.dev/v1alpha1",
            "kind": "ReportSchedule",
            "metadata": {"name": "s"},
            "spec": spec(**extra),
        }
    )


def test_targets_are_integers_or_decimal_strings() -> None:
    parsed = parse_spec(
        spec(
            traffic=TRAFFIC,
            objectives=[
                {"metric": "availability", "target": "99.9"},
                {"metric": "restarts", "target": 5},
                {"metric": "errorRate", "target": "0.5"},
            ],
        )
    )
    assert [o.target_value for o in parsed.objectives] == [99.9, 5.0, 0.5]
    assert parsed.objectives[0].target == "99.9"  # kept as written


@pytest.mark.parametrize("target", [99.9, "99,9", "ninety", "1e3", True])
def test_other_targets_are_refused(target: object) -> None:
    with pytest.raises(InvalidSpec) as error:
        parse_spec(spec(objectives=[{"metric": "availability", "target": target}]))
    assert error.value.field.startswith("spec.objectives[0].target")
    assert problems(objectives=[{"metric": "availability", "target": target}])


def test_the_crd_takes_what_the_model_takes() -> None:
    good = {
        "traffic": {**TRAFFIC, "latencyHistogram": "http_request_duration_seconds"},
        "objectives": [
            {"metric": "latencyP95", "target": "0.3"},
            {"metric": "restarts", "target": 0},
        ],
        "kpis": [
            {"name": "orders", "query": "sum(increase(orders_total[$__window]))", "unit": "orders"},
            {"name": "ok", "query": "avg(up)", "target": "0.99", "comparison": ">="},
        ],
        "prometheus": {
            "url": "https://thanos.example:10902",
            "bearerTokenSecretRef": {"name": "prom"},
            "tls": {"caConfigMapRef": {"name": "ca"}},
            "headers": {"X-Scope-OrgID": "shop"},
            "thanos": True,
            "timeoutSeconds": 60,
        },
    }
    assert problems(**good) == []
    parse_spec(spec(**good))


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"objectives": [{"metric": "errorRate", "target": 1}]}, "spec.objectives[0].metric"),
        (
            {"traffic": TRAFFIC, "objectives": [{"metric": "latencyP95", "target": 1}]},
            "spec.objectives[0].metric",
        ),
        ({"kpis": [{"name": "a", "query": "sum(x"}]}, "spec.kpis[0].query"),
        ({"kpis": [{"name": "a", "query": "x", "target": 1}]}, "spec.kpis[0]"),
        (
            {"kpis": [{"name": "a", "query": "x"}, {"name": "a", "query": "y"}]},
            "spec.kpis[1].name",
        ),
        ({"kpis": [{"name": str(n), "query": "x"} for n in range(6)]}, "spec.kpis"),
        ({"traffic": {"selector": {"job": "a"}}}, "spec.traffic"),
        ({"traffic": {**TRAFFIC, "selector": {"__name__": "x"}}}, "spec.traffic.selector"),
        ({"traffic": {"requestsCounter": "http-requests"}}, "spec.traffic.requestsCounter"),
        ({"prometheus": {"headers": {"X-Scope-OrgID": "a"}}}, "spec.prometheus"),
        (
            {"prometheus": {"url": "http://p", "headers": {"Authorization": "Bearer x"}}},
            "spec.prometheus.headers",
        ),
        (
            {
                "prometheus": {
                    "url": "http://p",
                    "bearerTokenSecretRef": {"name": "a"},
                    "basicAuthSecretRef": {"name": "b"},
                }
            },
            "spec.prometheus",
        ),
        (
            {
                "prometheus": {
                    "url": "http://p",
                    "tls": {"caSecretRef": {"name": "a"}, "insecureSkipVerify": True},
                }
            },
            "spec.prometheus.tls",
        ),
        (
            {"prometheus": {"url": "http://p", "bearerTokenSecretRef": {"name": "Not_A_Name"}}},
            "spec.prometheus.bearerTokenSecretRef.name",
        ),
    ],
)
def test_invalid_specs_name_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as error:
        parse_spec(spec(**extra))
    assert error.value.field == field, error.value


def test_the_crd_refuses_what_the_model_refuses() -> None:
    # The API server's checks, as `opsreport validate` runs them from the CRD.
    assert problems(kpis=[{"name": str(n), "query": "x"} for n in range(6)])
    assert problems(prometheus={"url": "http://p", "timeoutSeconds": 0})
    assert problems(objectives=[{"metric": "uptime", "target": 1}])
    assert problems(traffic={**TRAFFIC, "selector": {"job": "x" * 1025}})
