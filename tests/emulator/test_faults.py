"""Fault injection (for the operator's fault tests) and request counting."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator._helpers import MERGE, WIDGETS, pod, widget
from tests.support.kube_emulator import KubeApiServer

PODS = "/api/v1/namespaces/default/pods"


def test_injected_409_on_status_patches_then_recovery(
    widgets: KubeApiServer, http: httpx.Client
) -> None:
    url = f"{WIDGETS}/namespaces/default/widgets/w1"
    widgets.seed([widget("w1")])
    widgets.inject_fault("PATCH", r"/widgets/[^/]+/status$", 409)

    failed = http.patch(f"{url}/status", json={"status": {"phase": "A"}}, headers=MERGE)
    main = http.patch(url, json={"spec": {"size": 1}}, headers=MERGE)  # not matched
    recovered = http.patch(f"{url}/status", json={"status": {"phase": "B"}}, headers=MERGE)

    assert failed.status_code == 409
    assert failed.json() | {"message": ""} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "",
        "reason": "Conflict",
        "code": 409,
    }
    assert main.status_code == 200
    assert recovered.status_code == 200
    assert http.get(url).json()["status"] == {"phase": "B"}  # the failed patch left no trace


def test_injected_429_carries_retry_after(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.inject_fault("GET", "^/api/v1/namespaces/default/pods$", 429, headers={"Retry-After": "2"})

    throttled = http.get(PODS)
    recovered = http.get(PODS)

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json()["reason"] == "TooManyRequests"
    assert throttled.json()["details"]["retryAfterSeconds"] == 2
    assert recovered.status_code == 200


def test_injected_500_for_several_requests(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.inject_fault("POST", "/pods$", 500, times=2)

    statuses = [http.post(PODS, json=pod(f"p{i}")).status_code for i in range(3)]

    assert statuses == [500, 500, 201]
    assert [item["metadata"]["name"] for item in http.get(PODS).json()["items"]] == ["p2"]


def test_fault_with_a_custom_body_and_any_method(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.inject_fault("*", "/version", 503, body={"custom": True})

    rsp = http.get("/version")

    assert (rsp.status_code, rsp.json()) == (503, {"custom": True})


def test_faults_can_be_cleared(kube: KubeApiServer, http: httpx.Client) -> None:
    kube.inject_fault("GET", "/pods", 500, times=100)
    assert http.get(PODS).status_code == 500

    kube.clear_faults()

    assert http.get(PODS).status_code == 200


def test_times_must_be_positive(kube: KubeApiServer) -> None:
    with pytest.raises(ValueError, match="times"):
        kube.inject_fault("GET", "/", 500, times=0)


def test_requests_are_counted_and_history_is_bounded(
    kube: KubeApiServer, http: httpx.Client
) -> None:
    before = kube.request_count
    for i in range(5):
        http.post(PODS, json=pod(f"p{i}"))
    http.get(PODS)
    http.get("/api/v1/namespaces/other/pods")

    assert kube.request_count == before + 7
    assert kube.count_requests("POST", PODS) == 5
    assert kube.count_requests("GET", "/api/v1/namespaces/") == 2
    assert kube.count_requests(path_prefix="/api/v1/namespaces/default/") == 6
    # Only the last request is kept: kmock re-filters the whole history on every request.
    assert len(list(kube.emulator._requests)) == 1
