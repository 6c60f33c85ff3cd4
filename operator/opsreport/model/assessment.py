"""The overall status of a report, derived from its data with every reason spelled out.

With spec.objectives, they judge the service: a missed objective is critical, one at risk or not
measured a warning. Without, availability is judged against the defaults below. Either way an
OOMKill, a crash loop or a section not measured is a warning: a figure that was not measured can
only make a report worse, never better.
"""

from __future__ import annotations

from opsreport.model.numbers import percent
from opsreport.model.report import ObjectiveResult, OverallStatus, ReportData

AVAILABILITY_TARGET = 99.9
AVAILABILITY_CRITICAL = 99.0

_RANK = {"ok": 0, "warning": 1, "critical": 2}


def assess(report: ReportData) -> tuple[OverallStatus, list[str]]:
    status: OverallStatus = "ok"
    reasons: list[str] = []

    def worsen(to: OverallStatus, reason: str) -> None:
        nonlocal status
        if _RANK[to] > _RANK[status]:
            status = to
        reasons.append(reason)

    for objective in report.objectives:
        if objective.status == "missed":
            worsen("critical", f"Objective {objective.name}: {_versus(objective, 'misses')}.")
        elif objective.status == "atRisk":
            worsen(
                "warning",
                f"Objective {objective.name} is at risk: {_versus(objective, 'against')},"
                " most of its budget spent.",
            )
        elif objective.status is None:
            worsen("warning", f"Objective {objective.name} was not measured.")
    availability = None if report.objectives else report.availability.percent
    if availability is not None and availability < AVAILABILITY_CRITICAL:
        worsen(
            "critical",
            f"Availability {percent(availability, 3)} is below {AVAILABILITY_CRITICAL}%.",
        )
    elif availability is not None and availability < AVAILABILITY_TARGET:
        worsen(
            "warning", f"Availability {percent(availability, 3)} is below {AVAILABILITY_TARGET}%."
        )
    oom = report.restarts.by_reason.get("OOMKilled", 0)
    if oom:
        worsen("warning", f"{oom} restart(s) followed an OOMKill.")
    crashlooping = [w for w in report.pods.waiting if w.reason == "CrashLoopBackOff"]
    if crashlooping:
        worsen("warning", f"{len(crashlooping)} container(s) are in CrashLoopBackOff.")
    if report.data_gaps:
        worsen("warning", f"{len(report.data_gaps)} section(s) could not be measured.")
    return status, reasons


def _versus(objective: ObjectiveResult, verb: str) -> str:
    unit = objective.unit if objective.unit in ("%", "s") else ""
    return f"{objective.actual:.6g}{unit} {verb} the target {objective.target:.6g}{unit}"
