"""The operator's own Prometheus metrics: one registry of ours, served on `--metrics-port`.

Label sets are bounded: per schedule (namespace, name) where a figure is about one schedule,
otherwise only small fixed sets (result, phase, format, error kind, HTTP method and code). No
label ever carries a window, a time or a free-form message.

Per-schedule gauges are computed at scrape time from what the timer last saw of each schedule
(its status conditions, lastSuccessfulTime, cron period), so they are level-based like the
scheduling itself and survive an operator restart: the first tick restores them from the status.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIServer
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from opsreport import __version__
from opsreport.model.status import ReportScheduleStatus
from opsreport.scheduling import CronError, next_run, parse_rfc3339

RESULTS = ("succeeded", "degraded", "failed", "skipped", "replaced")
PHASES = ("queue", "collect", "render", "deliver")
# A report run takes from well under a second to minutes (a 366-day window on a big cluster).
_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# From a tiny JSON document to the ConfigMap limit and past it (S3 outputs).
_BYTES_BUCKETS = tuple(2**power for power in range(10, 26, 2))
# Enough upcoming runs to see a weekday schedule's weekend gap and a monthly one's longest month.
_PERIOD_SAMPLES = 12

ScheduleKey = tuple[str, str]


@dataclass(frozen=True)
class ScheduleState:
    """What the last tick saw of one schedule; the per-schedule gauges come from this."""

    conditions: tuple[tuple[str, str, str], ...] = ()  # (type, status, reason)
    last_success: float | None = None  # Unix seconds
    created: float | None = None
    period_seconds: float | None = None  # None while suspended or invalid
    generation: int | None = None


def cron_period(expression: str, zone: ZoneInfo, after: datetime) -> float | None:
    """The longest gap between consecutive runs among the next few: the alerting "period".

    The longest, not the next: `0 7 * * 1-5` waits three days over a weekend, and an alert
    on two one-day periods would fire every Sunday.
    """
    try:
        fire = next_run(expression, zone, after)
        longest = timedelta(0)
        for _ in range(_PERIOD_SAMPLES):
            following = next_run(expression, zone, fire)
            longest = max(longest, following - fire)
            fire = following
    except CronError:
        return None
    return longest.total_seconds()


class _ScheduleCollector(Collector):
    def __init__(self, states: Mapping[ScheduleKey, ScheduleState], lock: threading.Lock) -> None:
        self._states = states
        self._lock = lock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            states = dict(self._states)
        by_condition: dict[tuple[str, str, str], int] = {}
        success = GaugeMetricFamily(
            "opsreport_last_success_timestamp_seconds",
            "When each schedule last delivered a report (Unix seconds).",
            labels=["namespace", "schedule"],
        )
        created = GaugeMetricFamily(
            "opsreport_schedule_created_timestamp_seconds",
            "When each schedule was created (Unix seconds).",
            labels=["namespace", "schedule"],
        )
        period = GaugeMetricFamily(
            "opsreport_schedule_period_seconds",
            "The longest gap between a schedule's upcoming runs; absent while suspended.",
            labels=["namespace", "schedule"],
        )
        for (namespace, name), state in sorted(states.items()):
            labels = [namespace, name]
            if state.last_success is not None:
                success.add_metric(labels, state.last_success)
            if state.created is not None:
                created.add_metric(labels, state.created)
            if state.period_seconds is not None:
                period.add_metric(labels, state.period_seconds)
            for condition in state.conditions:
                by_condition[condition] = by_condition.get(condition, 0) + 1
        schedules = GaugeMetricFamily(
            "opsreport_schedules",
            "Schedules by condition type, status and reason.",
            labels=["condition", "status", "reason"],
        )
        for (kind, status, reason), count in sorted(by_condition.items()):
            schedules.add_metric([kind, status, reason], count)
        yield from (success, created, period, schedules)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # unchecked: the families are known only at collection time


class OperatorMetrics:
    """Every metric the operator exports, in a registry of its own (tests make several)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._states: dict[ScheduleKey, ScheduleState] = {}
        self._server: WSGIServer | None = None
        build = Gauge(
            "opsreport_build_info", "The operator's version.", ["version"], registry=registry
        )
        build.labels(__version__).set(1)
        self.reports = Counter(
            "opsreport_reports",
            "Report runs by schedule and result; failed counts attempts, which are retried.",
            ["namespace", "schedule", "result"],
            registry=registry,
        )
        self.phase_seconds = Histogram(
            "opsreport_report_phase_duration_seconds",
            "Time a report run spends in each phase: queue (waiting for a slot), collect, "
            "render, deliver.",
            ["phase"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.report_bytes = Histogram(
            "opsreport_report_size_bytes",
            "Size of each rendered document, by format.",
            ["format"],
            buckets=_BYTES_BUCKETS,
            registry=registry,
        )
        self.prometheus_queries = Counter(
            "opsreport_prometheus_queries",
            "PromQL queries sent (retries of one query count once).",
            registry=registry,
        )
        self.prometheus_errors = Counter(
            "opsreport_prometheus_query_errors",
            "PromQL queries that failed after their retries, by kind: timeout, unreachable, "
            "http (an error status), rejected (Prometheus refused it), malformed (a bad answer).",
            ["kind"],
            registry=registry,
        )
        self.api_requests = Counter(
            "opsreport_kubernetes_api_requests",
            "Requests to the Kubernetes API by method and status code (0: no answer).",
            ["method", "code"],
            registry=registry,
        )
        self.queued = Gauge(
            "opsreport_reports_queued", "Report runs waiting for a slot.", registry=registry
        )
        self.running = Gauge(
            "opsreport_reports_running", "Report runs holding a slot.", registry=registry
        )
        self.slots = Gauge(
            "opsreport_report_slots",
            "The cap on concurrent runs (--max-concurrent-reports).",
            registry=registry,
        )
        registry.register(_ScheduleCollector(self._states, self._lock))

    # --- hooks handed to the pipeline and the clients ----------------------------------------

    def observe_phase(self, phase: str, seconds: float) -> None:
        self.phase_seconds.labels(phase).observe(seconds)

    def observe_query(self, error_kind: str | None) -> None:
        self.prometheus_queries.inc()
        if error_kind is not None:
            self.prometheus_errors.labels(error_kind).inc()

    def observe_api_request(self, method: str, code: int) -> None:
        self.api_requests.labels(method.upper(), str(code)).inc()

    def observe_document(self, fmt: str, size: int) -> None:
        self.report_bytes.labels(fmt).observe(size)

    # --- schedules -----------------------------------------------------------------------------

    def count_run(self, namespace: str, name: str, result: str, runs: int = 1) -> None:
        self.reports.labels(namespace, name, result).inc(runs)

    def delivered(self, namespace: str, name: str, at: datetime) -> None:
        """A report was delivered: the last-success gauge moves now, not at the next tick."""
        key = (namespace, name)
        with self._lock:
            state = self._states.get(key, ScheduleState())
            self._states[key] = replace(state, last_success=at.timestamp())

    def observe_schedule(
        self,
        body: Mapping[str, Any],
        *,
        schedule: str | None,
        zone: ZoneInfo | None,
        suspended: bool,
        now: datetime,
    ) -> None:
        """Record a schedule's object as the timer sees it; `schedule` is None when invalid."""
        meta = body.get("metadata") or {}
        status = ReportScheduleStatus.read(body.get("status"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        conditions = tuple((c.type, c.status, c.reason or "") for c in status.conditions or [])
        generation = meta.get("generation")
        with self._lock:
            previous = self._states.get(key, ScheduleState())
        if schedule is None or zone is None or suspended:
            period = None
        elif previous.generation == generation and previous.period_seconds is not None:
            period = previous.period_seconds  # the cron maths only when the spec changed
        else:
            period = cron_period(schedule, zone, now)
        state = ScheduleState(
            conditions=conditions,
            last_success=(
                status.last_successful_time.timestamp()
                if status.last_successful_time is not None
                else previous.last_success
            ),
            created=_timestamp(meta.get("creationTimestamp")),
            period_seconds=period,
            generation=generation,
        )
        with self._lock:
            self._states[key] = state

    def forget(self, namespace: str, name: str) -> None:
        """The schedule was deleted: drop its series so they do not linger (or alert)."""
        with self._lock:
            self._states.pop((namespace, name), None)
        self.reports.remove_by_labels({"namespace": namespace, "schedule": name})

    # --- the endpoint --------------------------------------------------------------------------

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:  # noqa: S104  (scraped in-cluster)
        """Serve /metrics in a daemon thread; returns the bound port (0 picks a free one)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value).timestamp()
    except ValueError:
        return None
