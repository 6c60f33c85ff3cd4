"""Executive-summary sentences built from the data, so the summary can never praise what was not
measured: a missing figure produces a sentence that says it is missing."""

from __future__ import annotations

from opsreport.model.report import ReportData
from opsreport.render.filters import percent


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_sentences(report: ReportData) -> list[str]:
    sentences: list[str] = []
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
        if hpa.rescales:
            bounds = f" of {hpa.max_replicas} allowed" if hpa.max_replicas is not None else ""
            sentences.append(
                f"HPA {hpa.namespace}/{hpa.name} rescaled {_plural(hpa.rescales, 'time')},"
                f" peaking at {hpa.peak_replicas} replicas{bounds}."
            )
    if report.data_gaps:
        sections = ", ".join(sorted({gap.section for gap in report.data_gaps}))
        sentences.append(f"Some data is missing ({sections}); see Data gaps.")
    return sentences
