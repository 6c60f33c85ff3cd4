"""A schedule reads Secrets and ConfigMaps only in its own namespace, and writes reports only
there; pods of other namespaces are read only when the operator allows a wider scope."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from opsreport.kube import KubeApi
from tests.faults.conftest import NAMESPACE, Harness

pytestmark = pytest.mark.stack


def record(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    real = kube_api.request

    async def spy(method: str, path: str, **kwargs: Any) -> Any:
        sent.append((method, path))
        return await real(method, path, **kwargs)

    monkeypatch.setattr(kube_api, "request", spy)
    return sent


async def test_secrets_and_reports_stay_in_the_schedules_namespace(
    harness: Callable[..., Harness], kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness(allow_cross_namespace_scope=True)
    sent = record(kube_api, monkeypatch)
    h.create(
        "ns-bound",
        scope={"namespaces": [NAMESPACE, "shop"]},
        prometheus={"url": "http://127.0.0.1:1", "bearerTokenSecretRef": {"name": "token"}},
        outputs=[
            {"configMap": {}},
            {
                "s3": {
                    "bucket": "reports",
                    "endpoint": "http://127.0.0.1:1",
                    "forcePathStyle": True,
                    "credentialsSecretRef": {"name": "creds"},
                }
            },
        ],
    )
    await h.run("ns-bound")
    h.create("ns-template", template={"configMapRef": {"name": "tpl", "key": "report.md.j2"}})
    await h.run("ns-template")
    touched = [(m, p) for m, p in sent if re.search(r"/(secrets|configmaps)(/|$)", p)]
    assert {p.split("/")[-1] for _, p in touched} >= {"token", "creds", "tpl"}  # all were read
    for method, path in touched:
        assert path.startswith(f"/api/v1/namespaces/{NAMESPACE}/"), (method, path)
    pods = {p for _, p in sent if p.endswith("/pods")}
    assert pods == {f"/api/v1/namespaces/{NAMESPACE}/pods", "/api/v1/namespaces/shop/pods"}


async def test_without_the_setting_another_namespace_is_never_read(
    harness: Callable[..., Harness], kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness()  # OPSREPORT_ALLOW_CROSS_NAMESPACE_SCOPE unset
    sent = record(kube_api, monkeypatch)
    h.create("ns-refused", scope={"namespaces": ["shop"]})
    await h.run("ns-refused")
    assert not [p for _, p in sent if "/namespaces/shop/" in p]
    assert not h.reports("ns-refused")
    assert not h.operator.active
