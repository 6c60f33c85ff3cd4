"""The ReportSchedule spec, parsed into typed objects.

Parsing is the only place that judges user input: everything downstream can trust these types.
`InvalidSpec` names the offending field the way a user wrote it (`spec.window.duration`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from opsreport.scheduling import CronError, parse_cron


class InvalidSpec(ValueError):
    """The spec cannot be acted on; `field` is a dotted path such as `spec.schedule`."""

    def __init__(self, field: str, message: str, *, reason: str = "InvalidSpec") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


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


class TemplateSpec(_Model):
    name: Literal["daily", "monthly"] = "daily"


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


class PrometheusSpec(_Model):
    url: str | None = Field(default=None, max_length=2048)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


class ConfigMapOutput(_Model):
    # Reports of this schedule to keep, newest windows first; None keeps every report.
    keep: int | None = Field(default=None, ge=1, le=1000)
    # Also keep `<schedule>-latest`, a stable name for dashboards and links.
    latest: bool = False


_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
# Seconds in the default: two run-now reports in one minute must not share a key.
DEFAULT_KEY_TEMPLATE = "{namespace}/{schedule}/{window.start:%Y/%m/%d/%H%M%S}/report.{ext}"


class SecretKeyRef(_Model):
    """A Secret in the schedule's own namespace; there is deliberately no namespace field."""

    name: str = Field(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)
    access_key_id_key: str = Field(default="accessKeyId", max_length=253, pattern=_SECRET_KEY)
    secret_access_key_key: str = Field(
        default="secretAccessKey", max_length=253, pattern=_SECRET_KEY
    )
    # Used when the Secret has it (temporary credentials); absent is fine.
    session_token_key: str = Field(default="sessionToken", max_length=253, pattern=_SECRET_KEY)


class ServerSideEncryption(_Model):
    type: Literal["AES256", "aws:kms"]
    kms_key_id: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _kms_key_only_for_kms(self) -> ServerSideEncryption:
        if self.kms_key_id is not None and self.type != "aws:kms":
            raise ValueError("kmsKeyId needs type aws:kms")
        return self


class S3Output(_Model):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
    prefix: str = Field(default="", max_length=512)
    endpoint: str | None = Field(default=None, max_length=2048)
    region: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    force_path_style: bool = False
    key_template: str = Field(default=DEFAULT_KEY_TEMPLATE, min_length=1, max_length=512)
    credentials_secret_ref: SecretKeyRef | None = None
    server_side_encryption: ServerSideEncryption | None = None
    keep: int | None = Field(default=None, ge=1, le=10000)
    max_age_days: int | None = Field(default=None, ge=1, le=36500)
    presign_seconds: int | None = Field(default=None, ge=1, le=MAX_PRESIGN_SECONDS)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^https?://[^\s/@]+(/\S*)?$", value):
            raise ValueError(
                "must be an http:// or https:// URL without credentials (use credentialsSecretRef)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix_is_safe(cls, value: str) -> str:
        from opsreport.deliver.s3 import check_key_text  # imported late: it imports the model

        check_key_text(value)
        return value.strip("/")

    @field_validator("key_template")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        from opsreport.deliver.s3 import KeyTemplate  # imported late: it imports the model

        KeyTemplate.parse(value)  # raises ValueError saying what is wrong
        return value


class OutputSpec(_Model):
    config_map: ConfigMapOutput | None = None
    s3: S3Output | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> OutputSpec:
        if (self.config_map is None) == (self.s3 is None):
            raise ValueError("each output needs exactly one kind: configMap or s3")
        return self


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
    outputs: tuple[OutputSpec, ...] = (OutputSpec(config_map=ConfigMapOutput()),)
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
    return spec
