"""Level-based decisions: what is due, from the object and the time alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opsreport.deliver.base import OutputResult
from opsreport.model.report import DataGap, ReportData, ScheduleRef, ScopeData, WindowData
from opsreport.pipeline import ReportOutcome
from opsreport.reconcile import (
    MAX_ATTEMPTS,
    DueRun,
    claim_status,
    decide,
    failed_attempt_status,
    outcome_status,
    parse_schedule,
    replaced_status,
    running_status,
    skipped_status,
    spec_status,
)
from opsreport.scheduling import Window
from tests.support.kube_emulator import _merge_patch as merge_patch
from tests.unit.test_status import status_validator

CREATED = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)


def body(
    status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "daily",
            "namespace": "shop",
            "uid": "u-1",
            "generation": 2,
            "creationTimestamp": "2026-11-20T10:00:30Z",
            "annotations": annotations or {},
        },
        "spec": {"schedule": "0 6 * * *", "window": {"duration": "24h"}, **spec},
        "status": status or {},
    }


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_nothing_due_before_the_first_cron_time_after_creation() -> None:
    assert decide(parse_schedule(body()), at(21, 5, 59)).run is None


def test_the_latest_missed_time_runs_once() -> None:
    schedule = parse_schedule(body())
    run = decide(schedule, at(22, 9)).run  # 21st and 22nd 06:00 both passed: the latest runs
    assert run is not None
    assert run.trigger == "schedule"
    assert run.scheduled_time == at(22, 6)
    assert run.window == Window(at(21, 6), at(22, 6))
    done = parse_schedule(body(status={"lastScheduleTime": "2026-11-22T06:00:00Z"}))
    assert decide(done, at(22, 9)).run is None


def test_suspend_stops_scheduled_runs_but_not_run_now() -> None:
    suspended = parse_schedule(body(suspend=True))
    assert decide(suspended, at(22, 9)).run is None
    asked = parse_schedule(body(suspend=True, annotations={"opsreport.dev/run-now": "a"}))
    run = decide(asked, at(22, 9, 30)).run
    assert run is not None
    assert run.trigger == "run-now"
    assert run.run_now_value == "a"
    assert run.window.end == at(22, 9, 30)


def test_each_run_now_value_runs_once() -> None:
    handled = parse_schedule(
        body(
            annotations={"opsreport.dev/run-now": "a"},
            status={"runNow": {"value": "a"}, "lastScheduleTime": "2026-11-22T06:00:00Z"},
        )
    )
    assert decide(handled, at(22, 9)).run is None


def test_a_claimed_run_resumes_with_its_own_window() -> None:
    claim = DueRun("run-now", at(22, 9), Window(at(21, 9), at(22, 9)), run_now_value="a")
    schedule = parse_schedule(body(status=claim_status(claim).patch()))
    resumed = decide(schedule, at(22, 9, 7)).run
    assert resumed == claim


def test_a_failed_attempt_backs_off_then_gives_up() -> None:
    schedule = parse_schedule(body())
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    status = failed_attempt_status(
        schedule, run, at(22, 6, 1), reason="DeliveryFailed", message="x"
    )
    assert status.pending_run is not None
    assert status.pending_run.attempts == 1
    assert status.patch()["pendingRun"]["notBefore"] == "2026-11-22T06:01:30Z"
    assert status.conditions is not None
    assert status.conditions[0].reason == "DeliveryFailed"
    waiting = parse_schedule(body(status=status.patch()))
    assert decide(waiting, at(22, 6, 1)).run is None
    assert decide(waiting, at(22, 6, 2)).run is not None
    last = DueRun("schedule", at(22, 6), run.window, attempts=MAX_ATTEMPTS - 1)
    final = failed_attempt_status(
        schedule, last, at(22, 7), reason="DeliveryFailed", message="x"
    ).patch()
    assert final["pendingRun"] is None
    assert final["lastScheduleTime"] == "2026-11-22T06:00:00Z"
    assert final["history"][0]["result"] == "Failed"


def _outcome(gaps: list[DataGap], ok: bool) -> ReportOutcome:
    report = ReportData(
        title="t",
        schedule=ScheduleRef(namespace="shop", name="daily"),
        window=WindowData(start=at(21, 6), end=at(22, 6)),
        generated_at=at(22, 6, 1),
        scope=ScopeData(namespaces=["shop"]),
        data_gaps=gaps,
    )
    return ReportOutcome(
        report,
        [],
        [
            OutputResult(
                "configMap", "configmap/shop/x", ok=ok, reason="" if ok else "DeliveryFailed"
            )
        ],
    )


def test_a_delivered_report_records_status_and_history() -> None:
    schedule = parse_schedule(body())
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    gap = DataGap(section="availability", source="prometheus", reason="down")
    status = outcome_status(schedule, run, _outcome([gap], ok=True), at(22, 6, 2)).patch()
    assert status["pendingRun"] is None
    assert status["lastScheduleTime"] == "2026-11-22T06:00:00Z"
    assert status["lastSuccessfulTime"] == "2026-11-22T06:02:00Z"
    assert status["nextScheduleTime"] == "2026-11-23T06:00:00Z"
    assert status["lastReport"]["outputs"][0]["location"] == "configmap/shop/x"
    assert status["history"][0]["result"] == "Degraded"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "True"
    assert "availability: down" in conditions["Degraded"]["message"]


def test_an_undelivered_report_is_retried() -> None:
    schedule = parse_schedule(body())
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    status = outcome_status(schedule, run, _outcome([], ok=False), at(22, 6, 2)).patch()
    assert status["pendingRun"]["attempts"] == 1
    assert "lastScheduleTime" not in status


def test_spec_status_keeps_transition_time() -> None:
    first = spec_status(parse_schedule(body()), at(22, 9)).patch()
    later = spec_status(parse_schedule(body(status=first)), at(22, 9) + timedelta(hours=1)).patch()
    assert (
        first["conditions"][0]["lastTransitionTime"] == later["conditions"][0]["lastTransitionTime"]
    )
    assert later["nextScheduleTime"] == "2026-11-23T06:00:00Z"
    assert later["observedGeneration"] == 2


def test_skips_are_recorded_once_and_move_the_anchor() -> None:
    schedule = parse_schedule(
        body(
            schedule="0 * * * *",
            startingDeadlineSeconds=600,
            window={"duration": "1h", "settleSeconds": 0},
        )
    )
    decision = decide(schedule, at(22, 9, 5))
    assert decision.run is not None
    assert decision.run.scheduled_time == at(22, 9)
    (group,) = decision.skipped
    assert group.reason == "StartingDeadlineExceeded"
    assert (group.first, group.last) == (datetime(2026, 11, 20, 11, tzinfo=UTC), at(22, 8))
    status = skipped_status(schedule, decision.skipped, at(22, 9, 5)).patch()
    assert status["lastScheduleTime"] == "2026-11-22T08:00:00Z"
    assert status["history"][0]["result"] == "Skipped"
    assert "skipped 46 run(s)" in status["history"][0]["message"]
    after = parse_schedule(
        body(
            schedule="0 * * * *",
            startingDeadlineSeconds=600,
            window={"duration": "1h", "settleSeconds": 0},
            status=status,
        )
    )
    assert decide(after, at(22, 9, 5)).skipped == ()


def test_replace_sees_a_newer_window_past_the_claim() -> None:
    claim = DueRun("schedule", at(21, 6), Window(at(20, 6), at(21, 6)))
    schedule = parse_schedule(
        body(
            status={
                **claim_status(claim).patch(),
                "lastScheduleTime": "2026-11-20T06:00:00Z",
            },
            concurrencyPolicy="Replace",
            window={"duration": "24h", "settleSeconds": 0},
        )
    )
    assert decide(schedule, at(22, 7)).run == claim
    newer = decide(schedule, at(22, 7), ignore_claim=True).run
    assert newer is not None
    assert newer.scheduled_time == at(22, 6)
    replaced = replaced_status(schedule, claim, at(22, 7)).patch()
    assert replaced["history"][0]["result"] == "Replaced"
    assert replaced["pendingRun"] is None


def test_a_queued_claim_says_so() -> None:
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    assert claim_status(run, "Queued").patch()["pendingRun"]["state"] == "Queued"


def test_a_runs_patches_keep_their_wire_shape_and_the_crds_schema() -> None:
    """Claim, slot, failed attempt, delivery: each patch as the API gets it, and the status
    each leaves behind valid against the CRD."""
    schedule = parse_schedule(body(annotations={"opsreport.dev/run-now": "a"}))
    run = decide(schedule, at(22, 9)).run
    assert run is not None
    window = {"start": "2026-11-21T09:00:00Z", "end": "2026-11-22T09:00:00Z"}
    status: dict[str, Any] = {}

    def write(patch: dict[str, Any]) -> dict[str, Any]:
        nonlocal status, schedule
        status = merge_patch(status, patch)
        status_validator().validate(status)
        schedule = parse_schedule(body(status=status, annotations={"opsreport.dev/run-now": "a"}))
        return patch

    write(spec_status(schedule, at(22, 9)).patch())
    assert write(claim_status(run, "Queued").patch()) == {
        "pendingRun": {
            "trigger": "run-now",
            "scheduledTime": "2026-11-22T09:00:00Z",
            "window": window,
            "attempts": 0,
            # Explicit nulls: the merge patch clears what an earlier claim left.
            "runNowValue": "a",
            "notBefore": None,
            "state": "Queued",
        }
    }
    assert write(running_status().patch()) == {"pendingRun": {"state": "Running"}}
    retry = write(
        failed_attempt_status(
            schedule, run, at(22, 9, 1), reason="DeliveryFailed", message="down"
        ).patch()
    )
    assert set(retry) == {"conditions", "pendingRun"}
    assert retry["pendingRun"] == {  # no state: the claim stays Running as it was
        "trigger": "run-now",
        "scheduledTime": "2026-11-22T09:00:00Z",
        "window": window,
        "attempts": 1,
        "runNowValue": "a",
        "notBefore": "2026-11-22T09:01:30Z",
    }
    assert status["pendingRun"]["state"] == "Running"
    claimed = decide(schedule, at(22, 9, 2)).run
    assert claimed is not None
    done = write(outcome_status(schedule, claimed, _outcome([], ok=True), at(22, 9, 3)).patch())
    assert set(done) == {
        "pendingRun",
        "history",
        "runNow",
        "nextScheduleTime",
        "lastReport",
        "lastSuccessfulTime",
        "conditions",
    }
    assert done["pendingRun"] is None
    assert done["runNow"] == {"value": "a", "handledAt": "2026-11-22T09:03:00Z"}
    assert done["history"] == [
        {
            "window": window,
            "trigger": "run-now",
            "result": "Succeeded",
            "finishedAt": "2026-11-22T09:03:00Z",
            "outputs": [
                {"type": "configMap", "location": "configmap/shop/x", "result": "Delivered"}
            ],
        }
    ]
    assert done["lastReport"]["summary"] == {
        "status": "ok",
        "availabilityPercent": None,
        "restarts": None,
        "rescales": None,
        "dataGaps": 0,
    }
    assert "pendingRun" not in status
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ReportDelivered")
    after = decide(schedule, at(22, 9, 4)).run  # run-now "a" is handled; the cron's own is due
    assert after is not None
    assert after.trigger == "schedule"
