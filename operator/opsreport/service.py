"""Run what a schedule needs and say what happened: the layer between kopf and the pipeline."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from opsreport import api
from opsreport.collect.prometheus import PrometheusSettings
from opsreport.config import OperatorConfig
from opsreport.deliver.base import Sink
from opsreport.deliver.configmap import ConfigMapSink
from opsreport.kube import KubeApi, KubeError
from opsreport.model.spec import ReportScheduleSpec
from opsreport.pipeline import ReportRequest, Sources, run_report
from opsreport.reconcile import (
    DueRun,
    Schedule,
    claim_status,
    failed_attempt_status,
    outcome_status,
)
from opsreport.render.report import RenderError
from opsreport.scheduling import Clock, format_rfc3339

Json = dict[str, Any]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A Kubernetes Event to post on the schedule."""

    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass
class RunResult:
    status: Json
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Operator:
    """Long-lived clients and limits shared by every schedule."""

    config: OperatorConfig
    kube: KubeApi
    clock: Clock
    slots: asyncio.Semaphore

    def prometheus_for(self, spec: ReportScheduleSpec) -> PrometheusSettings | None:
        url = spec.prometheus.url or self.config.prometheus_url
        if not url:
            return None
        return PrometheusSettings(url=url, timeout_seconds=self.config.prometheus_timeout_seconds)

    def sinks_for(self, spec: ReportScheduleSpec) -> list[Sink]:
        return [
            ConfigMapSink(self.kube) for output in spec.outputs if output.config_map is not None
        ]

    async def patch_status(self, schedule: Schedule, status: Json) -> None:
        ident = schedule.identity
        path = (
            f"/apis/{api.GROUP}/{api.VERSION}/namespaces/{ident.namespace}/{api.PLURAL}"
            f"/{ident.name}/status"
        )
        await self.kube.request(
            "PATCH", path, body={"status": status}, content_type="application/merge-patch+json"
        )

    async def execute(self, schedule: Schedule, run: DueRun) -> RunResult:
        # Claim the run first: if we die mid-run, the next operator reruns this same window.
        await self.patch_status(schedule, claim_status(run))
        window = f"{format_rfc3339(run.window.start)} – {format_rfc3339(run.window.end)}"
        notices = [Notice("Normal", "RunStarted", f"{run.trigger} report for {window}")]
        request = ReportRequest(schedule.identity, schedule.spec, run.window)
        sources = Sources(kube=self.kube, prometheus=self.prometheus_for(schedule.spec))
        try:
            async with self.slots:
                outcome = await run_report(
                    request, sources, self.sinks_for(schedule.spec), self.clock
                )
        except RenderError as error:
            notices.append(Notice("Warning", api.REASON_TEMPLATE_RENDER_FAILED, str(error)))
            status = failed_attempt_status(
                schedule,
                run,
                self.clock(),
                reason=api.REASON_TEMPLATE_RENDER_FAILED,
                message=str(error),
            )
            return RunResult(status, notices)
        except KubeError as error:
            notices.append(Notice("Warning", api.REASON_REPORT_FAILED, str(error)))
            status = failed_attempt_status(
                schedule, run, self.clock(), reason=api.REASON_REPORT_FAILED, message=str(error)
            )
            return RunResult(status, notices)
        status = outcome_status(schedule, run, outcome, self.clock())
        for result in outcome.outputs:
            if not result.ok:
                notices.append(
                    Notice(
                        "Warning",
                        result.reason or api.REASON_DELIVERY_FAILED,
                        f"{result.type}: {result.message}",
                    )
                )
        if outcome.delivered:
            where = ", ".join(result.location for result in outcome.outputs)
            if outcome.degraded:
                gaps = "; ".join(f"{g.section}: {g.reason}" for g in outcome.report.data_gaps)
                notices.append(
                    Notice("Warning", "RunDegraded", f"{window} → {where}; gaps: {gaps}")
                )
            else:
                notices.append(Notice("Normal", "RunSucceeded", f"{window} → {where}"))
        return RunResult(status, notices)
