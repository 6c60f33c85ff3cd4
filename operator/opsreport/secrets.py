"""Reading a Secret a schedule names, in the schedule's own namespace only.

A schedule may only name a Secret by `name` (the spec has no namespace field), and every caller
passes the schedule's namespace: a user who can create a ReportSchedule in one namespace cannot
make the operator read Secrets of another. Values are returned to the caller and never logged;
errors name the Secret and the key, never a value.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from opsreport.kube import KubeApi, KubeError
from opsreport.model.outputs import SecretKeyRef

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
REDACTED = "***"


class SecretError(Exception):
    """The Secret cannot be used; the message names it and the key, never a value."""


async def read_secret(kube: KubeApi, namespace: str, name: str) -> dict[str, str]:
    """The Secret's data, base64-decoded and as UTF-8 text."""
    # Both go into a URL path: refuse anything that is not a plain Kubernetes name.
    if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise SecretError(f"{namespace!r} is not a namespace name")
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        raise SecretError(f"{name!r} is not a Secret name")
    where = f"Secret {namespace}/{name}"
    try:
        body = await kube.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    except KubeError as error:
        if error.status == 403:
            raise SecretError(
                f"{where}: the operator may not read it (403); grant get on secrets"
            ) from None
        raise SecretError(f"{where}: {error}") from None
    if body is None:
        raise SecretError(f"{where} not found")
    decoded: dict[str, str] = {}
    for key, value in (body.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
            raise SecretError(f"{where}: key {key!r} is not base64-encoded UTF-8 text") from None
    return decoded


@dataclass(frozen=True)
class S3Credentials:
    """Static credentials from a Secret. repr shows no value, so logging one leaks nothing."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def redact(self, text: str) -> str:
        """`text` with every credential value replaced: defence in depth for error messages."""
        for value in (self.secret_access_key, self.session_token, self.access_key_id):
            if value:
                text = text.replace(value, REDACTED)
        return text


async def s3_credentials(kube: KubeApi, namespace: str, ref: SecretKeyRef) -> S3Credentials:
    data = await read_secret(kube, namespace, ref.name)
    where = f"Secret {namespace}/{ref.name}"
    values: dict[str, str] = {}
    for key in (ref.access_key_id_key, ref.secret_access_key_key):
        value = data.get(key, "").strip()
        if not value:
            raise SecretError(f"{where} has no key {key!r} (or it is empty)")
        values[key] = value
    return S3Credentials(
        access_key_id=values[ref.access_key_id_key],
        secret_access_key=values[ref.secret_access_key_key],
        session_token=data.get(ref.session_token_key, "").strip() or None,
    )
