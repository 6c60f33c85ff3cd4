"""Run what a schedule needs and say what happened: the layer between kopf and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsreport import api, logs
from opsreport.checks import scope_violation
from opsreport.collect.access import settings_for
from opsreport.collect.prometheus import PrometheusSettings
from opsreport.config import OperatorConfig
from opsreport.deliver.base import GuardedSink, Sink, SinkContext
from opsreport.deliver.registry import OUTPUTS
from opsreport.kube import KubeApi, KubeError
from opsreport.metrics import OperatorMetrics
from opsreport.model.spec import ReportScheduleSpec
from opsreport.model.status import ReportScheduleStatus
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
    running_status,
    skipped_status,
)
from opsreport.render.documents import CustomTemplate, RenderError
from opsreport.scheduling import Clock, format_rfc3339
from opsreport.user_templates import load_custom_template

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A Kubernetes Event to post on the schedule."""

    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass
class RunResult:
    status: ReportScheduleStatus
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
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)

    def prometheus_for(self, spec: ReportScheduleSpec) -> PrometheusSettings | None:
        # The operator's token only ever goes to the operator's own Prometheus; a schedule's
        # Secret references are read in its own namespace when the report runs.
        return settings_for(
            spec.prometheus,
            default_url=self.config.prometheus_url,
            default_token=self.config.prometheus_bearer_token,
            default_timeout=self.config.prometheus_timeout_seconds,
        )

    def sinks_for(self, spec: ReportScheduleSpec) -> list[Sink]:
        context = SinkContext(self.kube, self.clock, self.config)
        sinks = [OUTPUTS[output.kind].build(output.config, context) for output in spec.outputs]
        # A sink that raises becomes a failed output instead of failing the others.
        return [GuardedSink(sink) for sink in sinks]

    async def custom_template(self, schedule: Schedule) -> CustomTemplate | None:
        return await load_custom_template(
            self.kube, schedule.identity.namespace, schedule.spec.template
        )

    async def patch_status(self, schedule: Schedule, status: ReportScheduleStatus) -> None:
        await self.kube.request(
            "PATCH",
            f"{self._object_path(schedule)}/status",
            body={"status": status.patch()},
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
        if scope_violation(schedule, self.config) is not None:
            return  # reconcile has reported it (Ready=False); never run it, whatever the status
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
                self.metrics.count_run(*_key(schedule), "skipped", group.count)
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
        self.metrics.count_run(*_key(schedule), "replaced")
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
        # Every log line of this run, ours and kopf's, names the schedule and this run's id.
        with logs.run_context(*_key(schedule), logs.new_run_id()):
            await self._run_logged(schedule, run, notify)

    async def _run_logged(self, schedule: Schedule, run: DueRun, notify: Notify) -> None:
        try:
            result = await self.execute(schedule, run, notify)
        except asyncio.CancelledError:
            raise
        except KubeError as error:  # the claim failed: the API is unwell, not our code
            logger.warning("report run for %s failed: %s", schedule.identity, error)
            self.metrics.count_run(*_key(schedule), "failed")
            result = RunResult(
                failed_attempt_status(
                    schedule, run, self.clock(), reason=api.REASON_REPORT_FAILED, message=str(error)
                ),
                [Notice("Warning", api.REASON_REPORT_FAILED, str(error))],
            )
        except Exception as error:  # a bug must cost one attempt, never the operator
            logger.exception("report run for %s failed", schedule.identity)
            self.metrics.count_run(*_key(schedule), "failed")
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
        metrics = self.metrics
        sources = Sources(
            kube=self.kube,
            prometheus=self.prometheus_for(schedule.spec),
            on_query=metrics.observe_query,
        )
        try:
            waiting_since = time.perf_counter()
            metrics.queued.inc()
            try:
                await self.slots.acquire()
            finally:
                metrics.queued.dec()
            metrics.observe_phase("queue", time.perf_counter() - waiting_since)
            metrics.running.inc()
            try:
                if queued:
                    await self.patch_status(schedule, running_status())
                notify(Notice("Normal", "RunStarted", f"{run.trigger} report for {window}"))
                outcome = await run_report(
                    request,
                    sources,
                    self.sinks_for(schedule.spec),
                    self.clock,
                    on_phase=metrics.observe_phase,
                    custom_template=await self.custom_template(schedule),
                )
            finally:
                metrics.running.dec()
                self.slots.release()
        except RenderError as error:
            metrics.count_run(*_key(schedule), "failed")
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
            metrics.count_run(*_key(schedule), "failed")
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
        for document in outcome.documents:
            metrics.observe_document(document.format, len(document.content.encode()))
        if not outcome.delivered:
            metrics.count_run(*_key(schedule), "failed")
        else:
            metrics.count_run(*_key(schedule), "degraded" if outcome.degraded else "succeeded")
            metrics.delivered(*_key(schedule), self.clock())
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


def _key(schedule: Schedule) -> tuple[str, str]:
    return schedule.identity.namespace, schedule.identity.name


def _window_text(run: DueRun) -> str:
    return f"{format_rfc3339(run.window.start)} – {format_rfc3339(run.window.end)}"
