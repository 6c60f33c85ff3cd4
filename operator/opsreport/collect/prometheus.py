"""An HTTP client for Prometheus' query API (and Thanos, Mimir, Cortex, VictoriaMetrics).

Credentials never leave this module in text: settings hide them from repr, and every error
message is built from status codes and exception types, then redacted once more.
"""

from __future__ import annotations

import asyncio
import functools
import math
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx

if TYPE_CHECKING:
    from opsreport.model.spec import PrometheusSpec

REDACTED = "***"
DAY = 86400


ErrorKind = Literal["timeout", "unreachable", "http", "rejected", "malformed"]
# Told of every query: None when it succeeded, else why it failed (after its retries).
QueryObserver = Callable[[str | None], None]


class PrometheusError(Exception):
    """A query failed; the message is safe to show users (it never carries credentials)."""

    def __init__(self, message: str, kind: ErrorKind = "http") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    timeout_seconds: float = 30.0
    retries: int = 2
    backoff_seconds: float = 0.5
    # May carry `Authorization`, so never shown.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    verify: bool | ssl.SSLContext = True
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    # Thanos: partial_response=false, and max_source_resolution for long windows.
    thanos: bool = False
    # A schedule's own Secret and ConfigMap references, resolved (collect/access.py) with the
    # schedule's namespace just before the report runs; None once resolved or when there are none.
    access: PrometheusSpec | None = None

    def secrets(self) -> list[str]:
        """Every credential value, for redaction."""
        values = [v for k, v in self.headers.items() if k.lower() == "authorization"]
        for value in values[:]:
            values.append(value.split(" ", 1)[-1])  # the token without "Bearer "
        if self.basic_auth:
            values.extend(self.basic_auth)
        return [v for v in values if len(v) >= 4]


def thanos_params(window_seconds: int) -> dict[str, str]:
    """Thanos fails a query rather than answering from part of its stores, and reads downsampled
    data for long windows (raw data of 30 days is slow and may be gone)."""
    params = {"partial_response": "false"}
    if window_seconds >= 28 * DAY:
        params["max_source_resolution"] = "1h"
    elif window_seconds >= 7 * DAY:
        params["max_source_resolution"] = "5m"
    return params


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: (Unix seconds, value) points, NaN dropped."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


_RETRYABLE_STATUS = {429, 502, 503, 504}
# The HTTP client waits this much longer than Prometheus' own `timeout`, so that Prometheus'
# answer "query timed out" (a reason a person can act on) arrives before we cut the connection.
_ANSWER_GRACE_SECONDS = 2.0


