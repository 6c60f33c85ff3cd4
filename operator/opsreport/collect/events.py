"""Kubernetes Events about scaling and failures, from core/v1 and events.k8s.io/v1.

Both APIs serve the same store, so most events arrive twice; one event series is one
(object, reason, first time, message): the message too, so that "Scaled up replica set A" and
"Scaled down replica set B" in the same second stay two. Only the reasons below are kept, folded
page by page.

An event series says how often it happened (`count`) between its first and last time, not when
each occurrence was. A series inside the window counts exactly; one that straddles an edge is in
the window (its first or last occurrence is), but how many of its occurrences are is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opsreport.kube import Json
from opsreport.model.report import FailureEvents, KubeEvent
from opsreport.scheduling import Window, parse_rfc3339

SCALING_REASONS = frozenset({"SuccessfulRescale", "ScalingReplicaSet"})
FAILURE_REASONS = frozenset(
    {"BackOff", "Unhealthy", "FailedScheduling", "Evicted", "OOMKilling", "FailedMount"}
)
MAX_SCALING_ROWS = 100
MAX_FAILURE_ROWS = 50
_MESSAGE_CHARS = 300

EventKey = tuple[str, str, str, str, str, str]  # kind, namespace, name, reason, first, message


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def _count(*values: object) -> int:
    for value in values:
        if isinstance(value, int) and value > 0:
            return value
    return 1


def normalize(event: Json) -> KubeEvent | None:
    """One event of either API as a KubeEvent (without its window count), or None to skip."""
    reason = str(event.get("reason") or "")
    if reason not in SCALING_REASONS and reason not in FAILURE_REASONS:
        return None
    meta = event.get("metadata") or {}
    about = event.get("involvedObject") or event.get("regarding") or {}
    series = event.get("series") or {}
    first = (
        _time(event.get("firstTimestamp"))
        or _time(event.get("deprecatedFirstTimestamp"))
        or _time(event.get("eventTime"))
        or _time(meta.get("creationTimestamp"))
    )
    last = (
        _time(event.get("lastTimestamp"))
        or _time(event.get("deprecatedLastTimestamp"))
        or _time(series.get("lastObservedTime"))
        or first
    )
    return KubeEvent(
        namespace=str(about.get("namespace") or meta.get("namespace") or ""),
        kind=str(about.get("kind") or ""),
        name=str(about.get("name") or ""),
        reason=reason,
        type=event.get("type"),
        message=str(event.get("message") or event.get("note") or "")[:_MESSAGE_CHARS],
        count=_count(event.get("count"), event.get("deprecatedCount"), series.get("count")),
        first_time=first,
        last_time=last,
    )


def place(event: KubeEvent, window: Window) -> bool:
    """Set `count_in_window`; False when the series lies outside the window."""
    first, last = event.first_time, event.last_time
    if first is None or last is None or first > window.end or last < window.start:
        return False
    inside = first >= window.start and last <= window.end
    event.count_in_window = event.count if inside else None
    return True


@dataclass
class EventFold:
    """Events seen so far, deduplicated; holds only events of the kept reasons."""

    window: Window
    events: dict[EventKey, KubeEvent] = field(default_factory=dict)

    def add(self, raw: Json) -> None:
        event = normalize(raw)
        if event is None or not place(event, self.window):
            return
        first = event.first_time.isoformat() if event.first_time else ""
        key = (event.kind, event.namespace, event.name, event.reason, first, event.message)
        seen = self.events.get(key)
        # The two APIs may show one series at slightly different moments: keep the later view.
        if seen is None or (event.count, event.last_time or first) > (
            seen.count,
            seen.last_time or first,
        ):
            self.events[key] = event

    def scaling(self) -> list[KubeEvent]:
        rows = [e for e in self.events.values() if e.reason in SCALING_REASONS]
        rows.sort(key=_newest_first)
        return rows[:MAX_SCALING_ROWS]

    def failures(self) -> FailureEvents:
        rows = [e for e in self.events.values() if e.reason in FAILURE_REASONS]
        by_reason: dict[str, int] = {}
        for event in rows:
            known = event.count_in_window if event.count_in_window is not None else 1
            by_reason[event.reason] = by_reason.get(event.reason, 0) + known
        rows.sort(key=lambda e: (-e.count, *_newest_first(e)))
        return FailureEvents(
            by_reason=dict(sorted(by_reason.items())),
            exact=all(e.count_in_window is not None for e in rows),
            top=rows[:MAX_FAILURE_ROWS],
            series=len(rows),
        )


def _newest_first(event: KubeEvent) -> tuple[float, str, str, str, str]:
    # The message breaks ties, so the order does not depend on the order of the lists' pages.
    last = event.last_time.timestamp() if event.last_time else 0.0
    return (-last, event.namespace, event.name, event.reason, event.message)
