"""ReportData: the one typed result of collection, and the only input to rendering.

`None` always means "not measured" and is rendered as missing, never as zero. Each figure that
comes from Prometheus names its query in `meta.queries`, so every number traces to its source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from opsreport.api import REPORT_SCHEMA

OverallStatus = Literal["ok", "warning", "critical"]


class _Model(BaseModel):
    # Fields with defaults are still always present in the JSON, so the schema requires them.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )


class ScheduleRef(_Model):
    namespace: str
    name: str


class WindowData(_Model):
    start: datetime
    end: datetime
    time_zone: str = "UTC"


class ScopeData(_Model):
    namespaces: list[str]
    selector: str | None = None


class Availability(_Model):
    percent: float | None = None
    # Successful and total scrapes of `up` behind the percentage.
    successful_scrapes: int | None = None
    total_scrapes: int | None = None


class RestartRow(_Model):
    namespace: str
    pod: str
    container: str
    restarts: int
    last_reason: str | None = None
    exit_code: int | None = None


class Restarts(_Model):
    total: int | None = None
    by_reason: dict[str, int] = Field(default_factory=dict)
    top: list[RestartRow] = Field(default_factory=list)


class CpuUsage(_Model):
    """CPU in cores."""

    avg: float | None = None
    p95: float | None = None
    max: float | None = None
    request: float | None = None
    limit: float | None = None


class MemoryUsage(_Model):
    """Memory working set in bytes."""

    avg: float | None = None
    max: float | None = None
    request: float | None = None
    limit: float | None = None


class WorkloadUsage(_Model):
    namespace: str
    kind: str
    name: str
    container: str
    pods: int
    cpu: CpuUsage
    memory: MemoryUsage


class HpaActivity(_Model):
    namespace: str
    name: str
    min_replicas: int | None = None
    max_replicas: int | None = None
    rescales: int
    peak_replicas: int | None = None


class Scaling(_Model):
    # None: not measured; an empty list: measured, and the scope has no HPA.
    hpas: list[HpaActivity] | None = None

    @property
    def rescales(self) -> int | None:
        return None if self.hpas is None else sum(h.rescales for h in self.hpas)


class Resources(_Model):
    workloads: list[WorkloadUsage] = Field(default_factory=list)


class WaitingContainer(_Model):
    namespace: str
    pod: str
    container: str
    reason: str


class TerminatedContainer(_Model):
    namespace: str
    pod: str
    container: str
    reason: str | None
    exit_code: int | None
    finished_at: datetime | None
    lifetime_restarts: int


class Pods(_Model):
    """What the Kubernetes API shows at collection time."""

    total: int | None = None
    not_ready: int | None = None
    waiting: list[WaitingContainer] = Field(default_factory=list)
    terminated_in_window: list[TerminatedContainer] = Field(default_factory=list)


class DataGap(_Model):
    section: str
    source: Literal["prometheus", "kubernetes"]
    reason: str


class QueryRecord(_Model):
    figure: str
    expr: str


class Meta(_Model):
    prom_queries: int = 0
    api_requests: int = 0
    queries: list[QueryRecord] = Field(default_factory=list)
    operator_version: str = ""
    collect_seconds: float | None = None


class ReportData(_Model):
    schema_: str = Field(default=REPORT_SCHEMA, alias="schema")
    title: str
    schedule: ScheduleRef
    window: WindowData
    generated_at: datetime
    status: OverallStatus = "ok"
    status_reasons: list[str] = Field(default_factory=list)
    scope: ScopeData
    availability: Availability = Availability()
    restarts: Restarts = Restarts()
    resources: Resources = Resources()
    pods: Pods = Pods()
    scaling: Scaling = Scaling()
    data_gaps: list[DataGap] = Field(default_factory=list)
    meta: Meta = Meta()

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
