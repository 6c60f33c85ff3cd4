"""What only the operator can judge about a schedule: its policy, and live checks.

The spec model judges a spec on its own. These need the operator's settings, the Kubernetes API
or Prometheus, and run when a spec is applied (the reconcile handler):

- policy: `spec.scope.namespaces` beyond the schedule's own namespace needs
  OPSREPORT_ALLOW_CROSS_NAMESPACE_SCOPE. A violation is Ready=False and nothing runs.
- references: a Secret (credentials, CA) or ConfigMap (CA, template) that is missing or lacks its
  key is Ready=False with a specific reason, and so is a KPI query Prometheus refuses to parse.
  Runs still go ahead: the object may be created after the schedule (GitOps ordering).
- warnings, as condition `Warning=True` (the spec works, its reports will miss something): a
  window longer than Prometheus keeps data, and a pod selector matching no pod in scope.

Live checks are best effort: a source that cannot be asked gives no warning, never a failure.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from opsreport import api
from opsreport.collect import queries
from opsreport.collect.prometheus import (
    PrometheusClient,
    PrometheusError,
    PrometheusSettings,
    default_tls,
)
from opsreport.config import OperatorConfig
from opsreport.deliver.registry import OUTPUTS
from opsreport.kube import KubeApi, KubeError
from opsreport.model.spec import InvalidSpec, ReportScheduleSpec
from opsreport.model.status import Condition, set_condition
from opsreport.reconcile import Schedule

logger = logging.getLogger(__name__)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PROM_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
# A calendar window's longest length: a DST day has 25 hours, a month 31 days and one more hour.
_CALENDAR_LONGEST = {
    "day": timedelta(hours=25),
    "week": timedelta(days=7, hours=1),
    "month": timedelta(days=31, hours=1),
}
RETENTION_TTL_SECONDS = 600.0
PROBE_TIMEOUT_SECONDS = 5.0
_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)


def scope_violation(schedule: Schedule, config: OperatorConfig) -> InvalidSpec | None:
    """Why the operator refuses this schedule's scope, or None."""
    own = schedule.identity.namespace
    for index, namespace in enumerate(schedule.spec.scope.namespaces):
        where = f"spec.scope.namespaces[{index}]"
        # The CRD says the same; checked again because the names go into API paths.
        if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
            return InvalidSpec(where, f"{namespace!r} is not a namespace name")
        if namespace != own and not config.allow_cross_namespace_scope:
            return InvalidSpec(
                where,
                f"{namespace!r} is not the schedule's namespace ({own}); the operator allows "
                "other namespaces only with OPSREPORT_ALLOW_CROSS_NAMESPACE_SCOPE=true",
                reason=api.REASON_NAMESPACE_NOT_ALLOWED,
            )
    return None


def parse_retention(text: str) -> timedelta | None:
    """The time part of Prometheus' storageRetention (`15d`, `15d or 10GiB`); None if none."""
    for part in text.split(" or "):
        match = _PROM_DURATION.match(part.strip())
        if part.strip() and match is not None:
            years, weeks, days, hours, minutes, seconds, millis = (
                int(value) if value else 0 for value in match.groups()
            )
            return timedelta(
                days=365 * years + 7 * weeks + days,
                hours=hours,
                minutes=minutes,
                seconds=seconds,
                milliseconds=millis,
            )
    return None


def longest_window(spec: ReportScheduleSpec) -> timedelta:
    length = spec.window.length
    if length is not None:
        return length
    assert spec.window.calendar is not None  # the spec model guarantees exactly one
    return _CALENDAR_LONGEST[spec.window.calendar]


@dataclass(frozen=True)
class Finding:
    reason: str
    message: str


@dataclass(frozen=True)
class Reference:
    """A Secret or ConfigMap, in the schedule's namespace, that the spec needs keys of."""

    field: str
    kind: str  # Secret or ConfigMap
    name: str
    keys: tuple[str, ...]

    @property
    def missing_reason(self) -> str:
        return (
            api.REASON_SECRET_NOT_FOUND if self.kind == "Secret" else api.REASON_TEMPLATE_NOT_FOUND
        )

    @property
    def key_reason(self) -> str:
        return (
            api.REASON_SECRET_KEY_MISSING
            if self.kind == "Secret"
            else api.REASON_TEMPLATE_NOT_FOUND
        )


