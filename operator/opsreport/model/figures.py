"""The headline figures: the names collection measures them by and the report's trends carry.

One copy of each name, in the model, so the collector (judge, metrics, pipeline) and the renderer
(the key metrics' Trend column) cannot disagree: a `Trend.figure` is one of these names.
"""

from __future__ import annotations

from dataclasses import dataclass

AVAILABILITY = "availability.percent"
RESTARTS = "restarts.total"
RESCALES = "scaling.rescales"
INCIDENTS = "incidents.count"
DOWNTIME_SECONDS = "incidents.downtimeSeconds"
ALERTS = "alerts.count"
ALERT_SECONDS = "alerts.firingSeconds"
LATENCY_P50 = "traffic.latency.p50"
LATENCY_P95 = "traffic.latency.p95"
LATENCY_P99 = "traffic.latency.p99"
ERROR_RATIO = "traffic.errorRatio"
REQUESTS_PER_SECOND = "traffic.requestsPerSecond"


@dataclass(frozen=True)
class Figure:
    """A headline figure: how it reads, and which way is better (None: neither)."""

    name: str
    unit: str
    higher_is_better: bool | None
    ideal: float | None = None  # the best value, where there is one (100 for availability)


HEADLINES = (
    Figure(AVAILABILITY, "%", True, 100.0),
    Figure(RESTARTS, "", False, 0.0),
    Figure(RESCALES, "", None),
    Figure(INCIDENTS, "", False, 0.0),
    Figure(DOWNTIME_SECONDS, "s", False, 0.0),
    Figure(ALERTS, "", False, 0.0),
    Figure(ALERT_SECONDS, "s", False, 0.0),
    Figure(LATENCY_P50, "s", False, 0.0),
    Figure(LATENCY_P95, "s", False, 0.0),
    Figure(LATENCY_P99, "s", False, 0.0),
    Figure(ERROR_RATIO, "", False, 0.0),
    Figure(REQUESTS_PER_SECOND, "req/s", None),
)
