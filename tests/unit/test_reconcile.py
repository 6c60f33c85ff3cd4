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
    due_run,
    failed_attempt_status,
    outcome_status,
    parse_schedule,
    replaced_status,
    skipped_status,
    spec_status,
)
from opsreport.scheduling import Window

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
    assert due_run(parse_schedule(body()), at(21, 5, 59)) is None


def test_the_latest_missed_time_runs_once() -> None:
    schedule = parse_schedule(body())
    run = due_run(schedule, at(22, 9))  # 21st and 22nd 06:00 both passed: the latest runs
    assert run is not None
    assert run.trigger == "schedule"
    assert run.scheduled_time == at(22, 6)
    assert run.window == Window(at(21, 6), at(22, 6))
    done = parse_schedule(body(status={"lastScheduleTime": "2026-11-22T06:00:00Z"}))
    assert due_run(done, at(22, 9)) is None


def test_suspend_stops_scheduled_runs_but_not_run_now() -> None:
    suspended = parse_schedule(body(suspend=True))
    assert due_run(suspended, at(22, 9)) is None
    asked = parse_schedule(body(suspend=True, annotations={"opsreport.dev/run-now": "a"}))
    run = due_run(asked, at(22, 9, 30))
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
    assert due_run(handled, at(22, 9)) is None


def test_a_claimed_run_resumes_with_its_own_window() -> None:
    claim = DueRun("run-now", at(22, 9), Window(at(21, 9), at(22, 9)), run_now_value="a")
    schedule = parse_schedule(body(status={"pendingRun": claim.to_status()}))
    resumed = due_run(schedule, at(22, 9, 7))
    assert resumed == claim


def test_a_failed_attempt_backs_off_then_gives_up() -> None:
    schedule = parse_schedule(body())
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    status = failed_attempt_status(
        schedule, run, at(22, 6, 1), reason="DeliveryFailed", message="x"
    )
    assert status["pendingRun"]["attempts"] == 1
    assert status["pendingRun"]["notBefore"] == "2026-11-22T06:01:30Z"
    assert status["conditions"][0]["reason"] == "DeliveryFailed"
    waiting = parse_schedule(body(status=status))
    assert (
        due_run(
            waiting,
            at(
                22,
                6,
                1,
            ),
        )
        is None
    )
    assert due_run(waiting, at(22, 6, 2)) is not None
    last = DueRun("schedule", at(22, 6), run.window, attempts=MAX_ATTEMPTS - 1)
    final = failed_attempt_status(schedule, last, at(22, 7), reason="DeliveryFailed", message="x")
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
    status = outcome_status(schedule, run, _outcome([gap], ok=True), at(22, 6, 2))
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
    status = outcome_status(schedule, run, _outcome([], ok=False), at(22, 6, 2))
    assert status["pendingRun"]["attempts"] == 1
    assert "lastScheduleTime" not in status


def test_spec_status_keeps_transition_time() -> None:
    first = spec_status(parse_schedule(body()), at(22, 9))
    later = spec_status(parse_schedule(body(status=first)), at(22, 9) + timedelta(hours=1))
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
    status = skipped_status(schedule, decision.skipped, at(22, 9, 5))
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
            status={"pendingRun": claim.to_status(), "lastScheduleTime": "2026-11-20T06:00:00Z"},
            concurrencyPolicy="Replace",
            window={"duration": "24h", "settleSeconds": 0},
        )
    )
    assert decide(schedule, at(22, 7)).run == claim
    newer = decide(schedule, at(22, 7), ignore_claim=True).run
    assert newer is not None
    assert newer.scheduled_time == at(22, 6)
    replaced = replaced_status(schedule, claim, at(22, 7))
    assert replaced["history"][0]["result"] == "Replaced"
    assert replaced["pendingRun"] is None


def test_a_queued_claim_says_so() -> None:
    run = DueRun("schedule", at(22, 6), Window(at(21, 6), at(22, 6)))
    assert claim_status(run, "Queued")["pendingRun"]["state"] == "Queued"