def references(spec: ReportScheduleSpec) -> list[Reference]:
    """Every Secret and ConfigMap the spec names; each is read from the schedule's namespace."""
    found: list[Reference] = []
    prometheus = spec.prometheus
    if prometheus.bearer_token_secret_ref is not None:
        ref = prometheus.bearer_token_secret_ref
        found.append(
            Reference("spec.prometheus.bearerTokenSecretRef", "Secret", ref.name, (ref.key,))
        )
    if prometheus.basic_auth_secret_ref is not None:
        basic = prometheus.basic_auth_secret_ref
        found.append(
            Reference(
                "spec.prometheus.basicAuthSecretRef",
                "Secret",
                basic.name,
                (basic.username_key, basic.password_key),
            )
        )
    tls = prometheus.tls
    if tls is not None and tls.ca_secret_ref is not None:
        ca = tls.ca_secret_ref
        found.append(Reference("spec.prometheus.tls.caSecretRef", "Secret", ca.name, (ca.key,)))
    if tls is not None and tls.ca_config_map_ref is not None:
        cm = tls.ca_config_map_ref
        found.append(
            Reference("spec.prometheus.tls.caConfigMapRef", "ConfigMap", cm.name, (cm.key,))
        )
    template = spec.template.config_map_ref
    if template is not None:
        found.append(
            Reference("spec.template.configMapRef", "ConfigMap", template.name, (template.key,))
        )
    for index, output in enumerate(spec.outputs):
        for use in OUTPUTS[output.kind].secrets(output.config):
            where = f"spec.outputs[{index}].{output.kind}.{use.field}"
            found.append(Reference(where, "Secret", use.name, use.keys))
    return found


@dataclass
class Verdict:
    """What the live checks found: a Ready=False problem, and warnings."""

    problem: Finding | None = None
    warnings: list[Finding] = field(default_factory=list)

    def conditions(
        self, conditions: list[Condition] | None, generation: int | None, now: datetime
    ) -> list[Condition]:
        if self.problem is not None:
            conditions = set_condition(
                conditions,
                type=api.CONDITION_READY,
                status=False,
                reason=self.problem.reason,
                message=self.problem.message,
                generation=generation,
                now=now,
            )
        return set_condition(
            conditions,
            type=api.CONDITION_WARNING,
            status=bool(self.warnings),
            reason=self.warnings[0].reason if self.warnings else api.REASON_NO_WARNINGS,
            message="; ".join(w.message for w in self.warnings) or "nothing to warn about",
            generation=generation,
            now=now,
        )


