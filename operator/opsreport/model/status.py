"""The ReportSchedule status as typed objects, read and written only through this model.

The CRD's status schema is the source of truth: every field it declares is a field here (tests
compare the two). Reading is tolerant, since an older operator or a hand edit may have written
the status: unknown fields are ignored and a value that does not parse is dropped, never raised.

A status patch is a `ReportScheduleStatus` holding only the fields to change; `patch()` dumps the
fields that were set, so a field set to None becomes a JSON null, which a merge patch removes
(`pendingRun: null` gives up a claim), and a field never set is left as the API has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from opsreport.scheduling import Window, format_rfc3339, parse_rfc3339

Json = dict[str, Any]
Trigger = Literal["schedule", "run-now"]
PendingState = Literal["Queued", "Running"]


def _instant(value: object) -> object:
    return parse_rfc3339(value) if isinstance(value, str) else value


# RFC 3339 in UTC with whole seconds on the wire, as kubectl and the printer columns show it.
Timestamp = Annotated[
    datetime,
    Strict(),  # never a number taken for Unix time
    BeforeValidator(_instant),
    PlainSerializer(format_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Status(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Condition(_Status):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: Timestamp | None = None
    observed_generation: int | None = None


class WindowStatus(_Status):
    start: Timestamp | None = None
    end: Timestamp | None = None

    @classmethod
    def of(cls, window: Window) -> WindowStatus:
        return cls(start=window.start, end=window.end)

    def to_window(self) -> Window | None:
        if self.start is None or self.end is None:
            return None
        return Window(self.start, self.end)


class RunNowStatus(_Status):
    value: str | None = None
    handled_at: Timestamp | None = None


class PendingRun(_Status):
    """A claimed run; `attempts` missing means none failed yet."""

    trigger: Trigger | None = None
    scheduled_time: Timestamp | None = None
    window: WindowStatus | None = None
    run_now_value: str | None = None
    attempts: int | None = None
    not_before: Timestamp | None = None
    state: PendingState | None = None


class OutputStatus(_Status):
    type: str | None = None
    location: str | None = None
    result: Literal["Delivered", "Failed"] | None = None
    message: str | None = None
    url: str | None = None
    url_expires_at: Timestamp | None = None


class ReportSummary(_Status):
    status: Literal["ok", "warning", "critical"] | None = None
    availability_percent: str | None = None
    restarts: int | None = None
    rescales: int | None = None
    data_gaps: int | None = None


class LastReport(_Status):
    window: WindowStatus | None = None
    generated_at: Timestamp | None = None
    trigger: str | None = None
    outputs: list[OutputStatus] | None = None
    summary: ReportSummary | None = None


HistoryResult = Literal["Succeeded", "Degraded", "Failed", "Skipped", "Replaced"]


class HistoryEntry(_Status):
    window: WindowStatus | None = None
    trigger: str | None = None
    result: HistoryResult | None = None
    reason: str | None = None
    message: str | None = None
    finished_at: Timestamp | None = None
    outputs: list[OutputStatus] | None = None


class ReportScheduleStatus(_Status):
    observed_generation: int | None = None
    conditions: list[Condition] | None = None
    last_schedule_time: Timestamp | None = None
    last_successful_time: Timestamp | None = None
    next_schedule_time: Timestamp | None = None
    run_now: RunNowStatus | None = None
    pending_run: PendingRun | None = None
    last_report: LastReport | None = None
    history: list[HistoryEntry] | None = None

    @classmethod
    def read(cls, raw: object) -> ReportScheduleStatus:
        """The status as the API has it; what does not parse is left out instead of raised."""
        # Shallow: dropping replaces top-level entries only, so the caller's body stays intact.
        data: Json = dict(raw) if isinstance(raw, dict) else {}
        while True:
            try:
                return cls.model_validate(data, extra="ignore")
            except ValidationError as error:
                if not _drop_invalid(data, error.errors()):
                    return cls()

    def patch(self) -> Json:
        """The merge patch that writes the fields set on this object, nulls included."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


def _drop_invalid(data: Json, errors: list[ErrorDetails]) -> bool:
    """Drop a bad item of a list field (one bad history entry keeps the others), else the field.

    False when nothing could be dropped, so reading always ends.
    """
    fields: set[str] = set()
    items: dict[str, set[int]] = {}
    for error in errors:
        field, *rest = error["loc"]
        if not isinstance(field, str) or field not in data:
            return False
        if rest and isinstance(rest[0], int) and isinstance(data[field], list):
            items.setdefault(field, set()).add(rest[0])
        else:
            fields.add(field)
    for field in fields:
        del data[field]
    for field, bad in items.items():
        if field in data:
            data[field] = [item for index, item in enumerate(data[field]) if index not in bad]
    return True


def set_condition(
    conditions: Sequence[Condition] | None,
    *,
    type: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """A new conditions list with `type` set; lastTransitionTime moves only when status flips."""
    value: Literal["True", "False"] = "True" if status else "False"
    result: list[Condition] = []
    found = False
    for existing in conditions or []:
        if existing.type != type:
            result.append(existing)
            continue
        found = True
        kept = existing.last_transition_time if existing.status == value else None
        result.append(_condition(type, value, reason, message, generation, kept or now))
    if not found:
        result.append(_condition(type, value, reason, message, generation, now))
    return result


def _condition(
    type: str,
    status: Literal["True", "False"],
    reason: str,
    message: str,
    generation: int | None,
    since: datetime,
) -> Condition:
    fields: Json = {}
    if generation is not None:  # else no observedGeneration at all: the CRD has no null there
        fields["observed_generation"] = generation
    return Condition(
        type=type,
        status=status,
        reason=reason,
        message=message[:1024],
        last_transition_time=since,
        **fields,
    )


def push_history(
    history: Sequence[HistoryEntry] | None, entry: HistoryEntry, limit: int
) -> list[HistoryEntry]:
    """Newest first, at most `limit` entries; a rerun of the same window replaces its entry."""
    kept = [item for item in history or [] if item.window != entry.window]
    return [entry, *kept][:limit]
