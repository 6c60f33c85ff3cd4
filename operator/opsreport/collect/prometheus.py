"""An HTTP client for Prometheus' query API, and the fixed set of queries a report runs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx


class PrometheusError(Exception):
    """A query failed; the message is safe to show users (it never carries credentials)."""


@dataclass(frozen=True)
class PrometheusSettings:
    url: str
    timeout_seconds: float = 30.0
    retries: int = 2
    backoff_seconds: float = 0.5
    headers: Mapping[str, str] = field(default_factory=dict)
    verify: bool | str = True


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


_RETRYABLE_STATUS = {429, 502, 503, 504}


class PrometheusClient:
    """Instant queries with retries and a per-query timeout; counts what it sends."""

    def __init__(self, settings: PrometheusSettings, *, concurrency: int = 4) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(
            base_url=settings.url.rstrip("/"),
            timeout=settings.timeout_seconds,
            headers=dict(settings.headers),
            verify=settings.verify,
        )
        self._slots = asyncio.Semaphore(concurrency)
        self.queries_sent = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def query(self, expr: str, at: datetime) -> list[Sample]:
        """Evaluate `expr` at `at`; returns one Sample per series (a scalar has no labels)."""
        params = {"query": expr, "time": f"{at.timestamp():.3f}"}
        async with self._slots:
            self.queries_sent += 1
            payload = await self._get_with_retries("/api/v1/query", params)
        return _samples(payload)

    async def _get_with_retries(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException:
                error = PrometheusError(
                    f"Prometheus did not answer within {self._settings.timeout_seconds:g}s"
                )
            except httpx.HTTPError as exc:
                error = PrometheusError(f"Prometheus is unreachable: {type(exc).__name__}")
            else:
                if response.status_code not in _RETRYABLE_STATUS:
                    return _payload(response)
                error = PrometheusError(f"Prometheus answered {response.status_code}")
            attempt += 1
            if attempt > self._settings.retries:
                raise error
            await asyncio.sleep(self._settings.backoff_seconds * 2 ** (attempt - 1))


def _payload(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(
            f"Prometheus answered {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise PrometheusError("Prometheus answered with JSON that is not an object")
    if body.get("status") != "success":
        kind = body.get("errorType", "error")
        message = str(body.get("error", "no message"))[:300]
        raise PrometheusError(f"Prometheus rejected the query ({kind}): {message}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusError("Prometheus answered without a data object")
    return data


def _number(text: object) -> float:
    return float(str(text))


def _samples(data: Mapping[str, Any]) -> list[Sample]:
    kind = data.get("resultType")
    result = data.get("result")
    try:
        if kind == "scalar" and isinstance(result, list):
            return [Sample({}, _number(result[1]))]
        if kind == "vector" and isinstance(result, list):
            rows = (Sample(dict(row["metric"]), _number(row["value"][1])) for row in result)
            # NaN means "no data" (e.g. a quantile of nothing); it is never a figure.
            return [row for row in rows if not math.isnan(row.value)]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusError(f"Prometheus returned a malformed result: {exc}") from None
    raise PrometheusError(f"unexpected result type {kind!r} for an instant query")
