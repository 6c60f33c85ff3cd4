"""A user's template from a ConfigMap, through the run service against the emulated API.

No Prometheus is configured, so the report has gaps; the template still renders, and a broken or
missing template fails the run with TemplateRenderFailed naming template and line.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

from opsreport.config import OperatorConfig
from opsreport.kube import KubeApi
from opsreport.reconcile import parse_schedule
from opsreport.scheduling import format_rfc3339
from opsreport.service import Notice, Operator
from tests.integration.conftest import END
from tests.support.kube_emulator import KubeApiServer
from tests.support.stack import GROUP_VERSION

TEMPLATE = """{% extends "daily/report.md.j2" %}
{% block summary %}## For the team

Custom summary for {{ report.schedule.name }}: {{ report.data_gaps | length }} gap(s).

{% endblock %}
"""
_names = itertools.count()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def configmap(kube_server: KubeApiServer, name: str, data: dict[str, str]) -> None:
    kube_server.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop"},
            "data": data,
        }
    )


def schedule(kube_server: KubeApiServer, clock: Clock, template: dict[str, Any]) -> str:
    name = f"custom-{next(_names)}"
    kube_server.create(
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ReportSchedule",
            "metadata": {"name": name, "namespace": "shop", "generation": 1},
            "spec": {
                "schedule": "* * * * *",
                "window": {"duration": "1h", "settleSeconds": 0},
                "formats": ["markdown", "json"],
                "template": template,
            },
            "status": {
                "lastScheduleTime": format_rfc3339(clock.now - timedelta(minutes=2)),
                "observedGeneration": 1,
            },
        }
    )
    return name


async def run_once(
    kube_api: KubeApi, kube_server: KubeApiServer, clock: Clock, name: str
) -> tuple[dict[str, Any], list[Notice]]:
    operator = Operator(
        config=OperatorConfig(), kube=kube_api, clock=clock, slots=asyncio.Semaphore(1)
    )
    notices: list[Notice] = []
    body = kube_server.get(GROUP_VERSION, "reportschedules", "shop", name)
    assert body is not None
    await operator.tick(parse_schedule(body), notices.append)
    await asyncio.gather(*(active.task for active in operator.active.values()))
    status = kube_server.get(GROUP_VERSION, "reportschedules", "shop", name)
    assert status is not None
    return status["status"], notices


async def reports(kube_api: KubeApi, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async for page in kube_api.list_pages(
        "/api/v1/namespaces/shop/configmaps", label_selector=f"opsreport.dev/schedule={name}"
    ):
        found.extend(page)
    return found


async def test_a_configmap_template_extends_the_builtin(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    clock = Clock(END)
    configmap(kube_server, "team-template", {"report.md.j2": TEMPLATE})
    name = schedule(
        kube_server, clock, {"configMapRef": {"name": "team-template", "key": "report.md.j2"}}
    )
    status, notices = await run_once(kube_api, kube_server, clock, name)
    assert status["lastReport"]["outputs"][0]["result"] == "Delivered", status
    (stored,) = await reports(kube_api, name)
    markdown = stored["data"]["report.md"]
    assert "## For the team\n\nCustom summary for " + name in markdown
    assert "## Data gaps" in markdown  # the rest of the built-in report
    assert stored["data"]["report.json"].startswith("{")
    assert any(n.reason in ("RunSucceeded", "RunDegraded") for n in notices)


async def test_a_broken_template_fails_the_run_naming_template_and_line(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    clock = Clock(END)
    configmap(kube_server, "broken-template", {"report.md.j2": "fine\n{{ report.nope.deeper }}\n"})
    name = schedule(
        kube_server, clock, {"configMapRef": {"name": "broken-template", "key": "report.md.j2"}}
    )
    status, notices = await run_once(kube_api, kube_server, clock, name)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "TemplateRenderFailed"
    assert "configmap/broken-template/report.md.j2:2:" in ready["message"]
    (event,) = [n for n in notices if n.reason == "TemplateRenderFailed"]
    assert event.type == "Warning"
    assert "nope" in event.message
    assert await reports(kube_api, name) == []


async def test_a_hostile_template_gets_a_clear_error(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    clock = Clock(END)
    configmap(
        kube_server,
        "hostile-template",
        {"report.md.j2": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
    )
    name = schedule(
        kube_server, clock, {"configMapRef": {"name": "hostile-template", "key": "report.md.j2"}}
    )
    status, _ = await run_once(kube_api, kube_server, clock, name)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "TemplateRenderFailed"
    assert "unsafe" in ready["message"]


async def test_a_missing_configmap_or_key_is_named(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    clock = Clock(END)
    name = schedule(kube_server, clock, {"configMapRef": {"name": "absent", "key": "report.md.j2"}})
    status, _ = await run_once(kube_api, kube_server, clock, name)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "TemplateRenderFailed"
    assert "ConfigMap shop/absent not found" in ready["message"]
    configmap(kube_server, "wrong-key", {"other.md.j2": "x"})
    name = schedule(
        kube_server, clock, {"configMapRef": {"name": "wrong-key", "key": "report.md.j2"}}
    )
    status, _ = await run_once(kube_api, kube_server, clock, name)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert "has no key 'report.md.j2'" in ready["message"]
