"""kubeauth finds credentials as kubectl does: kubeconfig files (merged, relative paths, contexts,
-data fields, token files, exec plugins, run for real) and the pod's service account files."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsreport.kubeauth import (
    EXEC_RENEW_BEFORE_SECONDS,
    FILE_REFRESH_SECONDS,
    INVALIDATE_MIN_AGE_SECONDS,
    ExecPlugin,
    KubeAuthError,
    load,
)

CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n"
SECRET = "s3cr3t-token-never-shown"
NO_SERVICE_ACCOUNT = Path("/nonexistent/serviceaccount")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig(
    path: Path,
    *,
    user: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
    namespace: str | None = "shop",
    current: str | None = "main",
    clusters: list[dict[str, Any]] | None = None,
    users: list[dict[str, Any]] | None = None,
    contexts: list[dict[str, Any]] | None = None,
) -> Path:
    context: dict[str, Any] = {"cluster": "main", "user": "main"}
    if namespace:
        context["namespace"] = namespace
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters
        if clusters is not None
        else [{"name": "main", "cluster": cluster or {"server": "https://kube.example:6443"}}],
        "users": users if users is not None else [{"name": "main", "user": user or {}}],
        "contexts": contexts if contexts is not None else [{"name": "main", "context": context}],
    }
    if current:
        body["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body))
    return path


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


# ---- kubeconfig ----


async def test_the_current_context_gives_server_token_and_namespace(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", user={"token": SECRET})
    source = load(str(path))
    assert source.server == "https://kube.example:6443"
    assert source.namespace == "shop"
    credentials = await source.credentials()
    assert credentials.authorization == f"Bearer {SECRET}"
    assert credentials.ca_data is None  # the system's trust store
    assert SECRET not in repr(credentials)
    assert str(path) in source.origin
    assert "main" in source.origin


async def test_an_explicit_context_overrides_the_current_one(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        clusters=[
            {"name": "prod", "cluster": {"server": "https://prod:6443"}},
            {"name": "dev", "cluster": {"server": "https://dev:6443/"}},
        ],
        users=[{"name": "u", "user": {"token": "t"}}],
        contexts=[
            {"name": "prod", "context": {"cluster": "prod", "user": "u"}},
            {"name": "dev", "context": {"cluster": "dev", "user": "u", "namespace": "team"}},
        ],
        current="prod",
    )
    assert load(str(path)).server == "https://prod:6443"
    dev = load(str(path), context="dev")
    assert (dev.server, dev.namespace) == ("https://dev:6443", "team")
    assert load(str(path)).namespace is None
    with pytest.raises(KubeAuthError, match="no context 'staging'"):
        load(str(path), context="staging")


async def test_a_kubeconfig_list_merges_first_wins_and_skips_missing_files(
    tmp_path: Path,
) -> None:
    first = kubeconfig(
        tmp_path / "a" / "config",
        clusters=[{"name": "main", "cluster": {"server": "https://first:6443"}}],
        users=[],
        contexts=[],
        current="main",
    )
    second = kubeconfig(
        tmp_path / "b" / "config",
        clusters=[{"name": "main", "cluster": {"server": "https://second:6443"}}],
        users=[{"name": "main", "user": {"token": "from-second"}}],
        current="other",  # the first file's current-context wins
    )
    listed = os.pathsep.join([str(tmp_path / "missing"), str(first), str(second)])
    for source in (
        load(listed),
        load(environ={"KUBECONFIG": listed}, service_account_dir=NO_SERVICE_ACCOUNT),
    ):
        assert source.server == "https://first:6443"
        assert source.namespace == "shop"
        assert (await source.credentials()).token == "from-second"


def test_without_kubeconfig_or_kubeconfig_env_it_reads_the_home_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    kubeconfig(tmp_path / ".kube" / "config", namespace="from-home")
    assert load(environ={}, service_account_dir=NO_SERVICE_ACCOUNT).namespace == "from-home"
    (tmp_path / ".kube" / "config").unlink()
    with pytest.raises(KubeAuthError, match="no kubeconfig at"):
        load(environ={}, service_account_dir=NO_SERVICE_ACCOUNT)


async def test_relative_paths_are_relative_to_the_file_that_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster_dir, user_dir = tmp_path / "clusters", tmp_path / "users"
    (cluster_dir / "pki").mkdir(parents=True)
    (cluster_dir / "pki" / "ca.crt").write_text(CA)
    (user_dir / "certs").mkdir(parents=True)
    (user_dir / "certs" / "me.crt").write_text(CERT)
    (user_dir / "certs" / "me.key").write_text(KEY)
    (user_dir / "token").write_text(f"{SECRET}\n")
    clusters = kubeconfig(
        cluster_dir / "config",
        cluster={"server": "https://kube:6443", "certificate-authority": "pki/ca.crt"},
        users=[],
    )
    users = kubeconfig(
        user_dir / "config",
        clusters=[],
        contexts=[],
        user={
            "client-certificate": "certs/me.crt",
            "client-key": "certs/me.key",
            "tokenFile": "token",
        },
    )
    monkeypatch.chdir(tmp_path / "..")  # nothing is relative to the working directory
    credentials = await load(f"{clusters}{os.pathsep}{users}").credentials()
    assert credentials.ca_data == CA
    assert (credentials.client_cert, credentials.client_key) == (CERT, KEY)
    assert credentials.token == SECRET  # stripped of its newline


async def test_data_fields_are_decoded_and_win_over_files(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        cluster={
            "server": "https://kube:6443",
            "certificate-authority-data": b64(CA),
            "certificate-authority": "missing-ca.crt",  # never read: the data wins
        },
        user={"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)},
    )
    credentials = await load(str(path)).credentials()
    assert (credentials.ca_data, credentials.client_cert, credentials.client_key) == (CA, CERT, KEY)
    assert credentials.authorization is None


async def test_cluster_tls_options_and_basic_auth(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        cluster={
            "server": "https://10.0.0.1:6443",
            "insecure-skip-tls-verify": True,
            "tls-server-name": "kubernetes.default",
            "proxy-url": "http://proxy:3128",
        },
        user={"username": "admin", "password": SECRET},
    )
    credentials = await load(str(path)).credentials()
    assert credentials.insecure is True
    assert credentials.tls_server_name == "kubernetes.default"
    assert credentials.proxy_url == "http://proxy:3128"
    assert credentials.authorization == "Basic " + b64(f"admin:{SECRET}")
    assert SECRET not in repr(credentials)


async def test_a_token_file_is_re_read_every_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = tmp_path / "token"
    token.write_text("first")
    clock = Clock()
    source = load(str(kubeconfig(tmp_path / "config", user={"tokenFile": str(token)})), clock=clock)
    first = await source.credentials()
    assert first.token == "first"
    token.write_text("second")
    assert await source.credentials() is first  # not re-read within the minute
    clock.offset += FILE_REFRESH_SECONDS + 1
    assert (await source.credentials()).token == "second"
    # Gone mid-rotation: what it held before still serves, and the log names only the file.
    token.unlink()
    clock.offset += FILE_REFRESH_SECONDS + 1
    with caplog.at_level(logging.WARNING, logger="opsreport.kubeauth"):
        assert (await source.credentials()).token == "second"
    assert str(token) in caplog.text
    assert "second" not in caplog.text


@pytest.mark.parametrize(
    ("user", "cluster", "message"),
    [
        (
            {"auth-provider": {"name": "oidc", "config": {"id-token": SECRET}}},
            None,
            "auth-provider 'oidc' is not supported",
        ),
        ({"token": SECRET, "username": "a", "password": SECRET}, None, "more than one way"),
        ({"token": SECRET, "exec": {"command": "x"}}, None, "more than one way"),
        ({"username": "admin"}, None, "username and password must be given together"),
        ({"client-certificate-data": b64(CERT)}, None, "needs its key"),
        ({"client-key-data": SECRET}, None, "client-key-data is not"),
        ({"as": "system:admin", "token": SECRET}, None, "impersonation"),
        ({"token": SECRET}, {"insecure-skip-tls-verify": True}, "has no server"),
        ({"token": SECRET}, {"server": "https://k", "certificate-authority-data": "@@"}, "base64"),
        (
            {"exec": {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}},
            None,
            "v1alpha1' is not supported",
        ),
    ],
)
def test_unusable_kubeconfigs_say_why_and_show_no_secret(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None, message: str
) -> None:
    path = kubeconfig(tmp_path / "config", user=user, cluster=cluster)
    with pytest.raises(KubeAuthError, match=message) as caught:
        load(str(path))
    assert SECRET not in str(caught.value)
    assert "main" in str(caught.value)  # the user or cluster it is about


def test_broken_references_and_files(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", current=None)
    with pytest.raises(KubeAuthError, match="sets no current-context"):
        load(str(path))
    path = kubeconfig(tmp_path / "config", users=[])
    with pytest.raises(KubeAuthError, match="unknown user 'main'"):
        load(str(path))
    path = kubeconfig(tmp_path / "config", clusters=[])
    with pytest.raises(KubeAuthError, match="no known cluster"):
        load(str(path))
    path = kubeconfig(tmp_path / "config", user={"tokenFile": "absent-token"})
    with pytest.raises(KubeAuthError, match=r"cannot read the token file .*absent-token"):
        load(str(path))
    # A YAML error names the line, never the text around it.
    path.write_text(f"users:\n- name: main\n  user: {{token: {SECRET}\n")
    with pytest.raises(KubeAuthError, match="not valid YAML at line") as caught:
        load(str(path))
    assert SECRET not in str(caught.value)


# ---- in a pod ----


def service_account(directory: Path, token: str = SECRET, namespace: str | None = "ops") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_text(CA)
    if namespace is not None:
        (directory / "namespace").write_text(f"{namespace}\n")
    return directory


POD_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


async def test_in_a_pod_the_service_account_is_used(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa")
    source = load(environ=POD_ENV, service_account_dir=directory)
    assert (source.server, source.namespace) == ("https://10.96.0.1:443", "ops")
    credentials = await source.credentials()
    assert (credentials.token, credentials.ca_data) == (SECRET, CA)
    assert "service account" in source.origin


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}
    source = load(environ=env, service_account_dir=service_account(tmp_path / "sa"))
    assert source.server == "https://[fd00:10:96::1]:443"


async def test_the_service_account_token_is_re_read_as_it_rotates(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa", token="bound-1", namespace=None)
    clock = Clock()
    source = load(environ=POD_ENV, service_account_dir=directory, clock=clock)
    assert source.namespace is None
    assert (await source.credentials()).token == "bound-1"
    (directory / "token").write_text("bound-2")
    clock.offset += FILE_REFRESH_SECONDS
    assert (await source.credentials()).token == "bound-2"


def test_which_source_wins(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa")
    path = kubeconfig(tmp_path / "config", namespace="from-kubeconfig")
    env = {**POD_ENV, "KUBECONFIG": str(path)}
    # A kubeconfig given explicitly wins; otherwise the pod's account wins over $KUBECONFIG.
    assert load(str(path), environ=env, service_account_dir=directory).namespace == (
        "from-kubeconfig"
    )
    assert load(environ=env, service_account_dir=directory).namespace == "ops"
    # Outside a pod (no service variables, or no token) $KUBECONFIG is used.
    assert load(environ={"KUBECONFIG": str(path)}, service_account_dir=directory).namespace == (
        "from-kubeconfig"
    )
    (directory / "token").unlink()
    assert load(environ=env, service_account_dir=directory).namespace == "from-kubeconfig"


def test_a_pod_without_its_ca_file_fails_clearly(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa")
    (directory / "ca.crt").unlink()
    with pytest.raises(KubeAuthError, match=r"certificate authority file .*ca\.crt") as caught:
        load(environ=POD_ENV, service_account_dir=directory)
    assert SECRET not in str(caught.value)


# ---- exec plugins ----

PLUGIN = """\
#!{python}
# A credential plugin for the tests; it records each run's KUBERNETES_EXEC_INFO and arguments.
import datetime, json, os, sys, time

