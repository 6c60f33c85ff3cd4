"""Operator settings from flags and OPSREPORT_* environment variables; nothing is read at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperatorConfig:
    prometheus_url: str | None = None
    prometheus_timeout_seconds: float = 30.0
    # Sent as `Authorization: Bearer …`; never logged or written to status.
    prometheus_bearer_token: str | None = field(default=None, repr=False)
    max_concurrent_reports: int = 4
    namespaces: tuple[str, ...] = ()
    peering: str | None = None
    # Seconds a peer's keepalive counts; a killed active replica is replaced after this.
    peering_lifetime: int = 60
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    log_format: str = "json"
    kubeconfig: str | None = None
    # Port of the Prometheus metrics endpoint (/metrics); 0 turns it off.
    metrics_port: int = 9090
    # A schedule reports on its own namespace only, unless this allows other namespaces in
    # spec.scope.namespaces: whoever may create a schedule in one namespace could otherwise
    # read pods and metrics of any other through the operator's cluster-wide access.
    allow_cross_namespace_scope: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if environ is None else environ
        namespaces = tuple(ns for ns in env.get("OPSREPORT_NAMESPACES", "").split(",") if ns)
        return cls(
            prometheus_url=env.get("OPSREPORT_PROMETHEUS_URL") or None,
            prometheus_timeout_seconds=float(env.get("OPSREPORT_PROMETHEUS_TIMEOUT_SECONDS", "30")),
            prometheus_bearer_token=env.get("OPSREPORT_PROMETHEUS_BEARER_TOKEN") or None,
            max_concurrent_reports=int(env.get("OPSREPORT_MAX_CONCURRENT_REPORTS", "4")),
            namespaces=namespaces,
            peering=env.get("OPSREPORT_PEERING") or None,
            peering_lifetime=int(env.get("OPSREPORT_PEERING_LIFETIME", "60")),
            liveness_endpoint=env.get("OPSREPORT_LIVENESS", "http://0.0.0.0:8080/healthz") or None,
            log_format=env.get("OPSREPORT_LOG_FORMAT", "json"),
            kubeconfig=env.get("KUBECONFIG") or None,
            metrics_port=int(env.get("OPSREPORT_METRICS_PORT", "9090")),
            allow_cross_namespace_scope=_flag(env.get("OPSREPORT_ALLOW_CROSS_NAMESPACE_SCOPE")),
        )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
