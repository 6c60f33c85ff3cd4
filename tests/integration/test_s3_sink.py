"""The S3 output against a real SeaweedFS with auth on; credentials from an emulated Secret."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from opsreport import api
from opsreport.config import OperatorConfig
from opsreport.deliver.base import OutputResult, ReportIdentity
from opsreport.deliver.s3 import S3Sink
from opsreport.kube import KubeApi
from opsreport.model.report import ReportData, ScheduleRef, ScopeData, WindowData
from opsreport.reconcile import DueRun, parse_schedule
from opsreport.render.documents import Document
from opsreport.scheduling import Window, format_rfc3339
from opsreport.service import Notice, Operator
from tests.integration.conftest_s3 import (  # noqa: F401  (fixtures)
    DAY_ONE,
    GENERATED,
    NAMESPACE,
    bucket_fixture,
    create_schedule,
    create_secret,
    credentials_secret,
    identity,
    keys,
    needs_weed,
    no_local_aws_config_fixture,
    parse_s3,
    s3_fixture,
    s3_output,
    unique,
)
from tests.support.kube_emulator import KubeApiServer
from tests.support.s3 import S3Server

pytestmark = needs_weed

DOCS = [Document("markdown", "# Report\n"), Document("html", "<h1>Report</h1>\n")]
NOW = datetime.now(UTC)


def report_for(ident: ReportIdentity) -> ReportData:
    window = ident.window
    return ReportData(
        title="t",
        schedule=ScheduleRef(namespace=ident.schedule.namespace, name=ident.schedule.name),
        window=WindowData(start=window.start, end=window.end),
        generated_at=GENERATED,
        scope=ScopeData(namespaces=[NAMESPACE]),
    )


async def deliver(
    kube_api: KubeApi,
    raw: dict[str, Any],
    schedule: str,
    *,
    window: Window = DAY_ONE,
    documents: list[Document] = DOCS,
    now: datetime = NOW,
) -> OutputResult:
    sink = S3Sink(parse_s3(raw), kube_api, lambda: now)
    ident = identity(schedule, window)
    return await sink.deliver(ident, report_for(ident), documents, GENERATED)


def day(n: int) -> Window:
    start = DAY_ONE.start + timedelta(days=n)
    return Window(start, start + timedelta(days=1))


async def test_a_report_is_stored_with_type_metadata_and_encryption(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    secret = credentials_secret(kube_server, s3)
    raw = s3_output(
        s3,
        bucket,
        credentialsSecretRef={"name": secret},
        serverSideEncryption={"type": "AES256"},
        prefix="team/",
    )
    result = await deliver(kube_api, raw, "typed")
    assert result.ok, result.message
    key = "team/shop/typed/2026/11/19/120000/report.md"
    assert result.location == f"s3://{bucket}/{key}"
    assert keys(s3, bucket) == [key.replace(".md", ".html"), key]

    head = s3.client().head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/markdown; charset=utf-8"
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"] == {
        "opsreport-schedule": "shop/typed",
        "opsreport-window": "2026-11-19T12:00:00Z/2026-11-20T12:00:00Z",
        "opsreport-sha256": hashlib.sha256(b"# Report\n").hexdigest(),
        "opsreport-generated-at": "2026-11-20T12:05:00Z",
    }
    html = s3.client().head_object(Bucket=bucket, Key=key.replace(".md", ".html"))
    assert html["ContentType"] == "text/html; charset=utf-8"
    assert result.bytes == sum(len(doc.content) for doc in DOCS)


async def test_a_rerun_rewrites_the_same_keys(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": credentials_secret(kube_server, s3)})
    first = await deliver(kube_api, raw, "rerun")
    second = await deliver(kube_api, raw, "rerun", documents=[Document("markdown", "# v2\n")])
    assert first.ok
    assert second.ok
    assert first.location == second.location
    assert keys(s3, bucket) == [
        "shop/rerun/2026/11/19/120000/report.html",
        "shop/rerun/2026/11/19/120000/report.md",
    ]
    body = s3.client().get_object(Bucket=bucket, Key="shop/rerun/2026/11/19/120000/report.md")
    assert body["Body"].read() == b"# v2\n"


async def test_another_windows_report_is_never_overwritten(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    raw = s3_output(
        s3,
        bucket,
        credentialsSecretRef={"name": credentials_secret(kube_server, s3)},
        keyTemplate="{namespace}/{schedule}/{window.start:%Y-%m-%d}.{ext}",  # too coarse
    )
    morning = Window(DAY_ONE.start, DAY_ONE.start + timedelta(hours=1))
    evening = Window(morning.start + timedelta(hours=8), morning.end + timedelta(hours=8))
    assert (await deliver(kube_api, raw, "hourly", window=morning)).ok
    clash = await deliver(kube_api, raw, "hourly", window=evening, documents=[DOCS[0]])
    assert not clash.ok
    assert "already holds 2026-11-19T12:00:00Z/2026-11-19T13:00:00Z" in clash.message
    assert "keyTemplate" in clash.message
    body = s3.client().get_object(Bucket=bucket, Key="shop/hourly/2026-11-19.md")
    assert body["Metadata"]["opsreport-window"].startswith("2026-11-19T12:00:00Z")


async def test_five_mib_report(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": credentials_secret(kube_server, s3)})
    big = Document("html", os.urandom(5 * 1024 * 1024 // 2).hex())  # 5 MiB, incompressible
    result = await deliver(kube_api, raw, "big", documents=[big])
    assert result.ok, result.message
    assert result.bytes == 5 * 1024 * 1024
    stored = s3.client().get_object(Bucket=bucket, Key="shop/big/2026/11/19/120000/report.html")
    assert stored["ContentLength"] == 5 * 1024 * 1024
    assert stored["Body"].read().decode() == big.content


async def test_wrong_credentials_fail_the_output_without_leaking_them(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    planted = "planted-" + unique("secret")
    secret = credentials_secret(kube_server, s3, secret_key=planted)
    result = await deliver(
        kube_api, s3_output(s3, bucket, credentialsSecretRef={"name": secret}), "x"
    )
    assert not result.ok
    assert result.reason == "DeliveryFailed"
    assert "Forbidden (403)" in result.message
    assert "check the credentials" in result.message
    assert planted not in repr(result)
    assert keys(s3, bucket) == []


async def test_secret_problems_are_named_without_values(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    missing = await deliver(
        kube_api, s3_output(s3, bucket, credentialsSecretRef={"name": "no-such-secret"}), "x"
    )
    assert not missing.ok
    assert missing.message == f"Secret {NAMESPACE}/no-such-secret not found"

    name = unique("partial")
    create_secret(kube_server, name, {"accessKeyId": "AKIDVALUE"})
    partial = await deliver(
        kube_api, s3_output(s3, bucket, credentialsSecretRef={"name": name}), "x"
    )
    assert not partial.ok
    assert "has no key 'secretAccessKey'" in partial.message
    assert "AKIDVALUE" not in partial.message

    renamed = unique("renamed")
    create_secret(kube_server, renamed, {"id": s3.access_key, "key": s3.secret_key})
    ref = {"name": renamed, "accessKeyIdKey": "id", "secretAccessKeyKey": "key"}
    assert (await deliver(kube_api, s3_output(s3, bucket, credentialsSecretRef=ref), "x")).ok


async def test_a_missing_bucket_fails_with_its_reason(
    s3: S3Server, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    raw = s3_output(
        s3, "no-such-bucket", credentialsSecretRef={"name": credentials_secret(kube_server, s3)}
    )
    result = await deliver(kube_api, raw, "x")
    assert not result.ok
    assert "NoSuchBucket (404)" in result.message
    assert "create the bucket" in result.message


async def test_without_a_secret_the_default_credential_chain_is_used(
    s3: S3Server, bucket: str, kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = await deliver(kube_api, s3_output(s3, bucket), "chain")
    assert not without.ok
    assert "no AWS credentials" in without.message
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    result = await deliver(kube_api, s3_output(s3, bucket), "chain")
    assert result.ok, result.message


async def test_presigned_link_works_and_expires_in_bounds(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    secret = credentials_secret(kube_server, s3)
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": secret}, presignSeconds=900)
    result = await deliver(kube_api, raw, "linked")
    assert result.ok, result.message
    assert result.url_expires_at == NOW + timedelta(seconds=900)
    query = parse_qs(urlparse(result.url).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert s3.secret_key not in result.url
    with urllib.request.urlopen(result.url, timeout=10) as answer:  # noqa: S310  (our test server)
        assert answer.read() == b"# Report\n"
    tampered = result.url.replace("X-Amz-Expires=900", "X-Amz-Expires=901")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=10)  # noqa: S310
    assert refused.value.code == 403
    with pytest.raises(ValueError, match="less than or equal to 604800"):
        parse_s3(s3_output(s3, bucket, presignSeconds=8 * 24 * 3600))


async def test_keep_deletes_only_this_schedules_oldest_reports(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    secret = credentials_secret(kube_server, s3)
    client = s3.client()
    foreign = [
        "elsewhere/shop/kept/2026/11/01/120000/report.md",  # another prefix
        "reports/shop/kept/notes.txt",  # our prefix, not a report key
        "reports/shop/kept/2026/11/01/120000/report.pdf",  # not a format we write
        "reports/shop/kept-too/2026/11/01/120000/report.md",  # a schedule with a longer name
        "reports/other/kept/2026/11/01/120000/report.md",  # the same name in another namespace
    ]
    for key in foreign:
        client.put_object(Bucket=bucket, Key=key, Body=b"not ours")
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": secret}, prefix="reports", keep=2)
    for n in (0, 3, 1, 2):  # out of order: retention goes by window, not by write time
        result = await deliver(kube_api, raw, "kept", window=day(n))
        assert result.ok, result.message
    ours = [k for k in keys(s3, bucket, "reports/shop/kept/") if k.endswith((".md", ".html"))]
    assert ours == [
        "reports/shop/kept/2026/11/21/120000/report.html",
        "reports/shop/kept/2026/11/21/120000/report.md",
        "reports/shop/kept/2026/11/22/120000/report.html",
        "reports/shop/kept/2026/11/22/120000/report.md",
    ]
    assert set(foreign) <= set(keys(s3, bucket))
    assert result.message == "retention deleted 2 object(s)"

    # A late rerun of an old window keeps that report, though it is beyond `keep`.
    late = await deliver(kube_api, raw, "kept", window=day(0))
    assert late.ok
    assert "reports/shop/kept/2026/11/19/120000/report.md" in keys(s3, bucket)


async def test_max_age_deletes_only_this_schedules_old_reports(
    s3: S3Server, bucket: str, kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    secret = credentials_secret(kube_server, s3)
    foreign = "archive/shop/aged/2026/11/19/120000/report.md"
    s3.client().put_object(Bucket=bucket, Key=foreign, Body=b"not ours")
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": secret}, maxAgeDays=7)
    for n in (0, 1):
        assert (await deliver(kube_api, raw, "aged", window=day(n))).ok
    # Eight days on, by the operator's clock: both are too old, but the one just written stays.
    later = datetime.now(UTC) + timedelta(days=8)
    result = await deliver(kube_api, raw, "aged", window=day(2), now=later)
    assert result.ok
    assert keys(s3, bucket, "shop/aged/") == [
        "shop/aged/2026/11/21/120000/report.html",
        "shop/aged/2026/11/21/120000/report.md",
    ]
    assert foreign in keys(s3, bucket)


async def test_a_run_with_a_failing_output_leaks_no_secret(
    s3: S3Server,
    bucket: str,
    kube_server: KubeApiServer,
    kube_api: KubeApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole run through the service: status, Events, logs and report never hold a secret;
    the failing output does not stop the others, and the run is retried."""
    caplog.set_level(logging.DEBUG)
    planted = "planted-" + unique("secret")
    wrong = credentials_secret(kube_server, s3, secret_key=planted)
    right = credentials_secret(kube_server, s3)
    name = unique("leak")
    body = create_schedule(
        kube_server,
        name,
        {
            "schedule": "@daily",
            "window": {"duration": "24h"},
            "formats": ["markdown", "json"],
            "outputs": [
                {"configMap": {}},
                {"s3": s3_output(s3, bucket, credentialsSecretRef={"name": wrong})},
                {
                    "s3": s3_output(
                        s3, bucket, credentialsSecretRef={"name": right}, presignSeconds=60
                    )
                },
            ],
        },
    )
    operator = Operator(
        config=OperatorConfig(), kube=kube_api, clock=lambda: NOW, slots=asyncio.Semaphore(1)
    )
    schedule = parse_schedule(body)
    run = DueRun("run-now", NOW, Window(NOW - timedelta(days=1), NOW), run_now_value="1")
    posted: list[Notice] = []  # the Events the handler would post
    result = await operator.execute(schedule, run, posted.append)
    await operator.patch_status(schedule, result.status)
    posted += result.notices

    stored = kube_server.get(api.API_VERSION, api.PLURAL, NAMESPACE, name)
    assert stored is not None
    status = stored["status"]
    outputs = status["lastReport"]["outputs"]
    assert [o["result"] for o in outputs] == ["Delivered", "Failed", "Delivered"]
    assert "Forbidden (403)" in outputs[1]["message"]
    assert outputs[2]["url"].startswith(f"{s3.endpoint}/{bucket}/shop/{name}/")
    assert outputs[2]["urlExpiresAt"] == format_rfc3339(NOW + timedelta(seconds=60))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "DeliveryFailed")
    assert status["pendingRun"]["attempts"] == 1  # retried with backoff
    warnings = [n for n in posted if n.type == "Warning"]
    assert [n.reason for n in warnings] == ["DeliveryFailed"]

    configmap = kube_server.get(
        "v1", "configmaps", NAMESPACE, outputs[0]["location"].split("/")[-1]
    )
    stored_objects = [
        s3.client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for key in keys(s3, bucket, f"shop/{name}/")
    ]
    assert len(stored_objects) == 2
    everything = "\n".join(
        [
            json.dumps(stored),
            json.dumps([dataclasses.asdict(n) for n in posted]),
            caplog.text,
            json.dumps(configmap),
            *stored_objects,
        ]
    )
    assert planted not in everything
    assert s3.secret_key not in everything
