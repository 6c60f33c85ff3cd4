"""What a ReportSchedule needs now, decided from its object and the time: pure functions.

Scheduling is level-based. A run is due when the latest cron time is newer than
`status.lastScheduleTime`, when a new `run-now` value appears, or when `status.pendingRun` says a
run was claimed but not finished (the operator died mid-run). A claimed run keeps its window, so a
rerun writes the same report again instead of a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from opsreport import api
from opsreport.deliver.base import ScheduleIdentity
from opsreport.model.spec import InvalidSpec, ReportScheduleSpec, parse_spec
from opsreport.model.status import push_history, set_condition
from opsreport.pipeline import ReportOutcome
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
Trigger = Literal["schedule", "run-now"]

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=15)


@dataclass(frozen=True)
class Schedule:
    identity: ScheduleIdentity
    generation: int | None
    spec: ReportScheduleSpec
    status: Json
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
        status=dict(body.get("status") or {}),
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

    def to_status(self, not_before: datetime | None = None) -> Json:
        claim: Json = {
            "trigger": self.trigger,
            "scheduledTime": format_rfc3339(self.scheduled_time),
            "window": _window_status(self.window),
            "attempts": self.attempts,
        }
        # Explicit nulls: a merge patch must clear what an earlier or hand-edited claim left.
        claim["runNowValue"] = self.run_now_value
        claim["notBefore"] = format_rfc3339(not_before) if not_before is not None else None
        return claim

    @classmethod
    def from_status(cls, claim: Json) -> DueRun:
        window = claim["window"]
        return cls(
            trigger=claim["trigger"],
            scheduled_time=parse_rfc3339(claim["scheduledTime"]),
            window=Window(parse_rfc3339(window["start"]), parse_rfc3339(window["end"])),
            run_now_value=claim.get("runNowValue"),
            attempts=int(claim.get("attempts", 0)),
        )


def _window_status(window: Window) -> Json:
    return {"start": format_rfc3339(window.start), "end": format_rfc3339(window.end)}


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
    pending = status.get("pendingRun")
    claim = _read_claim(pending) if pending and not ignore_claim else None
    if claim is not None:
        run, not_before = claim
        if not_before is not None and not_before > now:
            return Decision()
        return Decision(run)
    # A claim that cannot be read (a status edited by hand) is dropped: the next claim replaces it.
    run_now = schedule.annotations.get(api.ANNOTATION_RUN_NOW)
    if run_now and run_now != (status.get("runNow") or {}).get("value") and not ignore_claim:
        at = _whole_seconds(now)
        return Decision(
            DueRun("run-now", at, window_ending(schedule.spec, at), run_now_value=run_now)
        )
    if schedule.spec.suspend:
        return Decision()
    spec = schedule.spec
    last = status.get("lastScheduleTime")
    deadline = spec.starting_deadline_seconds
    plan = plan_runs(
        spec.schedule,
        spec.zone,
        after=parse_rfc3339(last) if last else schedule.created,
        now=now,
        settle=spec.window.settle,
        deadline=timedelta(seconds=deadline) if deadline is not None else None,
        catch_up=spec.catch_up,
    )
    if plan.run is None:
        return Decision(None, plan.skipped)
    return Decision(DueRun("schedule", plan.run, window_ending(spec, plan.run)), plan.skipped)


def _read_claim(pending: object) -> tuple[DueRun, datetime | None] | None:
    if not isinstance(pending, dict):
        return None
    try:
        not_before = pending.get("notBefore")
        return DueRun.from_status(pending), parse_rfc3339(not_before) if not_before else None
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def due_run(schedule: Schedule, now: datetime) -> DueRun | None:
    return decide(schedule, now).run


def skipped_status(schedule: Schedule, skipped: tuple[Skipped, ...], now: datetime) -> Json:
    """Record skipped cron times once: lastScheduleTime moves past them, history says why."""
    if not skipped:
        return {}
    history = schedule.status.get("history")
    for group in skipped:
        message = (
            f"skipped {group.count} run(s) from {format_rfc3339(group.first)}"
            f" to {format_rfc3339(group.last)}"
        )
        entry = {
            "window": _window_status(window_ending(schedule.spec, group.last)),
            "trigger": "schedule",
            "result": "Skipped",
            "reason": group.reason,
            "message": message,
            "finishedAt": format_rfc3339(now),
        }
        history = push_history(history, entry, schedule.spec.history_limit)
    return {
        "lastScheduleTime": format_rfc3339(max(group.last for group in skipped)),
        "history": history,
    }


def next_schedule_time(schedule: Schedule, now: datetime) -> datetime | None:
    if schedule.spec.suspend:
        return None
    return next_run(schedule.spec.schedule, schedule.spec.zone, now)


def spec_status(schedule: Schedule, now: datetime) -> Json:
    """Status for a valid spec: Ready, observedGeneration and the next run."""
    suspended = schedule.spec.suspend
    upcoming = next_schedule_time(schedule, now)
    return {
        "observedGeneration": schedule.generation,
        "nextScheduleTime": format_rfc3339(upcoming) if upcoming else None,
        "conditions": set_condition(
            schedule.status.get("conditions"),
            type=api.CONDITION_READY,
            status=True,
            reason=api.REASON_SUSPENDED if suspended else api.REASON_SCHEDULED,
            message="suspended: no runs until resumed"
            if suspended
            else f"next run at {format_rfc3339(upcoming) if upcoming else 'never'}",
            generation=schedule.generation,
            now=now,
        ),
    }


def invalid_spec_status(body: Json, error: InvalidSpec, now: datetime) -> Json:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    return {
        "observedGeneration": meta.get("generation"),
        "nextScheduleTime": None,
        "conditions": set_condition(
            status.get("conditions"),
            type=api.CONDITION_READY,
            status=False,
            reason=error.reason,
            message=str(error),
            generation=meta.get("generation"),
            now=now,
        ),
    }


def replaced_status(schedule: Schedule, run: DueRun, now: datetime) -> Json:
    """concurrencyPolicy Replace cancelled `run` for a newer one; its window is given up."""
    entry = {
        "window": _window_status(run.window),
        "trigger": run.trigger,
        "result": "Replaced",
        "reason": "ConcurrencyPolicy",
        "message": "cancelled for a newer run (concurrencyPolicy: Replace)",
        "finishedAt": format_rfc3339(now),
    }
    return _finish(schedule, run, now, entry)


def claim_status(run: DueRun, state: str = "Running") -> Json:
    claim = run.to_status()
    claim["state"] = state
    return {"pendingRun": claim}


def _finish(schedule: Schedule, run: DueRun, now: datetime, entry: Json) -> Json:
    patch: Json = {
        "pendingRun": None,
        "history": push_history(schedule.status.get("history"), entry, schedule.spec.history_limit),
    }
    if run.trigger == "schedule":
        patch["lastScheduleTime"] = format_rfc3339(run.scheduled_time)
    else:
        patch["runNow"] = {"value": run.run_now_value, "handledAt": format_rfc3339(now)}
    upcoming = next_schedule_time(schedule, now)
    patch["nextScheduleTime"] = format_rfc3339(upcoming) if upcoming else None
    return patch


def outcome_status(schedule: Schedule, run: DueRun, outcome: ReportOutcome, now: datetime) -> Json:
    report = outcome.report
    outputs = [
        {
            "type": result.type,
            "location": result.location,
            "result": "Delivered" if result.ok else "Failed",
            **({"message": result.message[:512]} if result.message else {}),
            **({"url": result.url} if result.url else {}),
            **(
                {"urlExpiresAt": format_rfc3339(result.url_expires_at)}
                if result.url_expires_at
                else {}
            ),
        }
        for result in outcome.outputs
    ]
    restarts = report.restarts.total
    summary: Json = {
        "status": report.status,
        "availabilityPercent": f"{report.availability.percent:.3f}"
        if report.availability.percent is not None
        else None,
        "restarts": restarts,
        "rescales": report.scaling.rescales,
        "dataGaps": len(report.data_gaps),
    }
    last_report: Json = {
        "window": _window_status(run.window),
        "generatedAt": format_rfc3339(report.generated_at),
        "trigger": run.trigger,
        "outputs": outputs,
        "summary": summary,
    }
    result = "Succeeded" if outcome.delivered else "Failed"
    if outcome.delivered and outcome.degraded:
        result = "Degraded"
    entry = {
        "window": _window_status(run.window),
        "trigger": run.trigger,
        "result": result,
        "finishedAt": format_rfc3339(now),
        "outputs": outputs,
    }
    conditions = schedule.status.get("conditions")
    if outcome.delivered:
        conditions = set_condition(
            conditions,
            type=api.CONDITION_READY,
            status=True,
            reason=api.REASON_REPORT_DELIVERED,
            message=f"report for {_window_status(run.window)['end']} delivered to "
            + ", ".join(o["location"] for o in outputs),
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
    patch = _finish(schedule, run, now, entry)
    patch.update(
        lastReport=last_report, lastSuccessfulTime=format_rfc3339(now), conditions=conditions
    )
    return patch


def failed_attempt_status(
    schedule: Schedule,
    run: DueRun,
    now: datetime,
    *,
    reason: str,
    message: str,
    conditions: list[Json] | None = None,
    last_report: Json | None = None,
) -> Json:
    """Retry with backoff; after MAX_ATTEMPTS the window is recorded as failed and let go."""
    attempts = run.attempts + 1
    conditions = set_condition(
        conditions if conditions is not None else schedule.status.get("conditions"),
        type=api.CONDITION_READY,
        status=False,
        reason=reason,
        message=f"attempt {attempts} of {MAX_ATTEMPTS}: {message}",
        generation=schedule.generation,
        now=now,
    )
    patch: Json = {"conditions": conditions}
    if last_report is not None:
        patch["lastReport"] = last_report
    if attempts < MAX_ATTEMPTS:
        delay = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
        retry = DueRun(run.trigger, run.scheduled_time, run.window, run.run_now_value, attempts)
        patch["pendingRun"] = retry.to_status(not_before=now + delay)
        return patch
    entry = {
        "window": _window_status(run.window),
        "trigger": run.trigger,
        "result": "Failed",
        "reason": reason,
        "message": message[:512],
        "finishedAt": format_rfc3339(now),
    }
    patch.update(_finish(schedule, run, now, entry))
    return patch
