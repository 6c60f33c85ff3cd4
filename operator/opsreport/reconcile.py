"""What a ReportSchedule needs now, decided from its object and the time: pure functions.

Scheduling is level-based. A run is due when the latest cron time is newer than
`status.lastScheduleTime`, when a new `run-now` value appears, or when `status.pendingRun` says a
run was claimed but not finished (the operator died mid-run). A claimed run keeps its window, so a
rerun writes the same report again instead of a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from opsreport import api
from opsreport.deliver.base import OutputResult, ScheduleIdentity
from opsreport.model.report import ReportData
from opsreport.model.spec import InvalidSpec, ReportScheduleSpec, parse_spec
from opsreport.model.status import (
    Condition,
    HistoryEntry,
    HistoryResult,
    LastReport,
    OutputStatus,
    PendingRun,
    PendingState,
    ReportScheduleStatus,
    ReportSummary,
    RunNowStatus,
    Trigger,
    WindowStatus,
    push_history,
    set_condition,
)
from opsreport.scheduling import (
    Skipped,
    Window,
    calendar_window,
    format_rfc3339,
    next_run,
    parse_rfc3339,
    plan_runs,
    rolling_window,
)

Json = dict[str, Any]

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=15)


@dataclass(frozen=True)
class Schedule:
    identity: ScheduleIdentity
    generation: int | None
    spec: ReportScheduleSpec
    status: ReportScheduleStatus
    annotations: dict[str, str]
    created: datetime


def parse_schedule(body: Json) -> Schedule:
    """Raises InvalidSpec naming the field when the spec cannot be acted on."""
    meta = body.get("metadata") or {}
    created = meta.get("creationTimestamp")
    return Schedule(
        identity=ScheduleIdentity(
            str(meta.get("namespace")), str(meta.get("name")), meta.get("uid")
        ),
        generation=meta.get("generation"),
        spec=parse_spec(body.get("spec")),
        status=ReportScheduleStatus.read(body.get("status")),
        annotations=dict(meta.get("annotations") or {}),
        created=parse_rfc3339(created) if created else datetime.now(UTC),
    )


def window_ending(spec: ReportScheduleSpec, at: datetime) -> Window:
    length = spec.window.length
    if length is not None:
        return rolling_window(at, length)
    assert spec.window.calendar is not None  # the spec model guarantees exactly one
    return calendar_window(at, spec.window.calendar, spec.zone)


@dataclass(frozen=True)
class DueRun:
    trigger: Trigger
    scheduled_time: datetime
    window: Window
    run_now_value: str | None = None
    attempts: int = 0

    def to_claim(
        self, *, not_before: datetime | None = None, state: PendingState | None = None
    ) -> PendingRun:
        # runNowValue and notBefore always set, None included: a merge patch must clear what an
        # earlier or hand-edited claim left. A retry leaves the state as it was.
        fields: Json = {"state": state} if state is not None else {}
        return PendingRun(
            trigger=self.trigger,
            scheduled_time=self.scheduled_time,
            window=WindowStatus.of(self.window),
            attempts=self.attempts,
            run_now_value=self.run_now_value,
            not_before=not_before,
            **fields,
        )

    @classmethod
    def from_claim(cls, claim: PendingRun) -> DueRun | None:
        """None for a claim that names no run (a status edited by hand)."""
        window = claim.window.to_window() if claim.window is not None else None
        if claim.trigger is None or claim.scheduled_time is None or window is None:
            return None
        return cls(
            trigger=claim.trigger,
            scheduled_time=claim.scheduled_time,
            window=window,
            run_now_value=claim.run_now_value,
            attempts=claim.attempts or 0,
        )


def _whole_seconds(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


@dataclass(frozen=True)
class Decision:
    """What a tick should do: at most one run, and cron times to record as skipped."""

    run: DueRun | None = None
    skipped: tuple[Skipped, ...] = ()


def decide(schedule: Schedule, now: datetime, *, ignore_claim: bool = False) -> Decision:
    """The run due now, in priority order: a claimed run, a new run-now value, the cron.

    `ignore_claim` asks what the cron alone would run, to let concurrencyPolicy Replace see
    a newer window while the claimed one is still running.
    """
    status = schedule.status
    pending = status.pending_run
    claim = DueRun.from_claim(pending) if pending is not None and not ignore_claim else None
    if claim is not None and pending is not None:
        if pending.not_before is not None and pending.not_before > now:
            return Decision()
        return Decision(claim)
    # A claim that cannot be read (a status edited by hand) is dropped: the next claim replaces it.
    run_now = schedule.annotations.get(api.ANNOTATION_RUN_NOW)
    handled = status.run_now.value if status.run_now is not None else None
    if run_now and run_now != handled and not ignore_claim:
        at = _whole_seconds(now)
        return Decision(
            DueRun("run-now", at, window_ending(schedule.spec, at), run_now_value=run_now)
        )
    if schedule.spec.suspend:
        return Decision()
    spec = schedule.spec
    deadline = spec.starting_deadline_seconds
    plan = plan_runs(
        spec.schedule,
        spec.zone,
        after=status.last_schedule_time or schedule.created,
        now=now,
        settle=spec.window.settle,
        deadline=timedelta(seconds=deadline) if deadline is not None else None,
        catch_up=spec.catch_up,
    )
    if plan.run is None:
        return Decision(None, plan.skipped)
    return Decision(DueRun("schedule", plan.run, window_ending(spec, plan.run)), plan.skipped)


def skipped_status(
    schedule: Schedule, skipped: tuple[Skipped, ...], now: datetime
) -> ReportScheduleStatus:
    """Record skipped cron times once: lastScheduleTime moves past them, history says why."""
    if not skipped:
        return ReportScheduleStatus()
    history = schedule.status.history
    for group in skipped:
        message = (
            f"skipped {group.count} run(s) from {format_rfc3339(group.first)}"
            f" to {format_rfc3339(group.last)}"
        )
        entry = HistoryEntry(
            window=WindowStatus.of(window_ending(schedule.spec, group.last)),
            trigger="schedule",
            result="Skipped",
            reason=group.reason,
            message=message,
            finished_at=now,
        )
        history = push_history(history, entry, schedule.spec.history_limit)
    return ReportScheduleStatus(
        last_schedule_time=max(group.last for group in skipped), history=history
    )


def next_schedule_time(schedule: Schedule, now: datetime) -> datetime | None:
    if schedule.spec.suspend:
        return None
    return next_run(schedule.spec.schedule, schedule.spec.zone, now)


def spec_status(schedule: Schedule, now: datetime) -> ReportScheduleStatus:
    """Status for a valid spec: Ready, observedGeneration and the next run."""
    suspended = schedule.spec.suspend
    upcoming = next_schedule_time(schedule, now)
    return ReportScheduleStatus(
        observed_generation=schedule.generation,
        next_schedule_time=upcoming,
        conditions=set_condition(
            schedule.status.conditions,
            type=api.CONDITION_READY,
            status=True,
            reason=api.REASON_SUSPENDED if suspended else api.REASON_SCHEDULED,
            message="suspended: no runs until resumed"
            if suspended
            else f"next run at {format_rfc3339(upcoming) if upcoming else 'never'}",
            generation=schedule.generation,
            now=now,
        ),
    )


def invalid_spec_status(body: Json, error: InvalidSpec, now: datetime) -> ReportScheduleStatus:
    meta = body.get("metadata") or {}
    generation = meta.get("generation")
    return ReportScheduleStatus(
        observed_generation=generation,
        next_schedule_time=None,
        conditions=set_condition(
            ReportScheduleStatus.read(body.get("status")).conditions,
            type=api.CONDITION_READY,
            status=False,
            reason=error.reason,
            message=str(error),
            generation=generation,
            now=now,
        ),
    )


def replaced_status(schedule: Schedule, run: DueRun, now: datetime) -> ReportScheduleStatus:
    """concurrencyPolicy Replace cancelled `run` for a newer one; its window is given up."""
    entry = HistoryEntry(
        window=WindowStatus.of(run.window),
        trigger=run.trigger,
        result="Replaced",
        reason="ConcurrencyPolicy",
        message="cancelled for a newer run (concurrencyPolicy: Replace)",
        finished_at=now,
    )
    return _finish(schedule, run, now, entry)


def claim_status(run: DueRun, state: PendingState = "Running") -> ReportScheduleStatus:
    return ReportScheduleStatus(pending_run=run.to_claim(state=state))


def running_status() -> ReportScheduleStatus:
    """A queued claim got its slot: only its state changes."""
    return ReportScheduleStatus(pending_run=PendingRun(state="Running"))


def _finish(
    schedule: Schedule, run: DueRun, now: datetime, entry: HistoryEntry, **fields: Any
) -> ReportScheduleStatus:
    """Let go of the claim: the window is done (or given up) and recorded in history."""
    if run.trigger == "schedule":
        fields["last_schedule_time"] = run.scheduled_time
    else:
        fields["run_now"] = RunNowStatus(value=run.run_now_value, handled_at=now)
    return ReportScheduleStatus(
        pending_run=None,
        history=push_history(schedule.status.history, entry, schedule.spec.history_limit),
        next_schedule_time=next_schedule_time(schedule, now),
        **fields,
    )


class RunOutcome(Protocol):
    """What a report run produced, as far as the status tells (pipeline.ReportOutcome)."""

    @property
    def report(self) -> ReportData: ...
    @property
    def outputs(self) -> Sequence[OutputResult]: ...
    @property
    def delivered(self) -> bool: ...
    @property
    def degraded(self) -> bool: ...


def _output_status(result: OutputResult) -> OutputStatus:
    # Only what there is: an output without a message or link has no such key at all.
    extra: Json = {}
    if result.message:
        extra["message"] = result.message[:512]
    if result.url:
        extra["url"] = result.url
    if result.url_expires_at:
        extra["url_expires_at"] = result.url_expires_at
    return OutputStatus(
        type=result.type,
        location=result.location,
        result="Delivered" if result.ok else "Failed",
        **extra,
    )


def outcome_status(
    schedule: Schedule, run: DueRun, outcome: RunOutcome, now: datetime
) -> ReportScheduleStatus:
    report = outcome.report
    outputs = [_output_status(result) for result in outcome.outputs]
    summary = ReportSummary(
        status=report.status,
        availability_percent=f"{report.availability.percent:.3f}"
        if report.availability.percent is not None
        else None,
        restarts=report.restarts.total,
        rescales=report.scaling.rescales,
        data_gaps=len(report.data_gaps),
    )
    last_report = LastReport(
        window=WindowStatus.of(run.window),
        generated_at=report.generated_at,
        trigger=run.trigger,
        outputs=outputs,
        summary=summary,
    )
    result: HistoryResult = "Succeeded" if outcome.delivered else "Failed"
    if outcome.delivered and outcome.degraded:
        result = "Degraded"
    entry = HistoryEntry(
        window=WindowStatus.of(run.window),
        trigger=run.trigger,
        result=result,
        finished_at=now,
        outputs=outputs,
    )
    conditions = schedule.status.conditions
    if outcome.delivered:
        conditions = set_condition(
            conditions,
            type=api.CONDITION_READY,
            status=True,
            reason=api.REASON_REPORT_DELIVERED,
            message=f"report for {format_rfc3339(run.window.end)} delivered to "
            + ", ".join(result.location for result in outcome.outputs),
            generation=schedule.generation,
            now=now,
        )
    gaps = report.data_gaps
    conditions = set_condition(
        conditions,
        type=api.CONDITION_DEGRADED,
        status=bool(gaps),
        reason=api.REASON_DATA_GAPS if gaps else api.REASON_COMPLETE,
        message="; ".join(f"{g.section}: {g.reason}" for g in gaps)[:1024]
        if gaps
        else "every section was measured",
        generation=schedule.generation,
        now=now,
    )
    if not outcome.delivered:
        failed = (
            next(result for result in outcome.outputs if not result.ok) if outcome.outputs else None
        )
        return failed_attempt_status(
            schedule,
            run,
            now,
            reason=failed.reason or api.REASON_DELIVERY_FAILED
            if failed
            else api.REASON_DELIVERY_FAILED,
            message=failed.message if failed else "no outputs configured",
            conditions=conditions,
            last_report=last_report,
        )
    return _finish(
        schedule,
        run,
        now,
        entry,
        last_report=last_report,
        last_successful_time=now,
        conditions=conditions,
    )


def failed_attempt_status(
    schedule: Schedule,
    run: DueRun,
    now: datetime,
    *,
    reason: str,
    message: str,
    conditions: list[Condition] | None = None,
    last_report: LastReport | None = None,
) -> ReportScheduleStatus:
    """Retry with backoff; after MAX_ATTEMPTS the window is recorded as failed and let go."""
    attempts = run.attempts + 1
    conditions = set_condition(
        conditions if conditions is not None else schedule.status.conditions,
        type=api.CONDITION_READY,
        status=False,
        reason=reason,
        message=f"attempt {attempts} of {MAX_ATTEMPTS}: {message}",
        generation=schedule.generation,
        now=now,
    )
    fields: Json = {"conditions": conditions}
    if last_report is not None:
        fields["last_report"] = last_report
    if attempts < MAX_ATTEMPTS:
        delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
        retry = DueRun(run.trigger, run.scheduled_time, run.window, run.run_now_value, attempts)
        return ReportScheduleStatus(pending_run=retry.to_claim(not_before=now + delay), **fields)
    entry = HistoryEntry(
        window=WindowStatus.of(run.window),
        trigger=run.trigger,
        result="Failed",
        reason=reason,
        message=message[:512],
        finished_at=now,
    )
    return _finish(schedule, run, now, entry, **fields)
