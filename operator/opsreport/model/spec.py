"""The ReportSchedule spec, parsed into typed objects.

Parsing is the only place that judges user input: everything downstream can trust these types.
`InvalidSpec` names the offending field the way a user wrote it (`spec.window.duration`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    PlainValidator,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from opsreport.model.base import DATA_KEY as _DATA_KEY
from opsreport.model.base import DNS_SUBDOMAIN as _DNS_SUBDOMAIN
from opsreport.model.base import SpecModel as _Model
from opsreport.model.outputs import ConfigMapOutput, OutputSpec, parse_output
from opsreport.model.promql import check_promql
from opsreport.scheduling import CronError, parse_cron


class InvalidSpec(ValueError):
    """The spec cannot be acted on; `field` is a dotted path such as `spec.schedule`."""

    def __init__(self, field: str, message: str, *, reason: str = "InvalidSpec") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_WINDOW = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """`24h`, `7d`, `1h30m`: the Prometheus-style durations users already know."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like 24h, 7d or 1h30m")
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError("a window must be longer than zero")
    if value > MAX_WINDOW:
        raise ValueError("a window may be at most 366d")
    return value


CalendarPeriod = Literal["day", "week", "month"]
Format = Literal["markdown", "html", "json"]


class WindowSpec(_Model):
    duration: str | None = None
    calendar: CalendarPeriod | None = None
    # Collection waits this long after the window ends, so Prometheus has scraped its last minutes.
    settle_seconds: int = Field(default=300, ge=0, le=86400)

    @field_validator("duration")
    @classmethod
    def _duration_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> WindowSpec:
        if (self.duration is None) == (self.calendar is None):
            raise ValueError("set exactly one of duration or calendar")
        return self

    @property
    def length(self) -> timedelta | None:
        return parse_duration(self.duration) if self.duration else None

    @property
    def settle(self) -> timedelta:
        return timedelta(seconds=self.settle_seconds)


class TemplateConfigMapRef(_Model):
    """A user's template in a ConfigMap of the schedule's own namespace (no namespace field)."""

    name: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    # The key's extension names the format the template renders: `.md.j2` or `.html.j2`.
    key: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+\.(md|markdown|html|htm)(\.j2|\.jinja|\.jinja2)?$",
    )


class TemplateSpec(_Model):
    name: Literal["daily", "monthly"] = "daily"
    # Replaces the built-in template for the format its key names; may `{% extends %}` it.
    config_map_ref: TemplateConfigMapRef | None = None
    # Rows per table before "…and N more".
    top_n: int = Field(default=10, ge=1, le=100)


