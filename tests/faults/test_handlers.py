"""The kopf handlers under API faults and policy: throttling becomes kopf.TemporaryError with the
API server's delay; a scope the operator does not allow is Ready=False and never runs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import kopf
import pytest

from opsreport.checks import Verdict
from opsreport.config import OperatorConfig
from opsreport.handlers import schedules
from opsreport.kube import KubeError
from opsreport.metrics import OperatorMetrics
from opsreport.reconcile import parse_schedule
from opsreport.service import Operator

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
LOGGER = logging.getLogger("test")


def body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "opsreport.dev/v1alpha1",
        "kind": "ReportSchedule",
        "metadata": {
            "namespace": "shop",
            "name": "daily",
            "uid": "u-1",
            "generation": 1,
            "creationTimestamp": "2026-03-01T00:00:00Z",
        },
        "spec": {"schedule": "@daily", "window": {"duration": "24h"}, **spec},
        "status": {"observedGeneration": 1},
    }


class Throttled:
    """An Operator (or SpecChecks) whose every API call is answered 429."""

    def __init__(self, retry_after: float | None, allow_cross: bool = False) -> None:
        self.metrics = OperatorMetrics()
        self.config = OperatorConfig(allow_cross_namespace_scope=allow_cross)
        self.retry_after = retry_after

    def clock(self) -> datetime:
        return NOW

    def prometheus_for(self, spec: Any) -> None:
        return None

    async def tick(self, *_: Any) -> None:
        raise KubeError(429, "too many requests", self.retry_after)

    async def judge(self, *_: Any) -> Verdict:
        raise KubeError(429, "too many requests", self.retry_after)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    posted: list[dict[str, Any]] = []
    monkeypatch.setattr(kopf, "event", lambda _body, **kwargs: posted.append(kwargs))
    return posted


async def test_a_throttled_tick_is_retried_after_retry_after() -> None:
    memo = SimpleNamespace(operator=Throttled(retry_after=7))
    with pytest.raises(kopf.TemporaryError) as raised:
        await schedules.tick(body=body(), memo=memo, logger=LOGGER)
    assert raised.value.delay == 7


async def test_other_api_errors_wait_for_the_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    operator = Throttled(retry_after=None)

    async def fails(*_: Any) -> None:
        raise KubeError(500, "internal error")

    monkeypatch.setattr(operator, "tick", fails)
    await schedules.tick(body=body(), memo=SimpleNamespace(operator=operator), logger=LOGGER)


async def test_a_throttled_judgement_is_retried_without_writing_status() -> None:
    throttled = Throttled(retry_after=3)
    memo = SimpleNamespace(operator=throttled, checks=throttled)
    patch = kopf.Patch()
    with pytest.raises(kopf.TemporaryError) as raised:
        await schedules.reconcile(body=body(), patch=patch, memo=memo, logger=LOGGER)
    assert raised.value.delay == 3
    assert not patch  # nothing half-judged is written


async def test_another_namespace_in_scope_is_refused(events: list[dict[str, Any]]) -> None:
    operator = Throttled(retry_after=None)
    memo = SimpleNamespace(operator=operator, checks=operator)
    patch = kopf.Patch()
    scoped = body(scope={"namespaces": ["shop", "payments"]})
    await schedules.reconcile(body=scoped, patch=patch, memo=memo, logger=LOGGER)
    ready = next(c for c in patch["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NamespaceNotAllowed")
    assert ready["message"].startswith("spec.scope.namespaces[1]: 'payments'")
    assert events == [
        {"type": "Warning", "reason": "NamespaceNotAllowed", "message": ready["message"]}
    ]


async def test_a_refused_scope_never_runs_even_when_due() -> None:
    operator = Operator(
        config=OperatorConfig(),
        kube=None,  # type: ignore[arg-type]  (never reached: nothing may run)
        clock=lambda: NOW,
        slots=asyncio.Semaphore(1),
    )
    scoped = body(scope={"namespaces": ["payments"]})
    scoped["metadata"]["annotations"] = {"opsreport.dev/run-now": "now"}
    await operator.tick(parse_schedule(scoped), lambda notice: None)
    assert not operator.active
    allowed = Operator(
        config=OperatorConfig(allow_cross_namespace_scope=True),
        kube=None,  # type: ignore[arg-type]
        clock=lambda: NOW,
        slots=asyncio.Semaphore(1),
    )
    with pytest.raises(AttributeError):  # it would run: the first API call meets kube=None
        await allowed.tick(parse_schedule(scoped), lambda notice: None)


async def test_a_deleted_schedule_is_forgotten() -> None:
    operator = Throttled(retry_after=None)
    operator.metrics.count_run("shop", "daily", "succeeded")
    event = {"type": "DELETED", "object": body()}
    await schedules.forget(event=event, memo=SimpleNamespace(operator=operator))
    labels = {"namespace": "shop", "schedule": "daily", "result": "succeeded"}
    assert operator.metrics.registry.get_sample_value("opsreport_reports_total", labels) is None
