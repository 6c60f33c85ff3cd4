"""Where `opsreport show` looks: the status's outputs, or the spec's outputs for a window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from opsreport.model.spec import parse_spec
from opsreport.model.status import ReportScheduleStatus
from opsreport.scheduling import Window
from opsreport.show import Candidate, ShowError, latest_candidates, window_candidates

DAY = Window(datetime(2026, 11, 19, 12, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
WINDOW = {"start": "2026-11-19T12:00:00Z", "end": "2026-11-20T12:00:00Z"}
CM = {"type": "configMap", "location": "configmap/shop/d-20261119-1200", "result": "Delivered"}
S3 = {"type": "s3", "location": "s3://r/shop/d/report.md", "result": "Delivered"}
FAILED = {"type": "s3", "location": "s3://r/x", "result": "Failed"}


def spec(**fields: Any) -> Any:
    return parse_spec({"schedule": "@daily", **fields})


def test_latest_is_the_last_reports_delivered_outputs() -> None:
    status = ReportScheduleStatus.read(
        {"lastReport": {"window": WINDOW, "outputs": [FAILED, CM, S3]}}
    )
    assert latest_candidates(status) == [
        Candidate("configMap", DAY, CM["location"]),
        Candidate("s3", DAY, S3["location"]),
    ]


def test_after_a_failed_run_the_newest_successful_one_is_used() -> None:
    older = {"start": "2026-11-18T12:00:00Z", "end": "2026-11-19T12:00:00Z"}
    status = ReportScheduleStatus.read(
        {
            "lastReport": {"window": WINDOW, "outputs": [FAILED]},
            "history": [
                {"window": WINDOW, "result": "Failed", "outputs": [FAILED]},
                {"window": older, "result": "Degraded", "outputs": [CM]},
                {"window": WINDOW, "result": "Succeeded", "outputs": [S3]},
            ],
        }
    )
    (found,) = latest_candidates(status)
    assert (found.kind, found.window.start.day) == ("configMap", 18)
    assert latest_candidates(ReportScheduleStatus()) == []


def test_a_window_of_a_rolling_schedule_ends_one_length_later() -> None:
    parsed = spec(
        window={"duration": "24h"}, outputs=[{"configMap": {}}, {"s3": {"bucket": "rep"}}]
    )
    found = window_candidates(parsed, ReportScheduleStatus(), DAY.start)
    assert found == [Candidate("configMap", DAY, output=0), Candidate("s3", DAY, output=1)]


def test_a_window_recorded_in_status_is_taken_as_recorded() -> None:
    parsed = spec(window={"duration": "1h"})
    status = ReportScheduleStatus.read({"lastReport": {"window": WINDOW, "outputs": []}})
    assert window_candidates(parsed, status, DAY.start)[0].window == DAY


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        # October in Berlin has 31 days and a 25-hour one: it starts at 22:00Z, ends at 23:00Z.
        ("month", datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)),
        ("month", datetime(2027, 1, 31, 23, tzinfo=UTC), datetime(2027, 2, 28, 23, tzinfo=UTC)),
        ("week", datetime(2026, 11, 15, 23, tzinfo=UTC), datetime(2026, 11, 22, 23, tzinfo=UTC)),
        ("day", datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)),
    ],
)
def test_a_calendar_window_ends_at_the_next_period(
    period: str, start: datetime, end: datetime
) -> None:
    parsed = spec(window={"calendar": period}, timeZone="Europe/Berlin")
    (found,) = window_candidates(parsed, ReportScheduleStatus(), start)
    assert found.window == Window(start, end)


def test_a_calendar_window_must_start_a_period() -> None:
    parsed = spec(window={"calendar": "month"}, timeZone="Europe/Berlin")
    with pytest.raises(ShowError, match="no month window of this schedule starts at"):
        window_candidates(parsed, ReportScheduleStatus(), DAY.start)