class LabelSelectorRequirement(_Model):
    key: str = Field(min_length=1, max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()


class LabelSelector(_Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def to_query(self) -> str:
        """The selector in the API's `labelSelector` query syntax."""
        parts = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        for req in self.match_expressions:
            if req.operator == "Exists":
                parts.append(req.key)
            elif req.operator == "DoesNotExist":
                parts.append(f"!{req.key}")
            else:
                op = "in" if req.operator == "In" else "notin"
                parts.append(f"{req.key} {op} ({','.join(req.values)})")
        return ",".join(parts)

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


class ScopeSpec(_Model):
    namespaces: tuple[str, ...] = ()
    selector: LabelSelector | None = None


_METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# Set through the Secret references, or by the HTTP client itself; never as a plain header.
_RESERVED_HEADERS = {"authorization", "host", "content-length", "cookie", "proxy-authorization"}
_DECIMAL = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$")


class SecretKeySelector(_Model):
    """One key of a Secret in the schedule's own namespace (there is no namespace field)."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    key: str = Field(default="token", min_length=1, max_length=253, pattern=_DATA_KEY)


class CaKeySelector(_Model):
    """A PEM CA bundle: one key of a Secret or ConfigMap in the schedule's own namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    key: str = Field(default="ca.crt", min_length=1, max_length=253, pattern=_DATA_KEY)


class BasicAuthSecretRef(_Model):
    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    username_key: str = Field(default="username", min_length=1, max_length=253, pattern=_DATA_KEY)
    password_key: str = Field(default="password", min_length=1, max_length=253, pattern=_DATA_KEY)


class PrometheusTls(_Model):
    ca_secret_ref: CaKeySelector | None = None
    ca_config_map_ref: CaKeySelector | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _one_trust_source(self) -> PrometheusTls:
        cas = (self.ca_secret_ref is not None) + (self.ca_config_map_ref is not None)
        if cas > 1:
            raise ValueError("set at most one of caSecretRef and caConfigMapRef")
        if cas and self.insecure_skip_verify:
            raise ValueError("insecureSkipVerify ignores the CA; set one or the other")
        return self


class PrometheusSpec(_Model):
    url: str | None = Field(default=None, max_length=2048)
    bearer_token_secret_ref: SecretKeySelector | None = None
    basic_auth_secret_ref: BasicAuthSecretRef | None = None
    tls: PrometheusTls | None = None
    # Plain headers such as X-Scope-OrgID for Mimir or Cortex; they are not secret.
    headers: dict[str, str] = Field(default_factory=dict, max_length=16)
    # Thanos: partial_response=false, and max_source_resolution for windows of 7 days or more.
    thanos: bool = False
    timeout_seconds: int | None = Field(default=None, ge=1, le=600)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name} cannot be set here (use bearerTokenSecretRef)")
            if len(text) > 1024 or any(c in text for c in "\r\n\0"):
                raise ValueError(f"the value of {name} is too long or has a line break")
        return value

    @model_validator(mode="after")
    def _credentials_need_own_url(self) -> PrometheusSpec:
        # Without a url the operator's own Prometheus and credentials are used: a schedule must not
        # point them at another tenant or weaken their TLS.
        if self.url is None and (
            self.bearer_token_secret_ref or self.basic_auth_secret_ref or self.tls or self.headers
        ):
            raise ValueError("credentials, tls and headers need prometheus.url")
        if self.bearer_token_secret_ref and self.basic_auth_secret_ref:
            raise ValueError("set at most one of bearerTokenSecretRef and basicAuthSecretRef")
        return self


class TrafficSpec(_Model):
    """Request metrics the application exposes; queries add the namespace scope to `selector`."""

    requests_counter: str | None = Field(default=None, max_length=200, pattern=_METRIC_NAME)
    latency_histogram: str | None = Field(default=None, max_length=200, pattern=_METRIC_NAME)
    selector: dict[str, str] = Field(default_factory=dict, max_length=16)

    @field_validator("latency_histogram")
    @classmethod
    def _base_name(cls, value: str | None) -> str | None:
        return value.removesuffix("_bucket") if value else value

    @field_validator("selector")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.match(_LABEL_NAME, name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a label name")
            if len(text) > 1024:
                raise ValueError(f"the value for {name} is longer than 1024 characters")
        return value

    @model_validator(mode="after")
    def _something_to_measure(self) -> TrafficSpec:
        if self.requests_counter is None and self.latency_histogram is None:
            raise ValueError("set requestsCounter, latencyHistogram or both")
        return self


# int or a decimal string, never a float: "99.9" is exactly what the user wrote.
Target = Annotated[int, Strict()] | Annotated[str, Field(max_length=32)]


def _target_value(value: int | str) -> float:
    if isinstance(value, str) and not _DECIMAL.match(value):
        raise ValueError(f"{value!r} is not a decimal number such as 99.9")
    return float(value)


ObjectiveMetric = Literal[
    "availability",
    "errorRate",
    "latencyP50",
    "latencyP95",
    "latencyP99",
    "restarts",
    "incidents",
    "downtimeSeconds",
]
TRAFFIC_OBJECTIVES = {"errorRate": "requests_counter"} | dict.fromkeys(
    ("latencyP50", "latencyP95", "latencyP99"), "latency_histogram"
)


class ObjectiveSpec(_Model):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    metric: ObjectiveMetric
    target: Target

    @field_validator("target")
    @classmethod
    def _decimal(cls, value: int | str) -> int | str:
        _target_value(value)
        return value

    @property
    def target_value(self) -> float:
        return _target_value(self.target)


class KpiSpec(_Model):
    name: str = Field(min_length=1, max_length=128)
    # Instant PromQL evaluated at the window's end; `$__window` becomes the window's length.
    query: str = Field(min_length=1, max_length=4096)
    unit: str = Field(default="", max_length=32)
    target: Target | None = None
    comparison: Literal[">=", "<=", ">", "<", "=="] | None = None

    @field_validator("query")
    @classmethod
    def _balanced(cls, value: str) -> str:
        check_promql(value)
        return value

    @field_validator("target")
    @classmethod
    def _decimal(cls, value: int | str | None) -> int | str | None:
        if value is not None:
            _target_value(value)
        return value

    @model_validator(mode="after")
    def _comparison_with_target(self) -> KpiSpec:
        if (self.target is None) != (self.comparison is None):
            raise ValueError("set target and comparison together")
        return self

    @property
    def target_value(self) -> float | None:
        return None if self.target is None else _target_value(self.target)


MAX_KPIS = 5  # 2 queries each: with traffic, a report stays within 40 queries


class ReportScheduleSpec(_Model):
    schedule: str = Field(min_length=1, max_length=256)
    time_zone: str = Field(default="UTC", max_length=64)
    window: WindowSpec
    suspend: bool = False
    title: str | None = Field(default=None, max_length=256)
    template: TemplateSpec = TemplateSpec()
    formats: tuple[Format, ...] = ("markdown",)
    scope: ScopeSpec = ScopeSpec()
    prometheus: PrometheusSpec = PrometheusSpec()
    traffic: TrafficSpec | None = None
    objectives: tuple[ObjectiveSpec, ...] = Field(default=(), max_length=20)
    kpis: tuple[KpiSpec, ...] = Field(default=(), max_length=MAX_KPIS)
    # Each item is judged against the output kinds registered in model.outputs.
    outputs: tuple[Annotated[OutputSpec, PlainValidator(parse_output)], ...] = (
        OutputSpec("configMap", ConfigMapOutput()),
    )
    catch_up: Literal["All", "Latest", "None"] = "Latest"
    starting_deadline_seconds: int | None = Field(default=None, ge=0, le=366 * 86400)
    concurrency_policy: Literal["Forbid", "Replace"] = "Forbid"
    history_limit: int = Field(default=10, ge=1, le=100)

    @field_validator("formats")
    @classmethod
    def _formats_unique(cls, value: tuple[Format, ...]) -> tuple[Format, ...]:
        if not value:
            raise ValueError("name at least one format")
        return tuple(dict.fromkeys(value))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def namespaces_for(self, own_namespace: str) -> tuple[str, ...]:
        return self.scope.namespaces or (own_namespace,)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{to_camel(str(part))}"
    return path


def parse_spec(raw: dict[str, Any] | None) -> ReportScheduleSpec:
    """Parse and judge a spec; raises InvalidSpec naming the first bad field."""
    try:
        spec = ReportScheduleSpec.model_validate(raw or {})
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidSpec(_field_path(tuple(first["loc"])), message) from None
    try:
        ZoneInfo(spec.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSpec(
            "spec.timeZone",
            f"{spec.time_zone!r} is not a known IANA time zone",
            reason="InvalidTimeZone",
        ) from None
    try:
        parse_cron(spec.schedule)
    except CronError as error:
        raise InvalidSpec("spec.schedule", str(error), reason="InvalidSchedule") from None
    _check_measurable(spec)
    return spec


def _check_measurable(spec: ReportScheduleSpec) -> None:
    """Objectives need the figures they judge; KPI names identify their figures."""
    for i, objective in enumerate(spec.objectives):
        needs = TRAFFIC_OBJECTIVES.get(objective.metric)
        if needs and (spec.traffic is None or getattr(spec.traffic, needs) is None):
            raise InvalidSpec(
                f"spec.objectives[{i}].metric",
                f"{objective.metric} needs spec.traffic.{to_camel(needs)}",
            )
    seen: set[str] = set()
    for i, kpi in enumerate(spec.kpis):
        if kpi.name in seen:
            raise InvalidSpec(f"spec.kpis[{i}].name", f"{kpi.name!r} is used twice")
        seen.add(kpi.name)