class PrometheusClient:
    """Instant and range queries with retries and a per-query timeout; counts what it sends."""

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        concurrency: int = 4,
        params: Mapping[str, str] | None = None,
        on_query: QueryObserver | None = None,
    ) -> None:
        self._settings = settings
        self._on_query = on_query
        self._secrets = settings.secrets()
        # Prometheus stops evaluating a query after this too, instead of working on for nobody.
        # Seconds as a plain number: Prometheus reads "0.5" but rejects "0.5s".
        self._params = {"timeout": f"{settings.timeout_seconds:g}", **(params or {})}
        self._http = httpx.AsyncClient(
            base_url=settings.url.rstrip("/"),
            timeout=settings.timeout_seconds + _ANSWER_GRACE_SECONDS,
            headers=dict(settings.headers),
            verify=default_tls() if settings.verify is True else settings.verify,
            auth=httpx.BasicAuth(*settings.basic_auth) if settings.basic_auth else None,
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._labels = _LabelStrings()
        self.queries_sent = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def query(self, expr: str, at: datetime) -> list[Sample]:
        """Evaluate `expr` at `at`; returns one Sample per series (a scalar has no labels)."""
        params = {**self._params, "query": expr, "time": f"{at.timestamp():.3f}"}
        data = await self._send("/api/v1/query", params)
        return _samples(data, self._labels)

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_seconds: int
    ) -> list[Series]:
        params = {
            **self._params,
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds}",
        }
        data = await self._send("/api/v1/query_range", params)
        return _series(data, self._labels)

    async def _send(self, path: str, params: dict[str, str]) -> Mapping[str, Any]:
        async with self._slots:
            self.queries_sent += 1
            try:
                data = await self._get_with_retries(path, params)
            except PrometheusError as error:
                self._observe(error.kind)
                raise PrometheusError(self._redact(str(error)), error.kind) from None
            self._observe(None)
            return data

    def _observe(self, error_kind: str | None) -> None:
        if self._on_query is not None:
            self._on_query(error_kind)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    async def _get_with_retries(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """Retries what may pass (refused connections, 429, 502, 503, 504), never a timeout: a
        query too slow once is as slow again, and repeating it loads an overloaded Prometheus."""
        attempt = 0
        timeout = self._settings.timeout_seconds
        while True:
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException:
                raise PrometheusError(
                    f"Prometheus did not answer within {timeout:g}s", "timeout"
                ) from None
            except httpx.ConnectError as exc:
                error = PrometheusError(
                    f"Prometheus is unreachable: {_connect_reason(exc)}", "unreachable"
                )
            except httpx.HTTPError as exc:
                error = PrometheusError(
                    f"Prometheus is unreachable: {type(exc).__name__}", "unreachable"
                )
            else:
                if response.status_code in (401, 403):
                    raise PrometheusError(
                        f"Prometheus answered {response.status_code}: check the credentials"
                    )
                if response.status_code >= 400 and _timed_out(response):
                    raise PrometheusError(
                        f"Prometheus stopped evaluating the query at its {timeout:g}s timeout"
                        " (raise spec.prometheus.timeoutSeconds, or narrow the scope)",
                        "timeout",
                    )
                if response.status_code not in _RETRYABLE_STATUS:
                    return _payload(response)
                error = PrometheusError(f"Prometheus answered {response.status_code}")
            attempt += 1
            if attempt > self._settings.retries:
                raise error
            await asyncio.sleep(self._settings.backoff_seconds * 2 ** (attempt - 1))


@functools.cache
def default_tls() -> ssl.SSLContext:
    """The system's trust store, loaded once per process. Each load costs ~0.1 s of CPU and about
    1 MiB of OpenSSL memory that the allocator keeps after the context is freed: loaded per
    schedule, 500 schedules held 550 MiB."""
    return httpx.create_ssl_context()


def _connect_reason(exc: httpx.ConnectError) -> str:
    # The TLS failure is worth naming (an unknown CA is the usual first problem); its text holds
    # no credentials, only the certificate verification result.
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "its TLS certificate is not trusted (set spec.prometheus.tls)"
    return type(exc).__name__


def _timed_out(response: httpx.Response) -> bool:
    """Prometheus' own answer when a query passed its `timeout`: 503 with errorType "timeout"
    while evaluating, or 422 "context deadline exceeded" while still selecting series."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    return body.get("errorType") == "timeout" or "deadline exceeded" in str(body.get("error"))


def _payload(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(
            f"Prometheus answered {response.status_code} with a body that is not JSON",
            "http" if response.status_code >= 400 else "malformed",
        ) from None
    if not isinstance(body, dict):
        raise PrometheusError("Prometheus answered with JSON that is not an object", "malformed")
    if body.get("status") != "success":
        kind = body.get("errorType", "error")
        message = str(body.get("error", "no message"))[:300]
        raise PrometheusError(f"Prometheus rejected the query ({kind}): {message}", "rejected")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusError("Prometheus answered without a data object", "malformed")
    return data


def _number(text: object) -> float:
    return float(str(text))


class _LabelStrings:
    """One copy of each label name and value for all of a client's answers.

    The queries of a report name the same 13,000 containers of a 10,000-pod cluster a dozen
    times over; kept as decoded, each answer's rows would hold their own strings, and those
    strings, scattered through the freed parse tree of the answer, keep its memory from being
    returned. A first occurrence is copied out of the tree; later ones share that copy. A client
    lives for one report, so the table is bounded by that report's answers.
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}

    def __call__(self, metric: Mapping[str, str]) -> dict[str, str]:
        strings = self._strings
        labels = {}
        for name, value in metric.items():
            name = strings.get(name) or strings.setdefault(name, _copy(name))
            labels[name] = strings.get(value) or strings.setdefault(value, _copy(value))
        return labels


def _copy(text: object) -> str:
    # A new object, not the one inside the parse tree (str(), slicing and join return it).
    return str(text).encode().decode()


def _samples(data: Mapping[str, Any], labels: _LabelStrings) -> list[Sample]:
    kind = data.get("resultType")
    result = data.get("result")
    try:
        if kind == "scalar" and isinstance(result, list):
            value = _number(result[1])
            return [] if math.isnan(value) else [Sample({}, value)]
        if kind == "vector" and isinstance(result, list):
            rows = (Sample(labels(row["metric"]), _number(row["value"][1])) for row in result)
            # NaN means "no data" (e.g. a quantile of nothing); it is never a figure.
            return [row for row in rows if not math.isnan(row.value)]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusError(
            f"Prometheus returned a malformed result: {exc}", "malformed"
        ) from None
    raise PrometheusError(
        f"the query returned a {kind}; an instant query here must return a vector or a scalar",
        "malformed",
    )


def _series(data: Mapping[str, Any], labels: _LabelStrings) -> list[Series]:
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise PrometheusError(
            f"unexpected result type {data.get('resultType')!r} for a range", "malformed"
        )
    try:
        return [
            Series(
                labels(row["metric"]),
                [
                    (float(t), value)
                    for t, text in row["values"]
                    if not math.isnan(value := _number(text))
                ],
            )
            for row in data["result"]
        ]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusError(
            f"Prometheus returned a malformed result: {exc}", "malformed"
        ) from None
