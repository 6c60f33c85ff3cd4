"""Reaching a schedule's Prometheus: credentials from its own namespace, TLS, headers, Thanos.

A small HTTP server stands in for Prometheus (it records what arrives and answers like the
query API); Secrets and ConfigMaps live in the Kubernetes API emulator.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from opsreport.collect.access import AccessError, resolve, settings_for
from opsreport.collect.prometheus import PrometheusClient, PrometheusError, thanos_params
from opsreport.deliver.base import ScheduleIdentity
from opsreport.kube import KubeApi
from opsreport.model.spec import InvalidSpec, PrometheusSpec, parse_spec
from opsreport.pipeline import ReportRequest, Sources, collect_report
from opsreport.render.documents import render_documents
from opsreport.scheduling import Window
from tests.support.kube_emulator import KubeApiServer

TOKEN = "s3cr3t-t0ken-value"
PASSWORD = "hunter2-but-longer"
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NAMESPACE = "shop"


@dataclass
class FakePrometheus:
    """Answers /api/v1/query with one sample; `script` holds statuses to answer first."""

    url: str = ""
    requests: list[web.Request] = field(default_factory=list)
    params: list[dict[str, str]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        self.params.append(dict(request.query))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status = self.script.pop(0)
            # A careless proxy that echoes the request's credentials in its error page.
            echo = request.headers.get("Authorization", "")
            return web.json_response({"status": "error", "error": f"no: {echo}"}, status=status)
        data: dict[str, Any] = {"resultType": "vector", "result": []}
        if request.path.endswith("query"):
            data["result"] = [{"metric": {}, "value": [END.timestamp(), "1"]}]
        else:
            data["resultType"] = "matrix"
        return web.json_response({"status": "success", "data": data})


async def _serve(fake: FakePrometheus, tls: ssl.SSLContext | None = None) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/api/v1/query", fake.handle)
    app.router.add_get("/api/v1/query_range", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    return runner


@pytest.fixture
async def fake() -> AsyncIterator[FakePrometheus]:
    server = FakePrometheus()
    runner = await _serve(server)
    yield server
    await runner.cleanup()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
async def tls_fake(certificate: tuple[Path, Path]) -> AsyncIterator[FakePrometheus]:
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FakePrometheus()
    runner = await _serve(server, context)
    yield server
    await runner.cleanup()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def secrets(kube_server: KubeApiServer, certificate: tuple[Path, Path]) -> Iterator[None]:
    """Objects a schedule in `shop` may name, and one in another namespace it may not."""
    pem = certificate[1].read_text()
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom-token", "namespace": NAMESPACE},
            "data": {"token": _b64(TOKEN)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom-basic", "namespace": NAMESPACE},
            "data": {"username": _b64("reporter"), "password": _b64(PASSWORD)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom-ca", "namespace": NAMESPACE},
            "data": {"ca.crt": _b64(pem)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "prom-ca", "namespace": NAMESPACE},
            "data": {"ca.crt": pem},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "elsewhere", "namespace": "payments"},
            "data": {"token": _b64(TOKEN)},
        },
    ]
    kube_server.seed(objects)
    yield
    for obj in objects:
        kind = "secrets" if obj["kind"] == "Secret" else "configmaps"
        kube_server.delete("v1", kind, obj["metadata"]["namespace"], obj["metadata"]["name"])


def prometheus_spec(url: str, **extra: Any) -> PrometheusSpec:
    return parse_spec(
        {"schedule": "@daily", "window": {"duration": "1d"}, "prometheus": {"url": url, **extra}}
    ).prometheus


async def query_once(
    spec: PrometheusSpec, kube: KubeApi, window_seconds: int = 86400
) -> PrometheusClient:
    settings = settings_for(spec, default_url=None)
    assert settings is not None
    settings = await resolve(settings, kube, NAMESPACE)
    params = thanos_params(window_seconds) if settings.thanos else None
    async with PrometheusClient(settings, params=params) as client:
        await client.query("up", END)
        return client


@pytest.mark.usefixtures("secrets")
async def test_bearer_token_and_headers_from_the_schedule(
    fake: FakePrometheus, kube_api: KubeApi
) -> None:
    spec = prometheus_spec(
        fake.url,
        bearerTokenSecretRef={"name": "prom-token"},
        headers={"X-Scope-OrgID": "team-shop"},
        timeoutSeconds=7,
    )
    await query_once(spec, kube_api)
    [request] = fake.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Scope-OrgID"] == "team-shop"
    assert fake.params[0]["timeout"] == "7"  # seconds: Prometheus reads "0.5", not "0.5s"
    assert "partial_response" not in fake.params[0]


@pytest.mark.usefixtures("secrets")
async def test_basic_auth_from_a_secret(fake: FakePrometheus, kube_api: KubeApi) -> None:
    await query_once(prometheus_spec(fake.url, basicAuthSecretRef={"name": "prom-basic"}), kube_api)
    expected = "Basic " + base64.b64encode(f"reporter:{PASSWORD}".encode()).decode()
    assert fake.requests[0].headers["Authorization"] == expected


@pytest.mark.parametrize(
    ("days", "resolution"), [(1, None), (7, "5m"), (27, "5m"), (28, "1h"), (90, "1h")]
)
async def test_thanos_parameters_follow_the_window(
    fake: FakePrometheus, kube_api: KubeApi, days: int, resolution: str | None
) -> None:
    await query_once(prometheus_spec(fake.url, thanos=True), kube_api, days * 86400)
    params = fake.params[0]
    assert params["partial_response"] == "false"
    assert params.get("max_source_resolution") == resolution


@pytest.mark.usefixtures("secrets")
async def test_secrets_are_read_only_in_the_schedules_namespace(
    fake: FakePrometheus, kube_api: KubeApi
) -> None:
    spec = prometheus_spec(fake.url, bearerTokenSecretRef={"name": "elsewhere"})
    settings = settings_for(spec, default_url=None)
    assert settings is not None
    with pytest.raises(AccessError, match=f"Secret {NAMESPACE}/elsewhere not found"):
        await resolve(settings, kube_api, NAMESPACE)
    missing_key = prometheus_spec(fake.url, bearerTokenSecretRef={"name": "prom-token", "key": "x"})
    settings = settings_for(missing_key, default_url=None)
    assert settings is not None
    with pytest.raises(AccessError) as error:
        await resolve(settings, kube_api, NAMESPACE)
    assert "has no key 'x'" in str(error.value)
    assert TOKEN not in str(error.value)
    with pytest.raises(InvalidSpec, match="namespace"):
        prometheus_spec(fake.url, bearerTokenSecretRef={"name": "x", "namespace": "payments"})


async def test_credentials_need_the_schedules_own_url() -> None:
    with pytest.raises(InvalidSpec, match=r"need prometheus\.url"):
        parse_spec(
            {
                "schedule": "@daily",
                "window": {"duration": "1d"},
                "prometheus": {"headers": {"X-Scope-OrgID": "other-team"}},
            }
        )
    with pytest.raises(InvalidSpec, match="bearerTokenSecretRef"):
        prometheus_spec("http://p:9090", headers={"Authorization": "Bearer x"})
    operator = settings_for(PrometheusSpec(), default_url="http://p:9090", default_token=TOKEN)
    assert operator is not None
    assert operator.headers == {"Authorization": f"Bearer {TOKEN}"}
    own = settings_for(
        PrometheusSpec(url="http://q:9090"), default_url="http://p", default_token=TOKEN
    )
    assert own is not None
    assert "Authorization" not in own.headers  # the operator's token never leaves its Prometheus
    assert TOKEN not in repr(operator)


@pytest.mark.usefixtures("secrets")
async def test_a_secret_never_appears_in_errors_or_reports(
    fake: FakePrometheus, kube_api: KubeApi
) -> None:
    fake.script = [400] * 100  # every query fails, and the answer echoes the credentials
    spec = parse_spec(
        {
            "schedule": "@daily",
            "window": {"duration": "1d"},
            "formats": ["markdown", "html", "json"],
            "prometheus": {"url": fake.url, "bearerTokenSecretRef": {"name": "prom-token"}},
        }
    )
    settings = settings_for(spec.prometheus, default_url=None)
    request = ReportRequest(
        ScheduleIdentity(NAMESPACE, "leak", "uid"), spec, Window(END - timedelta(days=1), END)
    )
    report = await collect_report(request, Sources(kube=kube_api, prometheus=settings), lambda: END)
    assert fake.requests
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    reasons = [gap.reason for gap in report.data_gaps if gap.source == "prometheus"]
    assert reasons
    assert all(reason.endswith("no: ***") for reason in reasons if "rejected" in reason)
    documents = render_documents(report, "daily", spec.formats)
    for text in [json.dumps(report.to_json_dict()), *(d.content for d in documents)]:
        assert TOKEN not in text
    assert report.pods.total, "without Prometheus, the API's figures still appear"


async def test_retries_with_backoff_then_success(fake: FakePrometheus) -> None:
    fake.script = [503, 502]
    spec = PrometheusSpec(url=fake.url)
    settings = settings_for(spec, default_url=None)
    assert settings is not None
    settings = dataclasses.replace(settings, backoff_seconds=0.01)
    async with PrometheusClient(settings) as client:
        samples = await client.query("up", END)
    assert [s.value for s in samples] == [1.0]
    assert len(fake.requests) == 3
    assert client.queries_sent == 1


async def test_a_slow_prometheus_times_out(fake: FakePrometheus) -> None:
    fake.delay = 2.5  # past the timeout and the 2 s the client allows for Prometheus' own answer
    settings = settings_for(
        PrometheusSpec(url=fake.url, timeout_seconds=1), default_url=None, default_timeout=30
    )
    assert settings is not None
    settings = dataclasses.replace(settings, timeout_seconds=0.2, retries=0)
    async with PrometheusClient(settings) as client:
        with pytest.raises(PrometheusError, match=r"did not answer within 0\.2s") as error:
            await client.query("up", END)
    assert error.value.kind == "timeout"


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize(
    "tls",
    [
        {"caConfigMapRef": {"name": "prom-ca"}},
        {"caSecretRef": {"name": "prom-ca", "key": "ca.crt"}},
        {"insecureSkipVerify": True},
    ],
    ids=["configmap CA", "secret CA", "insecure"],
)
async def test_tls_trust(tls_fake: FakePrometheus, kube_api: KubeApi, tls: dict[str, Any]) -> None:
    untrusted = settings_for(PrometheusSpec(url=tls_fake.url), default_url=None)
    assert untrusted is not None
    async with PrometheusClient(dataclasses.replace(untrusted, retries=0)) as client:
        with pytest.raises(PrometheusError, match="TLS certificate is not trusted"):
            await client.query("up", END)
    await query_once(prometheus_spec(tls_fake.url, tls=tls), kube_api)
    assert len(tls_fake.requests) == 1
