"""How to reach a schedule's Prometheus: URL, credentials, TLS, headers, Thanos parameters.

`settings_for` is pure (spec + operator defaults). Credentials are Secret and ConfigMap
references, read by `resolve` with the schedule's own namespace only, just before the report
runs; the values live in PrometheusSettings and nowhere else.
"""

from __future__ import annotations

import dataclasses
import ssl

from opsreport.collect.prometheus import PrometheusSettings
from opsreport.kube import KubeApi, KubeError
from opsreport.model.spec import PrometheusSpec
from opsreport.secrets import SecretError, read_secret


class AccessError(Exception):
    """Credentials or CA cannot be read; the message names objects and keys, never values."""


def settings_for(
    spec: PrometheusSpec,
    *,
    default_url: str | None,
    default_token: str | None = None,
    default_timeout: float = 30.0,
) -> PrometheusSettings | None:
    """The schedule's Prometheus, else the operator's one with the operator's own token."""
    url = spec.url or default_url
    if not url:
        return None
    own = spec.url is not None
    headers = dict(spec.headers) if own else {}
    if not own and default_token:
        headers["Authorization"] = f"Bearer {default_token}"
    tls = spec.tls
    return PrometheusSettings(
        url=url,
        timeout_seconds=float(spec.timeout_seconds or default_timeout),
        headers=headers,
        verify=not (tls is not None and tls.insecure_skip_verify),
        thanos=spec.thanos,
        access=spec if own and _has_references(spec) else None,
    )


def _has_references(spec: PrometheusSpec) -> bool:
    tls = spec.tls
    return bool(
        spec.bearer_token_secret_ref
        or spec.basic_auth_secret_ref
        or (tls and (tls.ca_secret_ref or tls.ca_config_map_ref))
    )


async def _secret_value(kube: KubeApi, namespace: str, name: str, key: str) -> str:
    try:
        data = await read_secret(kube, namespace, name)
    except SecretError as error:
        raise AccessError(str(error)) from None
    value = data.get(key, "").strip()
    if not value:
        raise AccessError(f"Secret {namespace}/{name} has no key {key!r} (or it is empty)")
    return value


async def _config_map_value(kube: KubeApi, namespace: str, name: str, key: str) -> str:
    where = f"ConfigMap {namespace}/{name}"
    try:
        body = await kube.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    except KubeError as error:
        raise AccessError(f"{where}: {error}") from None
    if body is None:
        raise AccessError(f"{where} not found")
    value = str((body.get("data") or {}).get(key, "")).strip()
    if not value:
        raise AccessError(f"{where} has no key {key!r} (or it is empty)")
    return value


def _ca_context(pem: str, where: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise AccessError(f"{where} does not hold a PEM CA certificate") from None


async def resolve(
    settings: PrometheusSettings, kube: KubeApi | None, namespace: str
) -> PrometheusSettings:
    """Read the Secrets and ConfigMap `settings.access` names, in `namespace` only."""
    spec = settings.access
    if spec is None:
        return settings
    if kube is None:
        raise AccessError(
            "the Prometheus credentials are in Secrets, and there is no Kubernetes API"
        )
    headers = dict(settings.headers)
    basic_auth = None
    verify = settings.verify
    if (ref := spec.bearer_token_secret_ref) is not None:
        token = await _secret_value(kube, namespace, ref.name, ref.key)
        headers["Authorization"] = f"Bearer {token}"
    if (basic := spec.basic_auth_secret_ref) is not None:
        basic_auth = (
            await _secret_value(kube, namespace, basic.name, basic.username_key),
            await _secret_value(kube, namespace, basic.name, basic.password_key),
        )
    tls = spec.tls
    if tls is not None and (ca := tls.ca_secret_ref) is not None:
        pem = await _secret_value(kube, namespace, ca.name, ca.key)
        verify = _ca_context(pem, f"Secret {namespace}/{ca.name} key {ca.key!r}")
    if tls is not None and (cm := tls.ca_config_map_ref) is not None:
        pem = await _config_map_value(kube, namespace, cm.name, cm.key)
        verify = _ca_context(pem, f"ConfigMap {namespace}/{cm.name} key {cm.key!r}")
    return dataclasses.replace(
        settings, headers=headers, basic_auth=basic_auth, verify=verify, access=None
    )
