"""Stretches of time from range queries: incidents (`up == 0`) and firing alerts.

A range query's point at time t stands for [t, t + step). Consecutive points form one stretch
[first, last + step), cut at the window's edges; a window is half-open, [start, end), so the point
at a window's end belongs to the next window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from opsreport.collect.prometheus import Series
from opsreport.model.report import Alert, Incident
from opsreport.scheduling import Window

Stretch = tuple[float, float]  # Unix seconds, [start, end)


def stretches(times: Iterable[float], step: int, window: Window) -> list[Stretch]:
    """Consecutive points as [first, last + step), cut to the window; empty ones dropped."""
    lo, hi = window.start.timestamp(), window.end.timestamp()
    out: list[Stretch] = []
    for t in sorted(times):
        if not lo <= t < hi:
            continue
        if out and abs(t - out[-1][1]) < 1e-6:
            out[-1] = (out[-1][0], min(t + step, hi))
        else:
            out.append((t, min(t + step, hi)))
    return out


def merge(spans: Iterable[Stretch]) -> list[Stretch]:
    """Overlapping or touching stretches as one."""
    merged: list[Stretch] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1e-6:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds), UTC)


def incidents(series: list[Series], step: int, window: Window) -> list[Incident]:
    """Down targets merged per (namespace, job): overlapping outages of one job are one incident."""
    by_job: dict[tuple[str, str], list[tuple[Stretch, str]]] = defaultdict(list)
    for row in series:
        labels = row.labels
        target = labels.get("pod") or labels.get("instance") or "?"
        key = (labels.get("namespace", ""), labels.get("job", ""))
        for span in stretches((t for t, _ in row.points), step, window):
            by_job[key].append((span, target))
    found: list[Incident] = []
    for (namespace, job), spans in by_job.items():
        for start, end in merge(span for span, _ in spans):
            targets = sorted({t for (s, e), t in spans if s < end and e > start})
            found.append(
                Incident(
                    start=_at(start),
                    end=_at(end),
                    duration_seconds=round(end - start),
                    cause=(
                        f"job {job}: {len(targets)} scrape target(s) failed every scrape"
                        f" (up == 0): {', '.join(targets)}"
                    ),
                    namespace=namespace,
                    job=job,
                    targets=targets,
                )
            )
    found.sort(key=lambda i: (i.start, i.namespace, i.job))
    return found


AlertKey = tuple[str, str, str]  # alertname, severity, namespace


def _alert_key(labels: dict[str, str]) -> AlertKey:
    return labels.get("alertname", ""), labels.get("severity", ""), labels.get("namespace", "")


def alert_stretches(
    series: list[Series], step: int, window: Window
) -> dict[AlertKey, list[Stretch]]:
    """Each alert's firing stretches in the window, merged; alerts that did not fire left out."""
    by_alert: dict[AlertKey, list[Stretch]] = defaultdict(list)
    for row in series:
        by_alert[_alert_key(row.labels)].extend(stretches((t for t, _ in row.points), step, window))
    return {key: merge(spans) for key, spans in by_alert.items() if spans}


def alerts(series: list[Series], step: int, window: Window) -> list[Alert]:
    """Firing stretches per (alertname, severity, namespace); `firingAtEnd` when the alert was
    firing at the window's end itself (the range query's last point)."""
    end = window.end.timestamp()
    at_end = {
        _alert_key(row.labels) for row in series if any(abs(t - end) < 1e-6 for t, _ in row.points)
    }
    found: list[Alert] = []
    for (name, severity, namespace), merged in alert_stretches(series, step, window).items():
        found.append(
            Alert(
                name=name,
                severity=severity or None,
                namespace=namespace or None,
                first_firing=_at(merged[0][0]),
                last_firing=_at(merged[-1][1]),
                duration_seconds=round(sum(e - s for s, e in merged)),
                firings=len(merged),
                firing_at_end=(name, severity, namespace) in at_end,
            )
        )
    found.sort(key=lambda a: (-a.duration_seconds, a.name, a.namespace or ""))
    return found


@dataclass(frozen=True)
class HistoryTotals:
    """What a trend compares: how many, and for how long."""

    count: int
    seconds: int


def incident_totals(found: list[Incident]) -> HistoryTotals:
    return HistoryTotals(len(found), sum(i.duration_seconds for i in found))


def alert_totals(found: list[Alert]) -> HistoryTotals:
    return HistoryTotals(len(found), sum(a.duration_seconds for a in found))
