"""The status model against the CRD's status schema, and reading what older operators wrote."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jsonschema
import pytest

from opsreport.model.status import (
    Condition,
    HistoryEntry,
    ReportScheduleStatus,
    WindowStatus,
    push_history,
    set_condition,
)
from opsreport.scheduling import Window
from opsreport.validate import load_crd, to_json_schema

Json = dict[str, Any]

WINDOW = {"start": "2026-11-21T06:00:00Z", "end": "2026-11-22T06:00:00Z"}
OUTPUT = {
    "type": "s3",
    "location": "s3://reports/shop/daily/report.md",
    "result": "Delivered",
    "message": "retention: 2 old reports not deleted",
    "url": "https://s3.example/reports/shop/daily/report.md?X-Amz-Signature=abc",
    "urlExpiresAt": "2026-11-23T06:00:00Z",
}
# Every field the CRD's status declares, each with a value the API server accepts.
FULL: Json = {
    "observedGeneration": 4,
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "ReportDelivered",
            "message": "report for 2026-11-22T06:00:00Z delivered to s3://reports/x",
            "lastTransitionTime": "2026-11-20T10:00:31Z",
            "observedGeneration": 4,
        }
    ],
    "lastScheduleTime": "2026-11-22T06:00:00Z",
    "lastSuccessfulTime": "2026-11-22T06:05:02Z",
    "nextScheduleTime": "2026-11-23T06:00:00Z",
    "runNow": {"value": "again", "handledAt": "2026-11-21T09:00:00Z"},
    "pendingRun": {
        "trigger": "run-now",
        "scheduledTime": "2026-11-22T09:30:00Z",
        "window": WINDOW,
        "runNowValue": "again-2",
        "attempts": 2,
        "notBefore": "2026-11-22T09:31:30Z",
        "state": "Queued",
    },
    "lastReport": {
        "window": WINDOW,
        "generatedAt": "2026-11-22T06:05:00Z",
        "trigger": "schedule",
        "outputs": [OUTPUT],
        "summary": {
            "status": "warning",
            "availabilityPercent": "99.950",
            "restarts": 3,
            "rescales": 1,
            "dataGaps": 1,
        },
    },
    "history": [
        {
            "window": WINDOW,
            "trigger": "schedule",
            "result": "Failed",
            "reason": "DeliveryFailed",
            "message": "s3: access denied",
            "finishedAt": "2026-11-22T06:05:02Z",
            "outputs": [OUTPUT],
        }
    ],
}


def crd_status_schema() -> Json:
    (version,) = load_crd()["spec"]["versions"]
    schema: Json = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


@cache
def status_validator() -> jsonschema.Draft4Validator:
    # The API's meaning: nullable is a null type, and a declared object takes no other fields.
    return jsonschema.Draft4Validator(to_json_schema(crd_status_schema()))


def field_paths(value: Any, path: str = "") -> set[str]:
    """Every field path a status document sets, list items folded into `[]`."""
    if isinstance(value, dict):
        paths = {path} if path else set()
        for key, child in value.items():
            paths |= field_paths(child, f"{path}.{key}")
        return paths
    if isinstance(value, list):
        return {path}.union(*(field_paths(item, f"{path}[]") for item in value))
    return {path}


def crd_shapes(node: Json, path: str = "") -> dict[str, tuple[Any, ...]]:
    return _shapes(node, path, lambda child: child)


def model_shapes() -> dict[str, tuple[Any, ...]]:
    schema = ReportScheduleStatus.model_json_schema(by_alias=True, mode="serialization")
    definitions: Json = schema.get("$defs", {})

    def resolve(node: Json) -> Json:
        options = [option for option in node.get("anyOf", []) if option.get("type") != "null"]
        if len(options) == 1:  # `X | None`: the field's own shape
            return resolve(options[0])
        if "$ref" in node:
            return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
        return node

    return _shapes(resolve(schema), "", resolve)


def _shapes(node: Json, path: str, resolve: Any) -> dict[str, tuple[Any, ...]]:
    """path → (type, enum, date-time or not, required fields) for every node below `node`."""
    shapes = {
        path: (
            node.get("type"),
            tuple(node.get("enum") or ()),
            node.get("format") == "date-time",
            tuple(sorted(node.get("required") or ())),
        )
    }
    for name, child in (node.get("properties") or {}).items():
        shapes |= _shapes(resolve(child), f"{path}.{name}", resolve)
    if isinstance(node.get("items"), dict):
        shapes |= _shapes(resolve(node["items"]), f"{path}[]", resolve)
    return shapes


def test_the_model_has_exactly_the_crds_status_fields_and_types() -> None:
    crd, model = crd_shapes(crd_status_schema()), model_shapes()
    assert set(crd) - set(model) == set(), "CRD status fields the model lacks"
    assert set(model) - set(crd) == set(), "model fields the CRD's status does not declare"
    assert {path: shape for path, shape in model.items() if crd[path] != shape} == {}


def test_the_shape_comparison_sees_a_drift() -> None:
    crd = crd_status_schema()
    crd["properties"]["pendingRun"]["properties"]["priority"] = {"type": "integer"}
    crd["properties"]["history"]["items"]["properties"]["result"]["enum"].append("Cancelled")
    shapes, model = crd_shapes(crd), model_shapes()
    assert set(shapes) - set(model) == {".pendingRun.priority"}
    assert [path for path, shape in model.items() if shapes[path] != shape] == [".history[].result"]


def test_a_fully_populated_status_is_valid_and_read_without_loss() -> None:
    assert field_paths(FULL) == set(crd_shapes(crd_status_schema())) - {""}
    status_validator().validate(FULL)
    status = ReportScheduleStatus.read(FULL)
    assert status.patch() == FULL
    assert status.pending_run is not None
    assert status.pending_run.not_before == datetime(2026, 11, 22, 9, 31, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("pendingRun", "state"), "Waiting"),
        (("lastReport", "outputs", 0, "bucket"), "reports"),
        (("history", 0, "result"), "Cancelled"),
        (("conditions", 0, "status"), "Maybe"),
    ],
)
def test_the_crd_rejects_what_the_api_server_would(path: tuple[str | int, ...], value: Any) -> None:
    status = ReportScheduleStatus.read(FULL).patch()
    node: Any = status
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        status_validator().validate(status)


def test_a_status_from_an_older_operator_is_read() -> None:
    older = {
        "observedGeneration": 1,
        "lastScheduleTime": "2026-11-20T06:00:00Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Scheduled"}],
        "lastRun": {"window": WINDOW},  # a field this operator no longer has
        "history": [{"window": WINDOW, "result": "Succeeded", "durationSeconds": 12}],
    }
    status = ReportScheduleStatus.read(older)
    assert status.last_schedule_time == datetime(2026, 11, 20, 6, tzinfo=UTC)
    assert status.pending_run is None
    assert status.last_report is None
    assert status.history is not None
    assert status.history[0].result == "Succeeded"
    # What it read is written back as it was, without the fields it does not know.
    assert status.patch() == {
        "observedGeneration": 1,
        "lastScheduleTime": "2026-11-20T06:00:00Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Scheduled"}],
        "history": [{"window": WINDOW, "result": "Succeeded"}],
    }


@pytest.mark.parametrize("raw", [None, "garbage", [], {}])
def test_no_status_at_all_is_an_empty_one(raw: object) -> None:
    assert ReportScheduleStatus.read(raw) == ReportScheduleStatus()


def test_what_does_not_parse_is_dropped_and_the_rest_kept() -> None:
    raw = {
        "pendingRun": {"trigger": "schedule", "notBefore": "later"},
        "lastScheduleTime": 1763791200,  # a number is not a time, whatever it counts
        "history": [
            {"window": WINDOW, "result": "Succeeded"},
            {"window": {"start": "yesterday"}},
            {"result": "Replaced"},
            "garbage",
        ],
        "runNow": {"value": "a"},
    }
    as_written = copy.deepcopy(raw)
    status = ReportScheduleStatus.read(raw)
    assert raw == as_written  # kopf's body is not ours to change
    assert status.pending_run is None
    assert status.last_schedule_time is None
    assert [entry.result for entry in status.history or []] == ["Succeeded", "Replaced"]
    assert status.run_now is not None
    assert status.run_now.value == "a"


def test_a_condition_keeps_its_transition_time_until_its_status_flips() -> None:
    since = datetime(2026, 11, 20, 10, tzinfo=UTC)
    later = since + timedelta(hours=5)
    (ready,) = set_condition(
        None, type="Ready", status=True, reason="Scheduled", message="m", generation=1, now=since
    )
    conditions = [ready, Condition(type="Warning", status="False", reason="NoWarnings")]
    same = set_condition(
        conditions,
        type="Ready",
        status=True,
        reason="ReportDelivered",
        message="x" * 2000,
        generation=2,
        now=later,
    )
    assert same[0].last_transition_time == since
    assert (same[0].reason, same[0].observed_generation, len(same[0].message or "")) == (
        "ReportDelivered",
        2,
        1024,
    )
    assert same[1] is conditions[1]
    flipped = set_condition(
        same, type="Ready", status=False, reason="Failed", message="m", generation=2, now=later
    )
    assert flipped[0].last_transition_time == later


def test_a_condition_without_a_generation_has_no_observed_generation_key() -> None:
    (condition,) = set_condition(
        None,
        type="Ready",
        status=False,
        reason="InvalidSpec",
        message="m",
        generation=None,
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert condition.model_dump(by_alias=True, exclude_unset=True, mode="json") == {
        "type": "Ready",
        "status": "False",
        "reason": "InvalidSpec",
        "message": "m",
        "lastTransitionTime": "2026-11-20T00:00:00Z",
    }


def test_history_is_newest_first_bounded_and_one_entry_per_window() -> None:
    def entry(day: int, result: Any) -> HistoryEntry:
        start = datetime(2026, 11, day, tzinfo=UTC)
        window = WindowStatus.of(Window(start, start + timedelta(days=1)))
        return HistoryEntry(window=window, result=result)

    history = push_history(None, entry(20, "Failed"), 3)
    history = push_history(history, entry(21, "Succeeded"), 3)
    history = push_history(history, entry(20, "Succeeded"), 3)  # the rerun replaces its entry
    assert [(e.window, e.result) for e in history] == [
        (entry(20, "Succeeded").window, "Succeeded"),
        (entry(21, "Succeeded").window, "Succeeded"),
    ]
    assert len(push_history(history, entry(22, "Succeeded"), 2)) == 2


def test_a_patch_holds_only_what_was_set_and_null_removes() -> None:
    assert ReportScheduleStatus().patch() == {}
    assert ReportScheduleStatus(pending_run=None, next_schedule_time=None).patch() == {
        "pendingRun": None,
        "nextScheduleTime": None,
    }


def test_reconcile_decides_without_the_pipeline() -> None:
    # Deciding is pure: importing it must not bring collection, rendering or delivery along.
    code = "import sys, opsreport.reconcile; print('opsreport.pipeline' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
