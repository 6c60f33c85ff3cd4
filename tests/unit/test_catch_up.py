"""Missed runs after downtime: catch-up policies, starting deadlines and settle, as pure maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from opsreport.scheduling import ON_TIME, Plan, Skipped, next_run, plan_runs, runs_between

UTCZ = ZoneInfo("UTC")
HOURLY = "0 * * * *"
T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def plan(
    now: datetime,
    catch_up: str,
    *,
    deadline: timedelta | None = None,
    settle: timedelta = timedelta(0),
    after: datetime = T0,
    expression: str = HOURLY,
    zone: ZoneInfo = UTCZ,
) -> Plan:
    return plan_runs(
        expression, zone, after=after, now=now, settle=settle, deadline=deadline, catch_up=catch_up
    )  # type: ignore[arg-type]


def test_nothing_is_due_before_the_next_time() -> None:
    assert plan(T0 + hours(0.9), "Latest") == Plan()


def test_a_cron_time_runs_at_that_very_second() -> None:
    at = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    berlin = ZoneInfo("Europe/Berlin")
    just_before = at - timedelta(seconds=1)
    after = at - hours(30)
    assert plan(at, "Latest", after=after, expression="0 7 * * *", zone=berlin).run == at
    earlier = plan(just_before, "Latest", after=after, expression="0 7 * * *", zone=berlin)
    assert earlier.run == at - hours(24)


@settings(max_examples=100, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham"]),
)
def test_the_run_due_now_and_the_next_one_bracket_now(now: datetime, zone: str) -> None:
    quarterly = "*/15 * * * *"
    local = ZoneInfo(zone)
    due = plan(now, "Latest", after=now - hours(2), expression=quarterly, zone=local).run
    assert due is not None
    following = next_run(quarterly, local, now)
    assert due <= now < following
    assert following - due <= timedelta(minutes=15)


def test_on_time_runs_run_under_every_policy() -> None:
    for policy in ("All", "Latest", "None"):
        assert plan(T0 + hours(1) + timedelta(seconds=5), policy) == Plan(T0 + hours(1))


def test_settle_delays_a_run() -> None:
    settle = timedelta(minutes=5)
    assert plan(T0 + hours(1) + timedelta(minutes=4), "Latest", settle=settle) == Plan()
    assert plan(T0 + hours(1) + timedelta(minutes=5), "Latest", settle=settle).run == T0 + hours(1)


def test_after_downtime_all_runs_oldest_first() -> None:
    assert plan(T0 + hours(3.5), "All") == Plan(T0 + hours(1))


def test_after_downtime_latest_runs_the_newest_and_skips_the_rest() -> None:
    assert plan(T0 + hours(3.5), "Latest") == Plan(
        T0 + hours(3), (Skipped("CatchUpPolicy", 2, T0 + hours(1), T0 + hours(2)),)
    )


def test_after_downtime_none_skips_everything_late() -> None:
    assert plan(T0 + hours(3.5), "None") == Plan(
        None, (Skipped("CatchUpPolicy", 3, T0 + hours(1), T0 + hours(3)),)
    )
    # Within ON_TIME the newest still counts as on time.
    on_time = plan(T0 + hours(3) + ON_TIME, "None")
    assert on_time.run == T0 + hours(3)


def test_a_starting_deadline_expires_old_times_for_all() -> None:
    result = plan(T0 + hours(3.5), "All", deadline=hours(1))
    assert result == Plan(
        T0 + hours(3), (Skipped("StartingDeadlineExceeded", 2, T0 + hours(1), T0 + hours(2)),)
    )


def test_everything_expired_runs_nothing() -> None:
    result = plan(T0 + hours(10) + timedelta(minutes=11), "Latest", deadline=timedelta(minutes=10))
    assert result.run is None
    assert result.skipped == (
        Skipped("StartingDeadlineExceeded", 10, T0 + hours(1), T0 + hours(10)),
    )


def test_dst_repeated_hour_runs_each_wall_time_once() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-25: 02:30 happens twice in Berlin; the daily 02:30 job is one run.
    after = datetime(2026, 10, 24, 12, tzinfo=UTC)
    now = datetime(2026, 10, 26, 12, tzinfo=UTC)
    result = plan_runs(
        "30 2 * * *",
        berlin,
        after=after,
        now=now,
        settle=timedelta(0),
        deadline=None,
        catch_up="All",
    )
    assert result.run == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert len(runs_between("30 2 * * *", berlin, after, now)) == 2


@settings(max_examples=200, deadline=None)
@given(
    missed=st.integers(0, 30),
    late=st.integers(0, 7200),
    deadline=st.one_of(st.none(), st.integers(0, 40 * 3600)),
    settle=st.integers(0, 1800),
    policy=st.sampled_from(["All", "Latest", "None"]),
)
def test_every_due_time_is_run_or_skipped_exactly_once(
    missed: int, late: int, deadline: int | None, settle: int, policy: str
) -> None:
    """Replaying ticks until nothing is due visits each cron time once, in order."""
    now = T0 + hours(missed) + timedelta(seconds=settle + late)
    settle_delta = timedelta(seconds=settle)
    deadline_delta = None if deadline is None else timedelta(seconds=deadline)
    # Independent expectation: every hour in (T0, now - settle].
    due = [T0 + hours(h) for h in range(1, missed + 4) if T0 + hours(h) <= now - settle_delta]
    after, seen, ran = T0, [], []
    for _ in range(len(due) + 2):
        step = plan(now, policy, deadline=deadline_delta, settle=settle_delta, after=after)
        for group in step.skipped:
            seen.extend(runs_between(HOURLY, UTCZ, group.first - timedelta(seconds=1), group.last))
        if step.run is not None:
            seen.append(step.run)
            ran.append(step.run)
        marks = [g.last for g in step.skipped] + ([step.run] if step.run else [])
        if not marks:
            break
        after = max(marks)
    assert sorted(seen) == due
    assert len(seen) == len(set(seen))
    if policy == "All" and deadline is None:
        assert ran == due
    if policy in ("Latest", "None"):
        assert len(ran) <= 1
    for fire in ran:
        assert deadline_delta is None or now <= fire + settle_delta + deadline_delta
