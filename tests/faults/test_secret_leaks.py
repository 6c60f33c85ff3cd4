"""Known secret values planted where the operator reads credentials (its own Prometheus token,
a schedule's Prometheus token Secret, a schedule's S3 credentials Secret), every one of them used
and failing, must appear in nothing the operator writes: status, Events, reports, logs, metrics."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.s3 import S3Server, weed_available
from tests.support.slowproxy import SlowProxy
from tests.support.stack import LocalStack, OperatorProcess, wait_for

pytestmark = pytest.mark.e2e
NAMESPACE = "leaks"
CANARIES = {
    "operator token": f"opTOKEN{secrets.token_hex(12)}",
    "schedule token": f"schedTOKEN{secrets.token_hex(12)}",
    "access key id": f"AKIA{secrets.token_hex(8).upper()}",
    "secret access key": f"SAK{secrets.token_hex(16)}",
}


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalStack, OperatorProcess, SlowProxy, SlowProxy]]:
    if not weed_available():
        pytest.skip("weed (SeaweedFS) is not installed")
    # Two failing "Prometheus" servers: one the operator's default, one a schedule's own.
    with (
        LocalStack() as stack,
        S3Server() as s3,
        SlowProxy("http://127.0.0.1:1") as default,
        SlowProxy("http://127.0.0.1:1") as own,
    ):
        s3.create_bucket("reports")
        default.status, default.body = 500, {"status": "error", "error": "boom"}
        own.garbage = True
        stack.kube.seed(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
                secret("prom-token", {"token": CANARIES["schedule token"]}),
                secret(
                    "s3-creds",
                    {
                        "accessKeyId": CANARIES["access key id"],
                        "secretAccessKey": CANARIES["secret access key"],
                    },
                ),
            ]
        )
        operator = stack.start_operator(
            prometheus_url=default.url,
            extra_env={"OPSREPORT_PROMETHEUS_BEARER_TOKEN": CANARIES["operator token"]},
        )
        base = {
            "schedule": "@daily",
            "window": {"duration": "1h", "settleSeconds": 0},
            "formats": ["markdown", "html", "json"],
        }
        stack.apply_schedule(
            "default-prom", NAMESPACE, base, annotations={"opsreport.dev/run-now": "1"}
        )
        s3_output = {
            "bucket": "reports",
            "endpoint": s3.endpoint,
            "region": s3.region,
            "forcePathStyle": True,
            "credentialsSecretRef": {"name": "s3-creds"},
        }
        own_spec = {
            **base,
            "prometheus": {"url": own.url, "bearerTokenSecretRef": {"name": "prom-token"}},
            "outputs": [{"configMap": {}}, {"s3": s3_output}],
        }
        stack.apply_schedule(
            "own-prom", NAMESPACE, own_spec, annotations={"opsreport.dev/run-now": "1"}
        )
        for name in ("default-prom", "own-prom"):
            wait_for(
                lambda n=name: (
                    (stack.schedule(NAMESPACE, n) or {}).get("status", {}).get("lastReport")
                ),
                timeout=90,
                what=f"{name}'s report",
            )
        yield stack, operator, default, own


def test_the_canaries_were_used(
    world: tuple[LocalStack, OperatorProcess, SlowProxy, SlowProxy],
) -> None:
    """Otherwise the search below would prove nothing."""
    stack, _, default, own = world
    assert f"Bearer {CANARIES['operator token']}" in {
        h.get("Authorization") for h in default.headers
    }
    assert f"Bearer {CANARIES['schedule token']}" in {h.get("Authorization") for h in own.headers}
    status = (stack.schedule(NAMESPACE, "own-prom") or {})["status"]
    s3 = next(o for o in status["lastReport"]["outputs"] if o["type"] == "s3")
    assert s3["result"] == "Failed"  # the store refused the planted credentials
    assert "403" in s3["message"]


def test_no_output_holds_a_secret(
    world: tuple[LocalStack, OperatorProcess, SlowProxy, SlowProxy],
) -> None:
    stack, operator, _, _ = world
    outputs = {
        "schedules": json.dumps(list(stack.kube.list("opsreport.dev/v1alpha1", "reportschedules"))),
        "events": json.dumps(list(stack.kube.list("v1", "events", NAMESPACE))),
        "reports": json.dumps(list(stack.kube.list("v1", "configmaps", NAMESPACE))),
        "metrics": operator.metrics(),
        "logs": operator.logs(),
    }
    # The failures were recorded, with their messages: the places a careless error would leak.
    assert "Prometheus rejected the query (error): boom" in outputs["schedules"]
    assert "Prometheus answered 200 with a body that is not JSON" in outputs["schedules"]
    for where, text in outputs.items():
        for what, value in CANARIES.items():
            assert value not in text, f"the {what} leaked into {where}"
            assert base64.b64encode(value.encode()).decode() not in text, f"{what} in {where}"
