"""Bad input only the operator can judge, against the emulated API and real Prometheus servers:
missing Secrets, keys and templates, PromQL Prometheus refuses, a window longer than Prometheus
keeps data, a selector that matches nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsreport.checks import SpecChecks, Verdict, parse_retention
from opsreport.collect.prometheus import PrometheusSettings
from opsreport.kube import KubeApi
from opsreport.reconcile import parse_schedule
from tests.faults.conftest import NAMESPACE
from tests.support.kube_emulator import KubeApiServer
from tests.support.prometheus import PrometheusServer, prometheus_available

pytestmark = pytest.mark.stack
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
S3 = {"bucket": "reports", "endpoint": "http://127.0.0.1:1", "forcePathStyle": True}


@pytest.fixture(scope="module")
def short_retention() -> Iterator[PrometheusServer]:
    if not prometheus_available():
        pytest.skip("prometheus is not installed")
    with PrometheusServer(retention="2d") as server:
        yield server


def schedule(name: str, **spec: Any) -> Any:
    return parse_schedule(
        {
            "metadata": {"namespace": NAMESPACE, "name": name, "generation": 1},
            "spec": {"schedule": "@daily", "window": {"duration": "24h"}, **spec},
        }
    )


async def judge(kube_api: KubeApi, url: str | None = None, **spec: Any) -> Verdict:
    settings = PrometheusSettings(url=url) if url else None
    return await SpecChecks(kube_api).judge(schedule("checked", **spec), settings)


@pytest.mark.parametrize(
    ("text", "days"),
    [("15d", 15), ("15d or 10GiB", 15), ("1y", 365), ("2w1d", 15), ("36h", 1.5), ("10GiB", None)],
)
def test_retention_is_read_as_prometheus_writes_it(text: str, days: float | None) -> None:
    expected = timedelta(days=days) if days is not None else None
    assert parse_retention(text) == expected


async def test_a_window_beyond_retention_is_a_warning(
    kube_api: KubeApi, short_retention: PrometheusServer
) -> None:
    verdict = await judge(kube_api, short_retention.url, window={"duration": "7d"})
    assert verdict.problem is None
    (warning,) = verdict.warnings
    assert warning.reason == "WindowExceedsRetention"
    assert "(7d) is longer than Prometheus keeps data (2d)" in warning.message
    month = await judge(kube_api, short_retention.url, window={"calendar": "month"})
    assert [w.reason for w in month.warnings] == ["WindowExceedsRetention"]
    within = await judge(kube_api, short_retention.url, window={"duration": "36h"})
    assert within.warnings == []
    conditions = within.conditions([], 1, NOW)
    assert [(c.type, c.status, c.reason) for c in conditions] == [
        ("Warning", "False", "NoWarnings")
    ]


async def test_an_unknown_retention_is_no_warning(kube_api: KubeApi) -> None:
    verdict = await judge(kube_api, "http://127.0.0.1:1", window={"duration": "366d"})
    assert verdict.warnings == []


async def test_a_missing_secret_or_key(kube_server: KubeApiServer, kube_api: KubeApi) -> None:
    ref = {"name": "check-s3-creds"}
    outputs = [{"s3": {**S3, "credentialsSecretRef": ref}}]
    missing = await judge(kube_api, outputs=outputs)
    assert missing.problem is not None
    assert missing.problem.reason == "SecretNotFound"
    assert missing.problem.message == (
        f"spec.outputs[0].s3.credentialsSecretRef: Secret {NAMESPACE}/check-s3-creds not found"
    )
    kube_server.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "check-s3-creds", "namespace": NAMESPACE},
            "data": {"accessKeyId": "QUtJQQ=="},
        }
    )
    no_key = await judge(kube_api, outputs=outputs)
    assert no_key.problem is not None
    assert no_key.problem.reason == "SecretKeyMissing"
    assert no_key.problem.message.endswith("has no key 'secretAccessKey'")
    ready = next(c for c in no_key.conditions([], 1, NOW) if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "SecretKeyMissing")


async def test_a_secret_in_another_namespace_is_never_found(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    kube_server.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "elsewhere-creds", "namespace": "shop"},
            "data": {"accessKeyId": "QUtJQQ==", "secretAccessKey": "c2VjcmV0"},
        }
    )
    outputs = [{"s3": {**S3, "credentialsSecretRef": {"name": "elsewhere-creds"}}}]
    verdict = await judge(kube_api, outputs=outputs)  # the schedule lives in payments
    assert verdict.problem is not None
    assert verdict.problem.reason == "SecretNotFound"


async def test_a_missing_template_configmap(kube_api: KubeApi) -> None:
    verdict = await judge(
        kube_api, template={"configMapRef": {"name": "no-template", "key": "report.md.j2"}}
    )
    assert verdict.problem is not None
    assert verdict.problem.reason == "TemplateNotFound"
    assert "spec.template.configMapRef: ConfigMap payments/no-template" in verdict.problem.message


async def test_promql_prometheus_refuses(kube_api: KubeApi, prometheus: PrometheusServer) -> None:
    bad = [{"name": "errors", "query": "sum(rate(http_requests_total[$__window])) by"}]
    verdict = await judge(kube_api, prometheus.url, kpis=bad)
    assert verdict.problem is not None
    assert verdict.problem.reason == "InvalidKpiQuery"
    assert verdict.problem.message.startswith("spec.kpis[0].query: Prometheus rejected the query")
    good = [{"name": "errors", "query": "sum(rate(http_requests_total[$__window]))"}]
    assert (await judge(kube_api, prometheus.url, kpis=good)).problem is None


async def test_a_selector_matching_nothing(kube_api: KubeApi) -> None:
    nothing = await judge(kube_api, scope={"selector": {"matchLabels": {"app": "gone"}}})
    assert [w.reason for w in nothing.warnings] == ["SelectorMatchesNothing"]
    assert "matches no pod in payments" in nothing.warnings[0].message
    something = await judge(kube_api, scope={"selector": {"matchLabels": {"app": "api"}}})
    assert something.warnings == []
