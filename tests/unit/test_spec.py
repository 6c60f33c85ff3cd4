from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from opsreport.model.spec import InvalidSpec, parse_duration, parse_spec

BASE: dict[str, Any] = {"schedule": "@daily", "window": {"duration": "24h"}}


def spec(**overrides: Any) -> dict[str, Any]:
    return {**BASE, **overrides}


def test_defaults() -> None:
    parsed = parse_spec(BASE)
    assert parsed.time_zone == "UTC"
    assert parsed.formats == ("markdown",)
    assert parsed.template.name == "daily"
    assert parsed.namespaces_for("shop") == ("shop",)
    assert parsed.outputs[0].kind == "configMap"
    assert parsed.window.length == timedelta(hours=24)


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (spec(schedule="61 * * * *"), "spec.schedule", "InvalidSchedule"),
        (spec(timeZone="Mars/Olympus"), "spec.timeZone", "InvalidTimeZone"),
        (spec(timeZone="../../etc/passwd"), "spec.timeZone", "InvalidTimeZone"),
        (spec(window={"duration": "24h", "calendar": "day"}), "spec.window", "InvalidSpec"),
        (spec(window={}), "spec.window", "InvalidSpec"),
        (spec(window={"duration": "yesterday"}), "spec.window.duration", "InvalidSpec"),
        (spec(window={"duration": "400d"}), "spec.window.duration", "InvalidSpec"),
        (spec(window={"calendar": "year"}), "spec.window.calendar", "InvalidSpec"),
        (spec(formats=["pdf"]), "spec.formats[0]", "InvalidSpec"),
        (spec(formats=[]), "spec.formats", "InvalidSpec"),
        (spec(prometheus={"url": "file:///etc/passwd"}), "spec.prometheus.url", "InvalidSpec"),
        (spec(outputs=[{}]), "spec.outputs[0]", "InvalidSpec"),
        (spec(unknown=1), "spec.unknown", "InvalidSpec"),
        ({"window": {"duration": "1h"}}, "spec.schedule", "InvalidSpec"),
    ],
)
def test_invalid_specs_name_the_field(raw: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(raw)
    assert caught.value.field == field
    assert caught.value.reason == reason
    assert str(caught.value).startswith(field)


def test_selector_query_syntax() -> None:
    parsed = parse_spec(
        spec(
            scope={
                "selector": {
                    "matchLabels": {"app": "web", "tier": "front"},
                    "matchExpressions": [
                        {"key": "env", "operator": "In", "values": ["prod", "stage"]},
                        {"key": "canary", "operator": "DoesNotExist"},
                    ],
                }
            }
        )
    )
    assert parsed.scope.selector is not None
    assert parsed.scope.selector.to_query() == "app=web,tier=front,env in (prod,stage),!canary"


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("7d", 604800), ("1h30m", 5400), ("90s", 90)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0h", "h", "1w", "-1h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_duration(text)
