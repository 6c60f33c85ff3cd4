"""The registry of the report's Prometheus sections: the collection runs it, and the query
budget, the headline figures and the data-gap sections are read from it.

Order matters twice: `figures` steps start in this order and `follow_up` steps after them, which
is the order the report lists its queries in; and the trends query joins the sections' parts in
this order.
"""

from __future__ import annotations

from opsreport.collect.sections import (
    alerts,
    availability,
    deployments,
    incidents,
    kpis,
    resources,
    restarts,
    scaling,
    traffic,
    trends,
)
from opsreport.collect.sections.base import Headline, Plan, Section

REGISTRY: tuple[Section, ...] = (
    availability.SECTION,
    restarts.SECTION,
    resources.SECTION,
    scaling.SECTION,
    deployments.SECTION,
    traffic.SECTION,
    trends.SECTION,
    incidents.SECTION,
    alerts.SECTION,
    kpis.SECTION,
)


def query_budget(plan: Plan, sections: tuple[Section, ...] = REGISTRY) -> int:
    """The most queries a report of this plan sends; the same for any cluster size."""
    return sum(section.budget(plan) for section in sections)


def gap_sections(plan: Plan, sections: tuple[Section, ...] = REGISTRY) -> list[str]:
    """The data-gap sections a report of this plan has when Prometheus cannot be asked."""
    return [name for section in sections for name in section.gaps(plan)]


def headlines(sections: tuple[Section, ...] = REGISTRY) -> tuple[Headline, ...]:
    return tuple(headline for section in sections for headline in section.headlines)


__all__ = ["REGISTRY", "Plan", "Section", "gap_sections", "headlines", "query_budget"]
