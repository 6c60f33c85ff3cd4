"""Executive-summary sentences built from the data, so the summary can never praise what was not
measured: a missing figure produces a sentence that says it is missing."""

from __future__ import annotations

from opsreport.model.report import ReportData
from opsreport.render.filters import human_duration, latency, percent


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _objective_sentence(report: ReportData) -> str | None:
    missed = [o for o in report.objectives if o.status == "missed"]
    at_risk = [o for o in report.objectives if o.status == "atRisk"]
    if not report.objectives:
        return None
    if not missed and not at_risk:
        return f"All {_plural(len(report.objectives), 'objective')} were met."
    parts = []
    if missed:
        names = ", ".join(o.name or o.metric for o in missed)
        parts.append(f"{len(missed)} of {len(report.objectives)} objectives missed ({names})")
    if at_risk:
        parts.append(f"{len(at_risk)} at risk ({', '.join(o.name or o.metric for o in at_risk)})")
    return "; ".join(parts) + "."


def _traffic_sentence(report: ReportData) -> str | None:
    traffic = report.traffic
    if traffic is None:
        return None
    parts = []
    if traffic.requests is not None:
        parts.append(f"{traffic.requests:,.0f} requests")
    if traffic.error_ratio is not None:
        parts.append(f"{percent(traffic.error_ratio * 100, 3)} of them errors")
    if traffic.latency.p95 is not None:
        parts.append(f"p95 latency {latency(traffic.latency.p95)}")
    return f"Traffic: {', '.join(parts)}." if parts else None


def _incident_sentences(report: ReportData) -> list[str]:
    sentences = []
    if report.incidents:
        longest = max(report.incidents, key=lambda i: i.duration_seconds)
        sentences.append(
            f"{_plural(len(report.incidents), 'incident')}; the longest: {longest.namespace}/"
            f"{longest.job} down for {human_duration(longest.duration_seconds)}."
        )
    if report.alerts:
        firing = [a.name for a in report.alerts if a.firing_at_end]
        still = f"; still firing at the end: {', '.join(firing)}" if firing else ""
        sentences.append(f"{_plural(len(report.alerts), 'alert')} fired{still}.")
    if report.rollouts:
        sentences.append(f"{_plural(len(report.rollouts), 'rollout')} in the window.")
    return sentences


def summary_sentences(report: ReportData) -> list[str]:
    sentences: list[str] = []
    objectives = _objective_sentence(report)
    if objectives:
        sentences.append(objectives)
    availability = report.availability
    if availability.percent is None:
        sentences.append("Availability was not measured (see Data gaps).")
    else:
        failed = (availability.total_scrapes or 0) - (availability.successful_scrapes or 0)
        sentences.append(
            f"Availability was {percent(availability.percent, 3)}"
            f" ({_plural(failed, 'failed scrape')} of {availability.total_scrapes:,})."
        )
    restarts = report.restarts
    if restarts.total is None:
        sentences.append("Restarts in the window were not measured (see Data gaps).")
    elif restarts.total == 0:
        sentences.append("No container restarted in the window.")
    else:
        containers = len(restarts.top)
        reasons = ", ".join(
            f"{reason} {count}"
            for reason, count in sorted(restarts.by_reason.items(), key=lambda i: -i[1])
        )
        sentences.append(
            f"Containers restarted {_plural(restarts.total, 'time')} across "
            f"{_plural(containers, 'container')} (by last termination reason: {reasons})."
        )
    waiting = report.pods.waiting
    if waiting:
        first = waiting[0]
        sentences.append(
            f"{_plural(len(waiting), 'container')} waiting now,"
            f" e.g. {first.namespace}/{first.pod} ({first.reason})."
        )
    over_limit = [
        w
        for w in report.resources.workloads
        if w.memory.max is not None and w.memory.limit and w.memory.max >= 0.9 * w.memory.limit
    ]
    if over_limit:
        names = ", ".join(f"{w.namespace}/{w.name}:{w.container}" for w in over_limit[:3])
        sentences.append(f"Memory peaked at 90% or more of its limit in {names}.")
    for hpa in report.scaling.hpas or []:
        if hpa.rescales and hpa.peak_replicas is not None:
            bounds = f" of {hpa.max_replicas} allowed" if hpa.max_replicas is not None else ""
            sentences.append(
                f"HPA {hpa.namespace}/{hpa.name} rescaled {_plural(hpa.rescales, 'time')},"
                f" peaking at {hpa.peak_replicas} replicas{bounds}."
            )
    traffic = _traffic_sentence(report)
    if traffic:
        sentences.append(traffic)
    sentences.extend(_incident_sentences(report))
    if report.data_gaps:
        sections = ", ".join(sorted({gap.section for gap in report.data_gaps}))
        sentences.append(f"Some data is missing ({sections}); see Data gaps.")
    return sentences
