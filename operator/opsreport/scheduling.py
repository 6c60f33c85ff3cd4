"""Scheduling maths: pure functions of a cron expression, a time zone and instants.

All instants passed in and returned are timezone-aware; returned ones are UTC. Cron is evaluated
in the schedule's zone by cronsim, which follows cron's DST rules: a time skipped by a
spring-forward runs once just after the gap, and a fixed time repeated by a fall-back runs once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The one real clock; everything else takes a `Clock` so tests can drive time."""
    return datetime.now(UTC)


class CronError(ValueError):
    pass


_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Far enough to find the next run of any valid expression (e.g. `0 0 29 2 *` within 8 years).
_SEARCH_HORIZON = timedelta(days=366 * 8 + 2)


def parse_cron(expression: str) -> str:
    """Return the 5-field form of `expression`, or raise CronError saying what is wrong."""
    text = " ".join(expression.split())
    text = _MACROS.get(text.lower(), text)
    if text.startswith("@"):
        raise CronError(f"unknown macro {expression!r}; use @hourly, @daily, @weekly or @monthly")
    if len(text.split(" ")) != 5:
        raise CronError(f"{expression!r} must have 5 fields: minute hour day month weekday")
    try:
        probe = CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
        next(probe)
    except CronSimError as error:
        raise CronError(f"{expression!r}: {error}") from None
    except StopIteration:
        raise CronError(f"{expression!r} never fires") from None
    return text


def _iterate(expression: str, zone: ZoneInfo, start: datetime) -> Iterator[datetime]:
    local = start.astimezone(zone)
    # cronsim ignores seconds and microseconds in the start and compares whole minutes.
    for fire in CronSim(parse_cron(expression), local):
        yield fire.astimezone(UTC)


def next_run(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first scheduled instant strictly after `after`."""
    for fire in _iterate(expression, zone, after):
        if fire > after:
            return fire
        if fire - after > _SEARCH_HORIZON:
            break
    raise CronError(f"{expression!r} has no run after {after.isoformat()}")


def runs_between(
    expression: str, zone: ZoneInfo, after: datetime, until: datetime, limit: int = 1000
) -> list[datetime]:
    """Scheduled instants in (after, until], oldest first, at most `limit` of the newest."""
    runs: list[datetime] = []
    for fire in _iterate(expression, zone, after):
        if fire <= after:
            continue
        if fire > until:
            break
        runs.append(fire)
    return runs[-limit:]


@dataclass(frozen=True)
class Window:
    """A half-open report window [start, end) in UTC."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def previous(self) -> Window:
        return Window(self.start - (self.end - self.start), self.start)


Period = Literal["day", "week", "month"]


def _period_start(local: datetime, period: Period) -> datetime:
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day


def _step_back(local_start: datetime, period: Period) -> datetime:
    if period == "day":
        previous = local_start - timedelta(days=1)
    elif period == "week":
        previous = local_start - timedelta(days=7)
    elif local_start.month == 1:
        previous = local_start.replace(year=local_start.year - 1, month=12)
    else:
        previous = local_start.replace(month=local_start.month - 1)
    return previous


def _at_local_midnight(naive_day: datetime, zone: ZoneInfo) -> datetime:
    # Wall-clock arithmetic on naive values, then localise: a DST day is 23 or 25 hours long.
    return naive_day.replace(tzinfo=zone).astimezone(UTC)


def rolling_window(end: datetime, length: timedelta) -> Window:
    return Window(end.astimezone(UTC) - length, end.astimezone(UTC))


def calendar_window(at: datetime, period: Period, zone: ZoneInfo) -> Window:
    """The whole calendar period before the one containing `at`, in `zone`."""
    local = at.astimezone(zone).replace(tzinfo=None)
    current = _period_start(local, period)
    previous = _step_back(current, period)
    return Window(_at_local_midnight(previous, zone), _at_local_midnight(current, zone))


def format_rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


CatchUp = Literal["All", "Latest", "None"]

# With catchUp None, a run this late after its time (plus settle) counts as missed: a healthy
# operator claims a due run within one tick (5 s), even when the run then waits for a slot.
ON_TIME = timedelta(seconds=60)
# Bounds the work of one decision after a very long downtime; older times count as skipped.
MAX_SCAN = 20_000


@dataclass(frozen=True)
class Skipped:
    """Cron times given up, with why: StartingDeadlineExceeded or CatchUpPolicy."""

    reason: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Plan:
    run: datetime | None = None
    skipped: tuple[Skipped, ...] = ()


def _group(reason: str, times: list[datetime]) -> tuple[Skipped, ...]:
    return (Skipped(reason, len(times), times[0], times[-1]),) if times else ()


def plan_runs(
    expression: str,
    zone: ZoneInfo,
    *,
    after: datetime,
    now: datetime,
    settle: timedelta,
    deadline: timedelta | None,
    catch_up: CatchUp,
) -> Plan:
    """Which cron time in (after, now - settle] to run now, and which to give up.

    A time T may run once its window has settled (now >= T + settle). It has expired when
    `deadline` is set and now > T + settle + deadline. `All` runs the oldest live time first,
    `Latest` only the newest, `None` only a time that is not late; the rest are skipped.
    """
    eligible = runs_between(expression, zone, after, now - settle, limit=MAX_SCAN)

    def expired(fire: datetime) -> bool:
        return deadline is not None and now > fire + settle + deadline

    stale = [fire for fire in eligible if expired(fire)]
    live = [fire for fire in eligible if not expired(fire)]
    skipped = _group("StartingDeadlineExceeded", stale)
    if not live:
        return Plan(None, skipped)
    if catch_up == "All":
        return Plan(live[0], skipped)
    newest = live[-1]
    if catch_up == "None" and now > newest + settle + ON_TIME:
        return Plan(None, skipped + _group("CatchUpPolicy", live))
    return Plan(newest, skipped + _group("CatchUpPolicy", live[:-1]))
