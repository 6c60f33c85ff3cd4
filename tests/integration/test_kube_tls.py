"""KubeApi over real TLS: a local aiohttp server that demands a client certificate (CA, server and
client certificates made by the openssl CLI) stands in for the API server and echoes what it saw.
It proves the server is verified against the kubeconfig's CA (or not, when insecure), that the
client certificate and bearer token are presented, that tls-server-name is honoured, that a
client certificate renewed by an exec plugin is used, and that kopf's login gets the same."""

from __future__ import annotations

import base64
import shutil
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from opsreport import __version__
from opsreport.handlers.login import connection_info
from opsreport.kube import KubeApi, KubeError, connect
from opsreport.kubeauth import load

TOKEN = "tls-test-bearer-token"


@dataclass(frozen=True)
class Pki:
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name

    def text(self, name: str) -> str:
        return self.path(name).read_text()

    def data(self, name: str) -> str:
        return base64.b64encode(self.path(name).read_bytes()).decode()


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, ca: str, name: str, cn: str, extensions: str) -> None:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
             cwd=directory)  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-set_serial", str(time.time_ns()), "-days", "2", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=directory)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2",
                 "-subj", f"/CN=opsreport test {ca}", cwd=directory)  # fmt: skip
    server = "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    client = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
    _issue(
        directory,
        "ca",
        "server",
        "localhost",
        server + "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    _issue(directory, "ca", "named", "api", server + "subjectAltName=DNS:api.kube.internal\n")
    for number in (1, 2):
        _issue(directory, "ca", f"client{number}", f"opsreport-client-{number}", client)
    return Pki(directory)


@dataclass
class ApiServer:
    """Answers every GET with what it saw of the request and of the TLS handshake."""

    url: str = ""
    requests: int = 0
    server_names: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(pair[0] for pair in (peer or {}).get("subject", ()))
        return web.json_response(
            {
                "client": subject.get("commonName"),
                "authorization": request.headers.get("Authorization"),
                "userAgent": request.headers.get("User-Agent"),
                "accept": request.headers.get("Accept"),
                "path": request.path,
                "query": dict(request.query),
            }
        )


Start = Callable[..., Awaitable[ApiServer]]


@pytest.fixture
async def servers(pki: Pki) -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def start(certificate: str = "server") -> ApiServer:
        server = ApiServer()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.path("ca.crt"))
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(pki.path(f"{certificate}.crt"), pki.path(f"{certificate}.key"))

        def record_sni(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            server.server_names.append(name)

        context.sni_callback = record_sni
        app = web.Application()
        app.router.add_get("/{tail:.*}", server.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        server.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


def write_kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "tls", "cluster": cluster}],
                "users": [{"name": "tls", "user": user}],
                "contexts": [{"name": "tls", "context": {"cluster": "tls", "user": "tls"}}],
                "current-context": "tls",
            }
        )
    )
    return str(path)


async def echo(kube: KubeApi) -> dict[str, Any]:
    try:
        return await kube.request("GET", "/api/v1/namespaces", query={"labelSelector": "a=b,c"})
    finally:
        await kube.close()


