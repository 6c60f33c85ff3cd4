"""Fuzzing what users write: every spec ends in a parsed spec or InvalidSpec naming a field, and
every valid one in a status the API accepts (JSON, conditions with reasons); never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsreport.checks import scope_violation
from opsreport.config import OperatorConfig
from opsreport.model.spec import InvalidSpec, parse_spec
from opsreport.model.status import ReportScheduleStatus
from opsreport.reconcile import (
    decide,
    invalid_spec_status,
    next_schedule_time,
    parse_schedule,
    spec_status,
)
from tests.support.kube_emulator import _merge_patch as merge_patch
from tests.unit.test_status import status_validator

T = TypeVar("T")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
cron_fields = st.sampled_from(["*", "0", "*/5", "1-5", "7", "59", "60", "MON", "L", "1,2", "?", ""])
crons = st.one_of(
    st.lists(cron_fields, min_size=4, max_size=6).map(" ".join),
    st.sampled_from(["@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@reboot", "@nope"]),
    st.text(max_size=20),
)
zones = st.sampled_from(
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Nowhere/Land",
        "",
        "../etc",
        "utc",
    ]
)
durations = st.one_of(
    st.sampled_from(["24h", "7d", "1h30m", "0h", "367d", "366d", "90s", "", "1x", "-1h"]),
    st.text(alphabet="0123456789dhms", max_size=8),
)
windows = st.fixed_dictionaries(
    {},
    optional={
        "duration": durations | json_values,
        "calendar": st.sampled_from(["day", "week", "month", "year"]) | json_values,
        "settleSeconds": st.integers(min_value=-10, max_value=100_000) | json_values,
    },
)
names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True) | st.text(max_size=70)
selectors = st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
        "matchExpressions": st.lists(
            st.fixed_dictionaries(
                {
                    "key": st.text(max_size=10),
                    "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Bad"]),
                },
                optional={"values": st.lists(st.text(max_size=8), max_size=3)},
            ),
            max_size=2,
        ),
    },
)
specs = st.fixed_dictionaries(
    {},
    optional={
        "schedule": crons | json_values,
        "timeZone": zones | json_values,
        "window": windows | json_values,
        "suspend": st.booleans() | json_values,
        "catchUp": st.sampled_from(["All", "Latest", "None", "Some"]),
        "startingDeadlineSeconds": st.integers(min_value=-5, max_value=40_000_000),
        "concurrencyPolicy": st.sampled_from(["Forbid", "Replace", "Allow"]),
        "historyLimit": st.integers(min_value=-1, max_value=200),
        "formats": st.lists(st.sampled_from(["markdown", "html", "json", "pdf"]), max_size=4),
        "scope": st.fixed_dictionaries(
            {}, optional={"namespaces": st.lists(names, max_size=3), "selector": selectors}
        ),
        "title": st.text(max_size=300),
        "outputs": st.lists(
            st.sampled_from([{"configMap": {}}, {"configMap": {"keep": 0}}, {}, {"s3": {}}]),
            max_size=2,
        ),
        "kpis": st.lists(
            st.fixed_dictionaries({"name": st.text(max_size=10), "query": st.text(max_size=30)}),
            max_size=2,
        ),
        "unknownField": json_values,
    },
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
statuses = st.fixed_dictionaries(
    {},
    optional={
        "lastScheduleTime": st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-29T01:30:00Z"]),
        "runNow": st.fixed_dictionaries({"value": st.text(max_size=5)}),
        "conditions": st.just([{"type": "Ready", "status": "True", "reason": "Scheduled"}]),
    },
)


def body(spec: Any, status: dict[str, Any] | None = None, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "shop",
            "name": "fuzzed",
            "generation": 3,
            "creationTimestamp": "2026-02-01T00:00:00Z",
            "annotations": annotations,
        },
        "spec": spec,
        "status": status or {},
    }


def assert_status(before: dict[str, Any], patch: ReportScheduleStatus) -> None:
    status = merge_patch(before, patch.patch())
    json.dumps(status)  # the API takes JSON: no datetimes, no objects
    status_validator().validate(status)
    for condition in status.get("conditions", []):
        assert condition["status"] in ("True", "False")
        assert condition["reason"].isalnum()
        assert len(condition["message"]) <= 1024


def outcome(call: Callable[[], T]) -> T | InvalidSpec:
    """The result, or the InvalidSpec it raised; any other exception fails the test."""
    try:
        return call()
    except InvalidSpec as error:
        return error


def assert_invalid(error: InvalidSpec) -> None:
    assert error.field.startswith("spec")
    assert error.reason.isalnum()


@FUZZ
@given(raw=json_values)
def test_anything_at_all_is_a_spec_or_invalid(raw: Any) -> None:
    result = outcome(lambda: parse_spec(raw if isinstance(raw, dict) else {"schedule": raw}))
    if isinstance(result, InvalidSpec):
        assert_invalid(result)


@FUZZ
@given(spec=specs, now=instants, status=statuses, run_now=st.text(max_size=5))
def test_a_spec_ends_in_a_valid_status_or_invalid_spec(
    spec: dict[str, Any], now: datetime, status: dict[str, Any], run_now: str
) -> None:
    annotations = {"opsreport.dev/run-now": run_now} if run_now else {}
    obj = body(spec, status, **annotations)
    schedule = outcome(lambda: parse_schedule(obj))
    if isinstance(schedule, InvalidSpec):
        assert_invalid(schedule)
        assert_status(status, invalid_spec_status(obj, schedule, now))
        return
    assert_status(status, spec_status(schedule, now))
    violation = scope_violation(schedule, OperatorConfig())
    if violation is not None:
        assert_invalid(violation)
        assert_status(status, invalid_spec_status(obj, violation, now))
    decision = decide(schedule, now)
    if decision.run is not None:
        assert decision.run.window.start < decision.run.window.end
        assert decision.run.window.end <= now + timedelta(seconds=1)
    upcoming = next_schedule_time(schedule, now)
    assert upcoming is None or upcoming > now


@pytest.mark.parametrize(
    "pending",
    [
        {"window": {}},
        {"trigger": "schedule", "scheduledTime": "yesterday", "window": {}},
        "garbage",
        {"notBefore": "later"},
    ],
)
def test_a_corrupted_claim_is_judged_not_raised(pending: Any) -> None:
    spec = {"schedule": "@daily", "window": {"duration": "1h"}}
    schedule = parse_schedule(body(spec, {"pendingRun": pending}))
    decision = decide(schedule, datetime(2026, 3, 1, tzinfo=UTC))
    assert decision.run is None or decision.run.trigger == "schedule"