state = os.environ["PLUGIN_STATE"]
runs = 1 + (len(open(state).read().splitlines()) if os.path.exists(state) else 0)
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(state, "a") as f:
    f.write(json.dumps({{"info": info, "argv": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
mode = sys.argv[1]
status = {{}}
if mode == "token" or (mode == "fail-after-first" and runs == 1):
    status["token"] = "token-%d" % runs
elif mode == "cert":
    status["clientCertificateData"] = "-----BEGIN CERTIFICATE-----\\n%d\\n" % runs
    status["clientKeyData"] = "-----BEGIN PRIVATE KEY-----\\n%d\\n" % runs
elif mode in ("fail", "fail-after-first"):
    print(json.dumps({{"status": {{"token": "{secret}"}}}}))
    print("warning: about to fail", file=sys.stderr)
    print("error: the identity provider is unreachable", file=sys.stderr)
    sys.exit(3)
elif mode == "garbage":
    print("token={secret}")
    sys.exit(0)
elif mode == "empty":
    pass
elif mode == "sleep":
    time.sleep(30)
expires = os.environ.get("EXPIRES_IN")
if expires:
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(expires))
    status["expirationTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
version = os.environ.get("ANSWER_VERSION") or info["apiVersion"]
print(json.dumps({{"apiVersion": version, "kind": "ExecCredential", "status": status}}))
"""


def plugin_script(directory: Path) -> Path:
    path = directory / "bin" / "kube-login"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLUGIN.format(python=sys.executable, secret=SECRET))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def exec_kubeconfig(
    tmp_path: Path,
    mode: str,
    *,
    version: str = "client.authentication.k8s.io/v1",
    env: dict[str, str] | None = None,
    cluster: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    plugin_script(tmp_path)
    exec_spec = {
        "apiVersion": version,
        "command": "./bin/kube-login",  # relative to the kubeconfig's directory
        "args": [mode],
        "env": [{"name": "PLUGIN_STATE", "value": str(tmp_path / "runs")}]
        + [{"name": k, "value": v} for k, v in (env or {}).items()],
        "interactiveMode": "IfAvailable",
        **extra,
    }
    return kubeconfig(tmp_path / "config", user={"exec": exec_spec}, cluster=cluster)


def runs(tmp_path: Path) -> list[dict[str, Any]]:
    state = tmp_path / "runs"
    return [json.loads(line) for line in state.read_text().splitlines()] if state.exists() else []


async def test_an_exec_plugin_gives_a_token_kept_while_it_names_no_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    source = load(str(exec_kubeconfig(tmp_path, "token")))
    assert runs(tmp_path) == []  # loading runs nothing
    first = await source.credentials()
    assert first.token == "token-1"
    assert first.expiration is None
    assert await source.credentials() is first
    (run,) = runs(tmp_path)
    assert run["argv"] == ["token"]
    assert run["stdin"] == ""  # no terminal, whatever interactiveMode says
    assert run["info"] == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }


async def test_v1beta1_plugins_and_cluster_info(tmp_path: Path) -> None:
    cluster = {
        "server": "https://kube:6443",
        "certificate-authority-data": b64(CA),
        "tls-server-name": "api.internal",
        "extensions": [
            {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "kube"}}
        ],
    }
    path = exec_kubeconfig(
        tmp_path,
        "token",
        version="client.authentication.k8s.io/v1beta1",
        cluster=cluster,
        provideClusterInfo=True,
    )
    assert (await load(str(path)).credentials()).token == "token-1"
    (run,) = runs(tmp_path)
    assert run["info"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert run["info"]["spec"]["cluster"] == {
        "server": "https://kube:6443",
        "tls-server-name": "api.internal",
        "certificate-authority-data": b64(CA),
        "config": {"audience": "kube"},
    }


async def test_an_exec_credential_is_renewed_shortly_before_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    path = exec_kubeconfig(tmp_path, "token", env={"EXPIRES_IN": "3600"})
    source = load(str(path), clock=clock)
    first = await source.credentials()
    assert first.token == "token-1"
    assert first.expiration is not None
    # kopf is told to log in again at the renewal time, a minute before the real expiry.
    until = (first.expiration - datetime.now(UTC)).total_seconds()
    assert 3600 - EXEC_RENEW_BEFORE_SECONDS - 5 < until <= 3600 - EXEC_RENEW_BEFORE_SECONDS
    clock.offset = until - 30
    assert await source.credentials() is first
    clock.offset = until + 1
    assert (await source.credentials()).token == "token-2"
    assert len(runs(tmp_path)) == 2


async def test_a_short_lived_credential_is_renewed_at_half_its_life(tmp_path: Path) -> None:
    clock = Clock()
    source = load(str(exec_kubeconfig(tmp_path, "token", env={"EXPIRES_IN": "40"})), clock=clock)
    first = await source.credentials()
    assert first.expiration is not None
    assert 15 < (first.expiration - datetime.now(UTC)).total_seconds() <= 20


async def test_an_exec_plugin_may_give_a_client_certificate(tmp_path: Path) -> None:
    clock = Clock()
    source = load(str(exec_kubeconfig(tmp_path, "cert", env={"EXPIRES_IN": "600"})), clock=clock)
    first = await source.credentials()
    assert first.token is None
    assert first.client_cert is not None
    assert first.client_key is not None
    assert first.client_cert.endswith("\n1\n")
    clock.offset = 600
    assert str((await source.credentials()).client_key).endswith("\n2\n")


@pytest.mark.parametrize(
    ("mode", "env", "message"),
    [
        ("fail", {}, "exited with code 3: error: the identity provider is unreachable"),
        ("garbage", {}, "printed no ExecCredential JSON"),
        ("empty", {}, "neither a token nor a client certificate"),
        ("token", {"ANSWER_VERSION": "client.authentication.k8s.io/v1beta1"}, "apiVersion"),
    ],
)
async def test_a_failing_plugin_says_why_without_its_output(
    tmp_path: Path, mode: str, env: dict[str, str], message: str
) -> None:
    source = load(str(exec_kubeconfig(tmp_path, mode, env=env)))
    with pytest.raises(KubeAuthError, match=message) as caught:
        await source.credentials()
    assert "kube-login" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_a_missing_plugin_names_its_install_hint(tmp_path: Path) -> None:
    path = exec_kubeconfig(tmp_path, "token", installHint="Install it: brew install kube-login")
    (tmp_path / "bin" / "kube-login").unlink()
    with pytest.raises(KubeAuthError, match=r"cannot be started: .*brew install kube-login"):
        await load(str(path)).credentials()


async def test_a_plugin_that_hangs_is_stopped() -> None:
    sleeper = ("-c", "import time; time.sleep(30)")
    plugin = ExecPlugin(command=sys.executable, args=sleeper, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(KubeAuthError, match=r"did not answer within 0\.5 s"):
        await plugin.run()
    assert time.monotonic() - started < 5


async def test_a_failed_renewal_keeps_the_credential_until_it_expires(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    path = exec_kubeconfig(tmp_path, "fail-after-first", env={"EXPIRES_IN": "600"})
    source = load(str(path), clock=clock)
    first = await source.credentials()
    clock.offset = 600 - EXEC_RENEW_BEFORE_SECONDS + 1  # due for renewal, not yet expired
    with caplog.at_level(logging.WARNING, logger="opsreport.kubeauth"):
        assert await source.credentials() is first
    assert "exited with code 3" in caplog.text
    assert SECRET not in caplog.text
    assert "token-1" not in caplog.text
    clock.offset = 601
    with pytest.raises(KubeAuthError, match="exited with code 3"):
        await source.credentials()


async def test_invalidate_after_a_401_runs_the_plugin_again(tmp_path: Path) -> None:
    clock = Clock()
    source = load(str(exec_kubeconfig(tmp_path, "token")), clock=clock)
    assert (await source.credentials()).token == "token-1"
    source.invalidate()  # just fetched: a burst of 401s must not rerun the plugin each time
    assert (await source.credentials()).token == "token-1"
    clock.offset = INVALIDATE_MIN_AGE_SECONDS + 1
    source.invalidate()
    assert (await source.credentials()).token == "token-2"
