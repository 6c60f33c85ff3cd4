"""`opsreport show` through the CLI: ConfigMaps (plain and gzip) and S3, latest or by window."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from opsreport import api
from opsreport.cli import main
from opsreport.deliver.configmap import build_configmap
from opsreport.deliver.s3 import S3Sink
from opsreport.kube import connect
from opsreport.render.documents import Document
from opsreport.scheduling import Window, format_rfc3339
from tests.integration.conftest_s3 import (  # noqa: F401  (fixtures)
    DAY_ONE,
    GENERATED,
    NAMESPACE,
    bucket_fixture,
    create_schedule,
    credentials_secret,
    identity,
    needs_weed,
    no_local_aws_config_fixture,
    parse_s3,
    s3_fixture,
    s3_output,
    unique,
)
from tests.support.kube_emulator import KubeApiServer
from tests.support.s3 import S3Server

SPEC = {"schedule": "@daily", "window": {"duration": "24h"}, "formats": ["markdown", "html"]}
DOCS = [Document("markdown", "# Report\n"), Document("html", "<h1>Report</h1>\n")]


@pytest.fixture
def kubeconfig(kube_server: KubeApiServer, tmp_path: Path) -> str:
    # The context's namespace is the schedule's: `show` needs no -n.
    return str(kube_server.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE))


def show(capsys: pytest.CaptureFixture[str], kubeconfig: str, *args: str) -> tuple[int, str, str]:
    code = main(["show", *args, "--kubeconfig", kubeconfig])
    out, err = capsys.readouterr()
    return code, out, err


def window_status(window: Window) -> dict[str, str]:
    return {"start": format_rfc3339(window.start), "end": format_rfc3339(window.end)}


def record(kube: KubeApiServer, name: str, window: Window, outputs: list[dict[str, Any]]) -> None:
    """Write status.lastReport as the operator does after a run."""
    kube.patch_object(
        api.API_VERSION,
        api.PLURAL,
        NAMESPACE,
        name,
        {"status": {"lastReport": {"window": window_status(window), "outputs": outputs}}},
        subresource="status",
    )


def store_configmap(kube: KubeApiServer, name: str, window: Window, docs: list[Document]) -> str:
    body = build_configmap(identity(name, window), docs, GENERATED)
    kube.create(body)
    return f"configmap/{NAMESPACE}/{body['metadata']['name']}"


def test_configmap_reports_plain_and_compressed(
    kube_server: KubeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("cm")
    create_schedule(kube_server, name, {**SPEC, "outputs": [{"configMap": {}}]})
    code, _, err = show(capsys, kubeconfig, name)
    assert (code, err) == (1, f"opsreport: {NAMESPACE}/{name} has no delivered report yet\n")

    location = store_configmap(kube_server, name, DAY_ONE, DOCS)
    record(
        kube_server,
        name,
        DAY_ONE,
        [{"type": "configMap", "location": location, "result": "Delivered"}],
    )
    assert show(capsys, kubeconfig, name) == (0, "# Report\n", "")
    assert show(capsys, kubeconfig, name, "--format", "html")[1] == "<h1>Report</h1>\n"
    code, _, err = show(capsys, kubeconfig, name, "--format", "json")
    assert code == 1
    assert "has no report.json; it has report.html, report.md" in err

    # An older window, too big for plain data: stored gzip-compressed in binaryData.
    older = Window(DAY_ONE.start - timedelta(days=1), DAY_ONE.start)
    big = Document("markdown", "| row | value |\n" * 100_000)
    store_configmap(kube_server, name, older, [big])
    stored = kube_server.get("v1", "configmaps", NAMESPACE, f"{name}-20261118-1200")
    assert stored is not None
    assert "report.md.gz" in stored["binaryData"]
    code, out, _ = show(capsys, kubeconfig, name, "--window", format_rfc3339(older.start))
    assert code == 0
    assert out == big.content

    code, _, err = show(capsys, kubeconfig, name, "--window", "2020-01-01T00:00:00Z")
    assert code == 1
    assert f"configmap/{NAMESPACE}/{name}-20200101-0000 not found" in err


def test_a_failed_last_run_shows_the_newest_delivered_report(
    kube_server: KubeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("fallback")
    create_schedule(kube_server, name, {**SPEC, "outputs": [{"configMap": {}}]})
    location = store_configmap(kube_server, name, DAY_ONE, DOCS)
    delivered = {"type": "configMap", "location": location, "result": "Delivered"}
    later = Window(DAY_ONE.end, DAY_ONE.end + timedelta(days=1))
    kube_server.patch_object(
        api.API_VERSION,
        api.PLURAL,
        NAMESPACE,
        name,
        {
            "status": {
                "lastReport": {
                    "window": window_status(later),
                    "outputs": [{"type": "configMap", "location": "", "result": "Failed"}],
                },
                "history": [
                    {"window": window_status(later), "result": "Failed", "outputs": []},
                    {
                        "window": window_status(DAY_ONE),
                        "result": "Succeeded",
                        "outputs": [delivered],
                    },
                ],
            }
        },
        subresource="status",
    )
    assert show(capsys, kubeconfig, name) == (0, "# Report\n", "")


def test_unknown_schedule(kubeconfig: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = show(capsys, kubeconfig, "nothing-here", "-n", "payments")
    assert code == 1
    assert err == f"opsreport: {api.KIND} payments/nothing-here not found\n"


async def _deliver_s3(kubeconfig: str, raw: dict[str, Any], name: str) -> str:
    kube = await connect(kubeconfig)
    try:
        sink = S3Sink(parse_s3(raw), kube, lambda: GENERATED)
        report: Any = None  # the sink stores the documents only
        result = await sink.deliver(identity(name), report, DOCS, GENERATED)
    finally:
        await kube.close()
    assert result.ok, result.message
    return result.location


@needs_weed
def test_s3_reports_latest_by_window_and_opened(
    s3: S3Server,
    bucket: str,
    kube_server: KubeApiServer,
    kubeconfig: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = unique("s3")
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": credentials_secret(kube_server, s3)})
    create_schedule(kube_server, name, {**SPEC, "outputs": [{"s3": raw}]})
    location = asyncio.run(_deliver_s3(kubeconfig, raw, name))
    record(
        kube_server, name, DAY_ONE, [{"type": "s3", "location": location, "result": "Delivered"}]
    )

    assert show(capsys, kubeconfig, name) == (0, "# Report\n", "")
    start = format_rfc3339(DAY_ONE.start)
    assert (
        show(capsys, kubeconfig, name, "--window", start, "--format", "html")[1] == DOCS[1].content
    )

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    code, out, err = show(capsys, kubeconfig, name, "--open")
    assert (code, out) == (0, "")
    (url,) = opened
    assert url.startswith("file://")
    path = Path(err.strip())
    assert path.as_uri() == url
    assert path.read_text() == DOCS[1].content
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    path.unlink()

    code, _, err = show(capsys, kubeconfig, name, "--window", "2020-01-01T00:00:00Z")
    assert code == 1
    assert "NoSuchKey (404)" in err
    assert s3.secret_key not in err


@needs_weed
def test_s3_with_wrong_credentials_says_so(
    s3: S3Server,
    bucket: str,
    kube_server: KubeApiServer,
    kubeconfig: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("s3-denied")
    planted = secrets.token_urlsafe(20)
    wrong = credentials_secret(kube_server, s3, secret_key=planted)
    raw = s3_output(s3, bucket, credentialsSecretRef={"name": wrong})
    create_schedule(kube_server, name, {**SPEC, "outputs": [{"s3": raw}]})
    location = f"s3://{bucket}/{NAMESPACE}/{name}/2026/11/19/120000/report.md"
    record(
        kube_server, name, DAY_ONE, [{"type": "s3", "location": location, "result": "Delivered"}]
    )
    code, out, err = show(capsys, kubeconfig, name)
    assert (code, out) == (1, "")
    assert "SignatureDoesNotMatch (403)" in err
    assert "check the credentials" in err
    assert planted not in err
    assert err.count("\n") == 1  # one line for the user