class SpecChecks:
    """The live checks, with Prometheus' retention cached per URL."""

    def __init__(self, kube: KubeApi) -> None:
        self._kube = kube
        self._retention: dict[str, tuple[float, timedelta | None]] = {}

    async def judge(self, schedule: Schedule, prometheus: PrometheusSettings | None) -> Verdict:
        """Raises KubeError only for 429, so the caller can retry after Retry-After."""
        verdict = Verdict(problem=await self._references(schedule))
        if prometheus is not None and verdict.problem is None:
            verdict.problem = await _kpi_problem(schedule.spec, prometheus)
        if prometheus is not None:
            retention = await self.retention(prometheus)
            window = longest_window(schedule.spec)
            if retention is not None and window > retention:
                verdict.warnings.append(
                    Finding(
                        api.REASON_WINDOW_EXCEEDS_RETENTION,
                        f"the window ({_days(window)}) is longer than Prometheus keeps data "
                        f"({_days(retention)}); its oldest part will be missing from reports",
                    )
                )
        selector = schedule.spec.scope.selector
        if selector is not None and not selector.is_empty:
            namespaces = schedule.spec.namespaces_for(schedule.identity.namespace)
            if not await self._any_pod(namespaces, selector.to_query()):
                verdict.warnings.append(
                    Finding(
                        api.REASON_SELECTOR_MATCHES_NOTHING,
                        f"spec.scope.selector ({selector.to_query()}) matches no pod in "
                        f"{', '.join(namespaces)} now",
                    )
                )
        return verdict

    async def retention(self, prometheus: PrometheusSettings) -> timedelta | None:
        cached = self._retention.get(prometheus.url)
        if cached is not None and time.monotonic() - cached[0] < RETENTION_TTL_SECONDS:
            return cached[1]
        value = await _fetch_retention(prometheus)
        self._retention[prometheus.url] = (time.monotonic(), value)
        return value

    async def _references(self, schedule: Schedule) -> Finding | None:
        """The first Secret or ConfigMap the spec names that is missing or lacks its key."""
        namespace = schedule.identity.namespace
        for ref in references(schedule.spec):
            plural = "secrets" if ref.kind == "Secret" else "configmaps"
            # Only the schedule's own namespace: the spec has no namespace field for a reason.
            try:
                body = await self._kube.get(f"/api/v1/namespaces/{namespace}/{plural}/{ref.name}")
            except KubeError as error:
                if error.status == 429:
                    raise
                logger.info("%s: cannot check %s %s: %s", ref.field, ref.kind, ref.name, error)
                continue
            what = f"{ref.field}: {ref.kind} {namespace}/{ref.name}"
            if body is None:
                return Finding(ref.missing_reason, f"{what} not found")
            # Key names only: a Secret's values are never read here.
            keys = set(body.get("data") or {}) | set(body.get("binaryData") or {})
            for key in ref.keys:
                if key not in keys:
                    return Finding(ref.key_reason, f"{what} has no key {key!r}")
        return None

    async def _any_pod(self, namespaces: tuple[str, ...], selector: str) -> bool:
        for namespace in namespaces:
            try:
                async for page in self._kube.list_pages(
                    f"/api/v1/namespaces/{namespace}/pods", label_selector=selector, page_size=1
                ):
                    if page:
                        return True
                    break  # one page of one item answers the question
            except KubeError as error:
                if error.status == 429:
                    raise
                logger.info("cannot check the selector in %s: %s", namespace, error)
                return True  # unknown is no reason to warn
        return False


async def _kpi_problem(spec: ReportScheduleSpec, prometheus: PrometheusSettings) -> Finding | None:
    """Let Prometheus parse each KPI: evaluated in 1970, where there is no data, a query costs
    nothing to evaluate, and a syntax error is refused as it would be at every run."""
    if not spec.kpis or prometheus.access is not None:
        return None  # none, or credentials not resolved here: the run will tell
    seconds = int(longest_window(spec).total_seconds())
    probe = dataclasses.replace(
        prometheus,
        timeout_seconds=min(prometheus.timeout_seconds, PROBE_TIMEOUT_SECONDS),
        retries=0,
    )
    async with PrometheusClient(probe) as client:
        for index, kpi in enumerate(spec.kpis):
            try:
                await client.query(queries.substitute_window(kpi.query, seconds), _EPOCH)
            except PrometheusError as error:
                if error.kind == "rejected":
                    return Finding(
                        api.REASON_INVALID_KPI_QUERY, f"spec.kpis[{index}].query: {error}"
                    )
                return None  # Prometheus is unwell, not the query: no verdict
    return None


async def _fetch_retention(prometheus: PrometheusSettings) -> timedelta | None:
    """Prometheus' own retention; None when it does not say (Thanos, Mimir) or cannot be asked."""
    try:
        async with httpx.AsyncClient(
            base_url=prometheus.url.rstrip("/"),
            timeout=min(prometheus.timeout_seconds, PROBE_TIMEOUT_SECONDS),
            headers=dict(prometheus.headers),
            verify=default_tls() if prometheus.verify is True else prometheus.verify,
        ) as client:
            response = await client.get("/api/v1/status/runtimeinfo")
        data = response.json().get("data") if response.is_success else None
    except (httpx.HTTPError, ValueError, AttributeError) as error:
        logger.info("cannot read Prometheus' retention: %s", type(error).__name__)
        return None
    text = data.get("storageRetention") if isinstance(data, dict) else None
    return parse_retention(text) if isinstance(text, str) else None


def _days(length: timedelta) -> str:
    days = length.total_seconds() / 86400
    return f"{days:g}d" if days >= 1 else f"{length.total_seconds() / 3600:g}h"