async def test_the_server_is_verified_and_the_client_certificate_and_token_presented(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers()
    files = write_kubeconfig(
        tmp_path / "files",
        {"server": server.url, "certificate-authority": str(pki.path("ca.crt"))},
        {
            "client-certificate": str(pki.path("client1.crt")),
            "client-key": str(pki.path("client1.key")),
            "token": TOKEN,
        },
    )
    data = write_kubeconfig(
        tmp_path / "data",
        {"server": server.url, "certificate-authority-data": pki.data("ca.crt")},
        {
            "client-certificate-data": pki.data("client1.crt"),
            "client-key-data": pki.data("client1.key"),
            "token": TOKEN,
        },
    )
    for kubeconfig in (files, data):
        seen = await echo(await connect(kubeconfig))
        assert seen == {
            "client": "opsreport-client-1",
            "authorization": f"Bearer {TOKEN}",
            "userAgent": f"opsreport/{__version__}",
            "accept": "application/json",
            "path": "/api/v1/namespaces",
            "query": {"labelSelector": "a=b,c"},
        }


async def test_an_untrusted_server_is_refused_clearly(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers()
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        {"server": server.url, "certificate-authority": str(pki.path("other-ca.crt"))},
        {"token": TOKEN},
    )
    kube = await connect(kubeconfig)
    codes: list[tuple[str, int]] = []
    kube.on_response = lambda method, code: codes.append((method, code))
    with pytest.raises(KubeError) as caught:
        await echo(kube)
    message = str(caught.value)
    assert caught.value.status == 0
    assert "the API server is unreachable" in message
    assert "TLS certificate is not trusted" in message
    assert TOKEN not in message
    assert codes == [("GET", 0)]
    assert server.requests == 0


async def test_without_a_client_certificate_the_server_refuses(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers()
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        {"server": server.url, "certificate-authority": str(pki.path("ca.crt"))},
        {"token": TOKEN},
    )
    with pytest.raises(KubeError, match="unreachable"):
        await echo(await connect(kubeconfig))
    assert server.requests == 0


async def test_insecure_skip_tls_verify_trusts_any_server(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers()
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        {"server": server.url, "insecure-skip-tls-verify": True},
        {
            "client-certificate": str(pki.path("client2.crt")),
            "client-key": str(pki.path("client2.key")),
        },
    )
    seen = await echo(await connect(kubeconfig))
    assert seen["client"] == "opsreport-client-2"
    assert seen["authorization"] is None


async def test_tls_server_name_is_sent_and_verified(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers("named")  # its certificate names api.kube.internal only
    cluster = {"server": server.url, "certificate-authority": str(pki.path("ca.crt"))}
    user = {
        "client-certificate": str(pki.path("client1.crt")),
        "client-key": str(pki.path("client1.key")),
    }
    mismatched = write_kubeconfig(tmp_path / "plain", cluster, user)
    with pytest.raises(KubeError, match=r"not trusted \(IP address mismatch"):
        await echo(await connect(mismatched))
    named = write_kubeconfig(
        tmp_path / "named", cluster | {"tls-server-name": "api.kube.internal"}, user
    )
    seen = await echo(await connect(named))
    assert seen["client"] == "opsreport-client-1"
    assert server.server_names[-1] == "api.kube.internal"
    assert server.requests == 1


PLUGIN = """\
#!{python}
import json, os, sys
state = os.environ["PLUGIN_STATE"]
runs = 1 + (len(open(state).read().splitlines()) if os.path.exists(state) else 0)
open(state, "a").write("run\\n")
pki = os.environ["PKI"]
number = min(runs, 2)
status = {{
    "clientCertificateData": open(f"{{pki}}/client{{number}}.crt").read(),
    "clientKeyData": open(f"{{pki}}/client{{number}}.key").read(),
    "expirationTimestamp": "2099-01-01T00:00:00Z",
}}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": status}}))
"""


async def test_a_client_certificate_renewed_by_an_exec_plugin_is_used(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    server = await servers()
    plugin = tmp_path / "cert-plugin"
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        {"server": server.url, "certificate-authority-data": pki.data("ca.crt")},
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(plugin),
                "env": [
                    {"name": "PLUGIN_STATE", "value": str(tmp_path / "runs")},
                    {"name": "PKI", "value": str(pki.directory)},
                ],
                "interactiveMode": "Never",
            }
        },
    )
    offset = [0.0]
    kube = KubeApi(load(kubeconfig, clock=lambda: time.time() + offset[0]))
    try:
        assert (await kube.request("GET", "/version"))["client"] == "opsreport-client-1"
        assert (await kube.request("GET", "/version"))["client"] == "opsreport-client-1"
        offset[0] = 100 * 365 * 86400.0  # past the certificate's expiry: the plugin runs again
        assert (await kube.request("GET", "/version"))["client"] == "opsreport-client-2"
    finally:
        await kube.close()
    assert (tmp_path / "runs").read_text().count("run") == 2


async def test_kopf_logs_in_with_the_same_credentials(
    servers: Start, pki: Pki, tmp_path: Path
) -> None:
    import kopf

    server, named = await servers(), await servers("named")
    user = {
        "client-certificate-data": pki.data("client2.crt"),
        "client-key-data": pki.data("client2.key"),
        "token": TOKEN,
    }
    cluster = {"server": server.url, "certificate-authority-data": pki.data("ca.crt")}
    credentials = await load(write_kubeconfig(tmp_path / "a", cluster, user)).credentials()
    info = connection_info(credentials)
    assert isinstance(info, kopf.ConnectionInfo)
    # As kopf's own APIContext uses it: its SSL context and headers from our fields.
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=info.as_ssl_context()),
            headers=info.as_http_headers(),
        ) as session,
        session.get(f"{info.server}/api") as response,
    ):
        seen = await response.json()
    assert seen["client"] == "opsreport-client-2"
    assert seen["authorization"] == f"Bearer {TOKEN}"

    # tls-server-name has no ConnectionInfo field: kopf gets a ready session instead.
    cluster = {"server": named.url, "certificate-authority-data": pki.data("ca.crt")}
    cluster["tls-server-name"] = "api.kube.internal"
    credentials = await load(write_kubeconfig(tmp_path / "b", cluster, user)).credentials()
    session_info = connection_info(credentials)
    assert isinstance(session_info, kopf.AiohttpSession)
    async with (
        session_info.aiohttp_session as session,
        session.get(f"{session_info.server}/api") as response,
    ):
        seen = await response.json()
    assert seen["client"] == "opsreport-client-2"
    assert seen["authorization"] == f"Bearer {TOKEN}"
    assert named.server_names[-1] == "api.kube.internal"
