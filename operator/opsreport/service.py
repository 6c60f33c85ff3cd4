"""Run what a schedule needs and say what happened: the layer between kopf and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsreport import api
from opsreport.collect.prometheus import PrometheusSettings
from opsreport.config import OperatorConfig
from opsreport.deliver.base import GuardedSink, Sink
from opsreport.deliver.configmap import ConfigMapSink
from opsreport.deliver.s3 import S3Sink
from opsreport.kube import KubeApi, KubeError
from opsreport.model.spec import ReportScheduleSpec
from opsreport.pipeline import ReportRequest, Sources, run_report
from opsreport.reconcile import (
    Decision,
    DueRun,
    Schedule,
    claim_status,
    decide,
    failed_attempt_status,
    outcome_status,
    parse_schedule,
    replaced_status,
    skipped_status,
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


Notify = Callable[[Notice], None]


@dataclass
class ActiveRun:
    run: DueRun
    task: asyncio.Task[None]


@dataclass
class Operator:
    """Long-lived clients and limits shared by every schedule."""

    config: OperatorConfig
    kube: KubeApi
    clock: Clock
    slots: asyncio.Semaphore
    active: dict[tuple[str, str], ActiveRun] = field(default_factory=dict)

    def prometheus_for(self, spec: ReportScheduleSpec) -> PrometheusSettings | None:
        url = spec.prometheus.url or self.config.prometheus_url
        if not url:
            return None
        token = self.config.prometheus_bearer_token
        headers = {"Authorization": f"Bearer {token}"} if token and not spec.prometheus.url else {}
        return PrometheusSettings(
            url=url, timeout_seconds=self.config.prometheus_timeout_seconds, headers=headers
        )

    def sinks_for(self, spec: ReportScheduleSpec) -> list[Sink]:
        sinks: list[Sink] = []
        for output in spec.outputs:
            if output.config_map is not None:
                sinks.append(ConfigMapSink(self.kube, output.config_map))
            elif output.s3 is not None:
                sinks.append(S3Sink(output.s3, self.kube, self.clock))
        # A sink that raises becomes a failed output instead of failing the others.
        return [GuardedSink(sink) for sink in sinks]

    async def patch_status(self, schedule: Schedule, status: Json) -> None:
        await self.kube.request(
            "PATCH",
            f"{self._object_path(schedule)}/status",
            body={"status": status},
            content_type="application/merge-patch+json",
        )

    @staticmethod
    def _object_path(schedule: Schedule) -> str:
        return api.schedule_path(schedule.identity.namespace, schedule.identity.name)

    async def fetch(self, schedule: Schedule) -> Schedule:
        """The schedule as the API has it now: kopf's body may predate our own status writes."""
        body = await self.kube.get(self._object_path(schedule))
        return parse_schedule(body) if body else schedule

    async def tick(self, schedule: Schedule, notify: Notify) -> None:
        """Start whatever is due and return at once; runs go on in their own tasks."""
        key = (schedule.identity.namespace, schedule.identity.name)
        current = self.active.get(key)
        if current is not None and not current.task.done():
            if schedule.spec.concurrency_policy == "Replace":
                await self._maybe_replace(schedule, current, notify)
            return  # Forbid: never two runs of one schedule at a time
        decision = decide(schedule, self.clock())
        if decision.run is None and not decision.skipped:
            return  # the common case: decided from kopf's body without any request
        schedule = await self.fetch(schedule)
        decision = decide(schedule, self.clock())
        await self._start(schedule, decision, notify)

    async def _start(self, schedule: Schedule, decision: Decision, notify: Notify) -> None:
        if decision.skipped:
            await self.patch_status(
                schedule, skipped_status(schedule, decision.skipped, self.clock())
            )
            for group in decision.skipped:
                notify(
                    Notice(
                        "Warning",
                        "RunSkipped",
                        f"{group.reason}: {group.count} run(s) from "
                        f"{format_rfc3339(group.first)} to {format_rfc3339(group.last)}",
                    )
                )
            schedule = await self.fetch(schedule)
        if decision.run is None:
            return
        key = (schedule.identity.namespace, schedule.identity.name)
        task = asyncio.create_task(
            self._run(schedule, decision.run, notify), name=f"report {key[0]}/{key[1]}"
        )
        self.active[key] = ActiveRun(decision.run, task)

    async def _maybe_replace(self, schedule: Schedule, current: ActiveRun, notify: Notify) -> None:
        newer = decide(schedule, self.clock(), ignore_claim=True).run
        if newer is None or newer.scheduled_time <= current.run.scheduled_time:
            return
        current.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await current.task
        schedule = await self.fetch(schedule)
        window = _window_text(current.run)
        notify(Notice("Warning", "RunReplaced", f"{window} replaced by a newer run"))
        await self.patch_status(schedule, replaced_status(schedule, current.run, self.clock()))
        schedule = await self.fetch(schedule)
        await self._start(schedule, decide(schedule, self.clock(), ignore_claim=True), notify)

    async def shutdown(self) -> None:
        """Cancel runs on the way out; their claims stay, so the next operator reruns them."""
        tasks = [active.task for active in self.active.values() if not active.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, schedule: Schedule, run: DueRun, notify: Notify) -> None:
        try:
            result = await self.execute(schedule, run, notify)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug must cost one attempt, never the operator
            logger.exception("report run for %s failed", schedule.identity)
            message = f"{type(error).__name__}: {error}"
            result = RunResult(
                failed_attempt_status(
                    schedule, run, self.clock(), reason=api.REASON_REPORT_FAILED, message=message
                ),
                [Notice("Warning", api.REASON_REPORT_FAILED, message)],
            )
        try:
            await self.patch_status(schedule, result.status)
        except KubeError as error:
            logger.error("could not record the run's status for %s: %s", schedule.identity, error)
        for notice in result.notices:
            notify(notice)

    async def execute(self, schedule: Schedule, run: DueRun, notify: Notify) -> RunResult:
        """Claim the run, wait for a slot, run the pipeline; returns the status to write."""
        queued = self.slots.locked()
        # Claim first: if we die mid-run, the next operator reruns this same window.
        await self.patch_status(schedule, claim_status(run, "Queued" if queued else "Running"))
        window = _window_text(run)
        if queued:
            notify(Notice("Normal", "RunQueued", f"{window} waits for a free slot"))
        notices: list[Notice] = []
        request = ReportRequest(schedule.identity, schedule.spec, run.window)
        sources = Sources(kube=self.kube, prometheus=self.prometheus_for(schedule.spec))
        try:
            async with self.slots:
                if queued:
                    await self.patch_status(schedule, {"pendingRun": {"state": "Running"}})
                notify(Notice("Normal", "RunStarted", f"{run.trigger} report for {window}"))
                outcome = await run_report(
                    request, sources, self.sinks_for(schedule.spec), self.clock
                )
        except RenderError as error:
            notices.append(Notice("Warning", api.REASON_TEMPLATE_RENDER_FAILED, str(error)))
            status = failed_attempt_status(
                await self.fetch(schedule),
                run,
                self.clock(),
                reason=api.REASON_TEMPLATE_RENDER_FAILED,
                message=str(error),
            )
            return RunResult(status, notices)
        except KubeError as error:
            notices.append(Notice("Warning", api.REASON_REPORT_FAILED, str(error)))
            status = failed_attempt_status(
                await self.fetch(schedule),
                run,
                self.clock(),
                reason=api.REASON_REPORT_FAILED,
                message=str(error),
            )
            return RunResult(status, notices)
        status = outcome_status(await self.fetch(schedule), run, outcome, self.clock())
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


def _window_text(run: DueRun) -> str:
    return f"{format_rfc3339(run.window.start)} – {format_rfc3339(run.window.end)}"
