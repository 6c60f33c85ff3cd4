"""ReportSchedule status: conditions that keep their transition times, history and last report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsreport.scheduling import format_rfc3339

Condition = dict[str, Any]


def set_condition(
    conditions: list[Condition] | None,
    *,
    type: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """A new conditions list with `type` set; lastTransitionTime moves only when status flips."""
    value = "True" if status else "False"
    result: list[Condition] = []
    found = False
    for existing in conditions or []:
        if existing.get("type") != type:
            result.append(dict(existing))
            continue
        found = True
        changed = existing.get("status") != value
        result.append(
            _condition(
                type,
                value,
                reason,
                message,
                generation,
                format_rfc3339(now)
                if changed
                else existing.get("lastTransitionTime") or format_rfc3339(now),
            )
        )
    if not found:
        result.append(_condition(type, value, reason, message, generation, format_rfc3339(now)))
    return result


def _condition(
    type: str, status: str, reason: str, message: str, generation: int | None, since: str
) -> Condition:
    condition: Condition = {
        "type": type,
        "status": status,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since,
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def condition_status(conditions: list[Condition] | None, type: str) -> str | None:
    for condition in conditions or []:
        if condition.get("type") == type:
            return str(condition.get("status"))
    return None


def push_history(
    history: list[dict[str, Any]] | None, entry: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Newest first, at most `limit` entries; a rerun of the same window replaces its entry."""
    window = entry.get("window")
    kept = [item for item in history or [] if item.get("window") != window]
    return [entry, *kept][:limit]
