"""Events as the API server keeps them: one object, served by core/v1 and events.k8s.io/v1.

The API server stores every Event once and converts it for whichever API reads it, so an Event
written through one API is listed, read, watched, patched and deleted through the other too.
:class:`tests.support.kube_emulator.FaithfulEmulator` mirrors each write of an Event into the
other API's store with :func:`convert_event`, sharing name, uid and resourceVersion.

The field mapping is Kubernetes' own (pkg/apis/events/v1 conversion): ``involvedObject`` is
``regarding``, ``message`` is ``note``, ``source`` ``deprecatedSource``, ``firstTimestamp``,
``lastTimestamp`` and ``count`` are ``deprecatedFirstTimestamp``, ``deprecatedLastTimestamp``
and ``deprecatedCount``, ``reportingComponent`` is ``reportingController``; the rest keep their
names. Fields neither API has are dropped, as the server drops unknown fields.
"""

from __future__ import annotations

from typing import Any

import kmock

CORE_EVENTS = kmock.resource(group="", version="v1", plural="events")
EVENTS_V1 = kmock.resource(group="events.k8s.io", version="v1", plural="events")

# (core/v1 field, events.k8s.io/v1 field)
_RENAMED = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
)
_SAME = ("reason", "type", "eventTime", "series", "action", "related", "reportingInstance")


def event_twin(res: kmock.resource) -> kmock.resource | None:
    """The other API's resource for an Event resource, else None."""
    if res == CORE_EVENTS:
        return EVENTS_V1
    if res == EVENTS_V1:
        return CORE_EVENTS
    return None


def convert_event(obj: dict[str, Any], to: kmock.resource) -> dict[str, Any]:
    """An Event of either API as the API ``to`` (CORE_EVENTS or EVENTS_V1) shows it."""
    to_core = to == CORE_EVENTS
    if not to_core and to != EVENTS_V1:
        raise ValueError(f"not an Event resource: {to!r}")
    out: dict[str, Any] = {
        "apiVersion": "v1" if to_core else "events.k8s.io/v1",
        "kind": "Event",
        "metadata": dict(obj.get("metadata") or {}),
    }
    for core, new in _RENAMED:
        source, target = (new, core) if to_core else (core, new)
        if obj.get(source) is not None:
            out[target] = obj[source]
    for key in _SAME:
        if obj.get(key) is not None:
            out[key] = obj[key]
    # Both APIs serialise an unset eventTime as null; core/v1 always has an involvedObject.
    out.setdefault("eventTime", None)
    if to_core:
        out.setdefault("involvedObject", {})
    return out
