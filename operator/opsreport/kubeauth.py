"""Kubernetes credentials, found as kubectl finds them, for both of the operator's API clients.

`load()` picks the source: the kubeconfig it is given (a path, or a list like $KUBECONFIG), else
the pod's service account when running in a cluster, else $KUBECONFIG, else ~/.kube/config. A
`CredentialSource` then hands out current `Credentials`: file-backed ones are re-read every minute
(bound service-account tokens rotate), exec plugin credentials are renewed shortly before they
expire. `kube.KubeApi` and kopf's login handler (`handlers/login.py`) both read from here, so the
two clients log in identically and neither needs a Kubernetes client library.

No token, password, key or plugin output goes into a log line or an exception message: errors
name files, fields and commands only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

Json = dict[str, Any]
Clock = Callable[[], float]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# The kubelet renews a projected token at 80% of its life; client libraries re-read the file
# about every minute, and so do we, for every credential that comes from a file.
FILE_REFRESH_SECONDS = 60.0
# An exec credential is renewed this long before it expires (at most half its lifetime), so no
# request goes out with one about to lapse.
EXEC_RENEW_BEFORE_SECONDS = 60.0
EXEC_TIMEOUT_SECONDS = 60.0
# While a renewal fails but the current credential still holds, try again no sooner than this.
EXEC_RETRY_SECONDS = 5.0
# A 401 forces a fresh fetch unless the credentials are younger than this: a burst of 401s for
# credentials just fetched must not run the plugin once per refused request.
INVALIDATE_MIN_AGE_SECONDS = 10.0
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# The cluster extension whose content an exec plugin gets as spec.cluster.config.
EXEC_EXTENSION = "client.authentication.k8s.io/exec"
_IMPERSONATION = ("as", "as-uid", "as-groups", "as-user-extra")

logger = logging.getLogger(__name__)


class KubeAuthError(Exception):
    """No usable credentials; the message names files, fields and commands, never a value."""


@dataclass(frozen=True)
class Credentials:
    """What one request needs. repr shows no secret, so logging one leaks nothing."""

    server: str
    ca_data: str | None = None  # PEM; None: the system's trust store
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    token: str | None = field(default=None, repr=False)
    client_cert: str | None = field(default=None, repr=False)  # PEM
    client_key: str | None = field(default=None, repr=False)  # PEM
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    namespace: str | None = None
    # When to stop using them: shortly before an exec credential expires; None: until a 401.
    expiration: datetime | None = None

    @property
    def authorization(self) -> str | None:
        """The Authorization header's value, if any."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            return f"Basic {base64.b64encode(pair).decode('ascii')}"
        return None

    @property
    def tls(self) -> tuple[object, ...]:
        """What the TLS context is built from: when this changes, the context must be rebuilt."""
        return (
            self.ca_data,
            self.insecure,
            self.tls_server_name,
            self.client_cert,
            self.client_key,
        )


class _ServerNameContext(ssl.SSLContext):
    """Sends SNI for, and verifies the certificate against, kubeconfig's `tls-server-name`
    instead of the URL's host. On the context rather than per request, so that any aiohttp
    session given it (ours, or the one kopf gets from the login handler) does the same."""

    server_name: str | None = None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        # asyncio (so aiohttp) wraps every TLS connection through here.
        name = self.server_name if self.server_name and not server_side else server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, name, session)


def ssl_context(credentials: Credentials) -> ssl.SSLContext:
    """A client TLS context from the credentials: their CA (else the system's trust store), their
    client certificate, insecure-skip-tls-verify and tls-server-name."""
    context = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = credentials.tls_server_name
    if credentials.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            if credentials.ca_data:
                context.load_verify_locations(cadata=credentials.ca_data)
            else:
                context.load_default_certs()
        except (ssl.SSLError, ValueError) as error:
            raise KubeAuthError(f"the certificate authority does not load: {error}") from None
    if credentials.client_cert and credentials.client_key:
        _load_client_certificate(context, credentials.client_cert, credentials.client_key)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: str, key: str) -> None:
    def no_passphrase() -> bytes:
        # Without this, OpenSSL would prompt on the terminal for an encrypted key.
        raise KubeAuthError("the client key is encrypted; a kubeconfig's key must not be")

    # ssl loads a certificate chain from files only: a private directory (0700) holds them just
    # for the call, whether they came from files, -data fields or an exec plugin.
    with tempfile.TemporaryDirectory(prefix="opsreport-tls-") as directory:
        cert_path, key_path = Path(directory, "client.crt"), Path(directory, "client.key")
        cert_path.write_text(cert, encoding="utf-8")
        key_path.write_text(key, encoding="utf-8")
        try:
            context.load_cert_chain(cert_path, key_path, password=no_passphrase)
        except ssl.SSLError as error:
            # OpenSSL's reason (e.g. KEY_VALUES_MISMATCH) quotes no key material.
            raise KubeAuthError(f"the client certificate and key do not load: {error}") from None


@dataclass(frozen=True)
class _Issued:
    """An exec plugin's answer."""

    token: str | None = field(default=None, repr=False)
    client_cert: str | None = field(default=None, repr=False)
    client_key: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # epoch seconds


@dataclass(frozen=True)
class ExecPlugin:
    """A kubeconfig `user.exec` credential plugin (client.authentication.k8s.io v1/v1beta1)."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    api_version: str = EXEC_API_VERSIONS[0]
    install_hint: str | None = None
    cluster: Json | None = None  # sent in KUBERNETES_EXEC_INFO when provideClusterInfo is set
    timeout: float = EXEC_TIMEOUT_SECONDS

    async def run(self) -> _Issued:
        name = f"exec plugin {self.command!r}"
        spec: Json = {"interactive": False}  # no terminal: stdin is closed, whatever the mode
        if self.cluster is not None:
            spec["cluster"] = self.cluster
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            process = await asyncio.create_subprocess_exec(
                self.command,
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as error:
            hint = f" ({self.install_hint.strip()})" if self.install_hint else ""
            reason = error.strerror or type(error).__name__
            raise KubeAuthError(f"{name} cannot be started: {reason}{hint}") from None
        try:
            async with asyncio.timeout(self.timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            raise KubeAuthError(f"{name} did not answer within {self.timeout:g} s") from None
        finally:
            if process.returncode is None:  # timed out or cancelled: leave no process behind
                process.kill()
                await process.wait()
        if process.returncode != 0:
            raise KubeAuthError(
                f"{name} exited with code {process.returncode}{_stderr_tail(stderr)}"
            )
        return _parse_exec_credential(stdout, self.api_version, name)


def _stderr_tail(stderr: bytes) -> str:
    # stderr is the plugin's channel for diagnostics (kubectl shows it on the terminal); stdout,
    # which carries the credential, is never quoted.
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return f": {lines[-1][:300]}" if lines else ""


def _parse_exec_credential(stdout: bytes, api_version: str, name: str) -> _Issued:
    try:
        body = json.loads(stdout)
    except (ValueError, UnicodeDecodeError):
        raise KubeAuthError(f"{name} printed no ExecCredential JSON") from None
    if not isinstance(body, dict) or body.get("kind") != "ExecCredential":
        raise KubeAuthError(f"{name} printed something other than an ExecCredential")
    if body.get("apiVersion") != api_version:
        raise KubeAuthError(f"{name} answered in another apiVersion than {api_version}")
    status = body.get("status")
    if not isinstance(status, dict):
        raise KubeAuthError(f"{name} answered an ExecCredential without status")
    values: dict[str, str | None] = {}
    for item in ("token", "clientCertificateData", "clientKeyData", "expirationTimestamp"):
        value = status.get(item)
        if value is not None and not isinstance(value, str):
            raise KubeAuthError(f"{name}: status.{item} is not a string")
        values[item] = value or None
    token, cert, key = values["token"], values["clientCertificateData"], values["clientKeyData"]
    if bool(cert) != bool(key):
        raise KubeAuthError(f"{name} gave clientCertificateData and clientKeyData not together")
    if not token and not cert:
        raise KubeAuthError(f"{name} gave neither a token nor a client certificate")
    expires_at = None
    if values["expirationTimestamp"]:
        try:
            expires = datetime.fromisoformat(values["expirationTimestamp"])
        except ValueError:
            raise KubeAuthError(f"{name}: status.expirationTimestamp is not RFC 3339") from None
        expires_at = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).timestamp()
    return _Issued(token=token, client_cert=cert, client_key=key, expires_at=expires_at)


class CredentialSource:
    """The current credentials of one cluster identity, renewed as they need.

    Files (token, CA, client certificate and key) are read at construction, so a missing one
    fails early, then re-read at most every FILE_REFRESH_SECONDS; a file that cannot be re-read
    keeps its last content. An exec plugin runs on the first call and again shortly before its
    credential expires (never, if it names no expiry) or after `invalidate()`.
    """

    def __init__(
        self,
        base: Credentials,
        *,
        origin: str,
        files: Mapping[str, Path] | None = None,
        plugin: ExecPlugin | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.base = base
        self.origin = origin  # where they come from, for log lines
        self.plugin = plugin
        self._files = dict(files or {})  # "token", "ca", "cert" or "key" -> path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._file_values: dict[str, str] = {}
        self._files_read_at = -math.inf
        self._issued: _Issued | None = None
        self._issued_at = -math.inf
        self._renew_at = -math.inf  # when to run the plugin next
        self._use_until: datetime | None = None  # the renewal time planned when it was issued
        self._current: Credentials | None = None
        if self._files:
            self._read_files()

    @property
    def server(self) -> str:
        return self.base.server

    @property
    def namespace(self) -> str | None:
        """The context's namespace (kubeconfig) or the pod's (in-cluster)."""
        return self.base.namespace

    async def credentials(self) -> Credentials:
        """The credentials to use now. The same object until something changes."""
        async with self._lock:
            now = self._clock()
            changed = self._current is None
            if self._files and now - self._files_read_at >= FILE_REFRESH_SECONDS:
                changed = self._read_files() or changed
            if self.plugin is not None and now >= self._renew_at:
                changed = await self._renew(self.plugin, now) or changed
            if changed or self._current is None:
                self._current = self._compose()
            return self._current

    def invalidate(self) -> None:
        """The API server refused the credentials (401): fetch anew on the next call, unless
        they were only just fetched, when a fetch would give the same ones."""
        fetched_at = max(self._files_read_at, self._issued_at)
        if self._clock() - fetched_at < INVALIDATE_MIN_AGE_SECONDS:
            return
        self._files_read_at = -math.inf
        if self.plugin is not None:
            self._issued = None
            self._renew_at = -math.inf

    def _read_files(self) -> bool:
        changed = False
        for slot, path in self._files.items():
            try:
                text = _read(path, _FILE_NAMES[slot])
                if slot == "token":
                    text = text.strip()
                    if not text:
                        raise KubeAuthError(f"the token file {path} is empty")
            except KubeAuthError as error:
                if slot not in self._file_values:
                    raise
                # Mid-rotation or briefly unmounted: the content read before still serves.
                logger.warning("%s; keeping what it held before", error)
                continue
            if self._file_values.get(slot) != text:
                self._file_values[slot] = text
                changed = True
        self._files_read_at = self._clock()
        return changed

    async def _renew(self, plugin: ExecPlugin, now: float) -> bool:
        try:
            issued = await plugin.run()
        except KubeAuthError as error:
            current = self._issued
            if current is None or (current.expires_at is not None and now >= current.expires_at):
                raise
            logger.warning("%s; the current credential serves until it expires", error)
            self._renew_at = now + EXEC_RETRY_SECONDS
            return False
        fetched = self._clock()
        self._issued, self._issued_at = issued, fetched
        if issued.expires_at is None:
            self._renew_at = math.inf  # client-go too keeps such a credential until a 401
        else:
            life = max(issued.expires_at - fetched, 0.0)
            self._renew_at = issued.expires_at - min(EXEC_RENEW_BEFORE_SECONDS, life / 2)
        self._use_until = (
            None if issued.expires_at is None else datetime.fromtimestamp(self._renew_at, UTC)
        )
        return True

    def _compose(self) -> Credentials:
        base, files, issued = self.base, self._file_values, self._issued
        credentials = replace(
            base,
            token=files.get("token", base.token),
            ca_data=base.ca_data or files.get("ca"),
            client_cert=base.client_cert or files.get("cert"),
            client_key=base.client_key or files.get("key"),
        )
        if issued is not None:
            credentials = replace(
                credentials,
                token=issued.token or credentials.token,
                client_cert=issued.client_cert or credentials.client_cert,
                client_key=issued.client_key or credentials.client_key,
                expiration=self._use_until,
            )
        return credentials


_FILE_NAMES = {
    "token": "token file",
    "ca": "certificate authority file",
    "cert": "client certificate file",
    "key": "client key file",
}


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise KubeAuthError(f"cannot read the {what} {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise KubeAuthError(f"the {what} {path} is not UTF-8 text") from None


def load(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    environ: Mapping[str, str] | None = None,
    clock: Clock = time.time,
) -> CredentialSource:
    """The credentials kubectl would use.

    `kubeconfig` (one path, or several joined by os.pathsep as in $KUBECONFIG) wins when given.
    Otherwise the pod's service account, when KUBERNETES_SERVICE_HOST and _PORT are set and its
    token exists; otherwise $KUBECONFIG, else ~/.kube/config. `context` overrides the
    kubeconfig's current-context.
    """
    env = os.environ if environ is None else environ
    if not kubeconfig:
        in_cluster = _in_cluster(service_account_dir, env, clock)
        if in_cluster is not None:
            return in_cluster
        kubeconfig = env.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    return _from_kubeconfig(kubeconfig, context, clock)


def _in_cluster(directory: Path, env: Mapping[str, str], clock: Clock) -> CredentialSource | None:
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    token = directory / "token"
    if not host or not port or not token.exists():
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    namespace_file = directory / "namespace"
    namespace = None
    if namespace_file.exists():
        namespace = _read(namespace_file, "namespace file").strip() or None
    return CredentialSource(
        Credentials(server=f"https://{host}:{port}", namespace=namespace),
        origin=f"the pod's service account ({directory})",
        files={"token": token, "ca": directory / "ca.crt"},
        clock=clock,
    )


@dataclass(frozen=True)
class _Entry:
    body: Json
    directory: Path  # relative paths in an entry are relative to its own file's directory

    def path(self, key: str) -> Path | None:
        value = self.body.get(key)
        if not value:
            return None
        path = Path(str(value))
        return path if path.is_absolute() else self.directory / path


def _from_kubeconfig(kubeconfig: str, context: str | None, clock: Clock) -> CredentialSource:
    paths = [Path(p.strip()).expanduser() for p in kubeconfig.split(os.pathsep) if p.strip()]
    entries: dict[str, dict[str, _Entry]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    found: list[Path] = []
    # As kubectl merges $KUBECONFIG: missing files are skipped, the first file to name an entry
    # (or a current-context) wins.
    for path in paths:
        if not path.exists():
            continue
        body = _parse_kubeconfig(path)
        found.append(path)
        current = current or body.get("current-context") or None
        for kind, merged in entries.items():
            for item in body.get(kind) or []:
                if not isinstance(item, dict):
                    raise KubeAuthError(f"kubeconfig {path}: an entry of {kind} is malformed")
                name, inner = item.get("name"), item.get(kind[:-1]) or {}
                if not isinstance(name, str) or not isinstance(inner, dict):
                    raise KubeAuthError(f"kubeconfig {path}: an entry of {kind} is malformed")
                merged.setdefault(name, _Entry(inner, path.parent.resolve()))
    if not found:
        raise KubeAuthError(f"no kubeconfig at {kubeconfig}")
    where = f"kubeconfig {os.pathsep.join(map(str, found))}"
    name = context or current
    if not name:
        raise KubeAuthError(f"{where} sets no current-context")
    chosen = entries["contexts"].get(name)
    if chosen is None:
        raise KubeAuthError(f"{where} has no context {name!r}")
    cluster_name = chosen.body.get("cluster")
    cluster = entries["clusters"].get(str(cluster_name))
    if cluster is None:
        raise KubeAuthError(f"{where}: context {name!r} names no known cluster ({cluster_name!r})")
    user_name = chosen.body.get("user")
    user = _Entry({}, cluster.directory)
    if user_name:
        found_user = entries["users"].get(str(user_name))
        if found_user is None:
            raise KubeAuthError(f"{where}: context {name!r} names an unknown user {user_name!r}")
        user = found_user
    base, files = _cluster_credentials(cluster, f"{where}: cluster {cluster_name!r}")
    base = replace(base, namespace=chosen.body.get("namespace") or None)
    base, user_files, plugin = _user_credentials(
        user, cluster, base, f"{where}: user {user_name!r}"
    )
    return CredentialSource(
        base,
        origin=f"{where} (context {name!r})",
        files={**files, **user_files},
        plugin=plugin,
        clock=clock,
    )


def _parse_kubeconfig(path: Path) -> Json:
    try:
        body = yaml.safe_load(_read(path, "kubeconfig")) or {}
    except yaml.YAMLError as error:
        # Only the position: the YAML error's snippet could quote a token.
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise KubeAuthError(f"kubeconfig {path} is not valid YAML{at}") from None
    if not isinstance(body, dict):
        raise KubeAuthError(f"kubeconfig {path} is not a mapping")
    return body


def _pem_data(value: object, what: str) -> str:
    try:
        text = base64.b64decode("".join(str(value).split()), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise KubeAuthError(f"{what} is not base64-encoded text") from None
    if "-----BEGIN " not in text:
        raise KubeAuthError(f"{what} is not PEM")
    return text


def _cluster_credentials(cluster: _Entry, where: str) -> tuple[Credentials, dict[str, Path]]:
    body = cluster.body
    server = body.get("server")
    if not server or not isinstance(server, str):
        raise KubeAuthError(f"{where} has no server")
    files: dict[str, Path] = {}
    ca_data = None
    if body.get("certificate-authority-data"):  # wins over the file, as in kubectl
        ca_data = _pem_data(
            body["certificate-authority-data"], f"{where}: certificate-authority-data"
        )
    elif (ca_file := cluster.path("certificate-authority")) is not None:
        files["ca"] = ca_file
    credentials = Credentials(
        server=server.rstrip("/"),
        ca_data=ca_data,
        insecure=bool(body.get("insecure-skip-tls-verify")),
        tls_server_name=body.get("tls-server-name") or None,
        proxy_url=body.get("proxy-url") or None,
    )
    return credentials, files


def _user_credentials(
    user: _Entry, cluster: _Entry, base: Credentials, where: str
) -> tuple[Credentials, dict[str, Path], ExecPlugin | None]:
    body = user.body
    if body.get("auth-provider"):
        provider = (body["auth-provider"] or {}).get("name") or "?"
        raise KubeAuthError(
            f"{where}: auth-provider {provider!r} is not supported (Kubernetes removed auth "
            "providers; use an exec credential plugin, e.g. kubelogin or gke-gcloud-auth-plugin)"
        )
    if any(body.get(key) for key in _IMPERSONATION):
        # Ignoring it would act as another identity than the kubeconfig asks for.
        raise KubeAuthError(f"{where}: impersonation (as, as-groups, ...) is not supported")
    methods = [
        method
        for method, present in (
            ("token", body.get("token") or body.get("tokenFile")),
            ("username/password", body.get("username") or body.get("password")),
            ("exec", body.get("exec")),
        )
        if present
    ]
    if len(methods) > 1:
        raise KubeAuthError(f"{where}: more than one way to log in ({', '.join(methods)})")
    files: dict[str, Path] = {}
    token = body.get("token") or None
    if (token_file := user.path("tokenFile")) is not None:
        files["token"] = token_file  # wins over `token`, and is re-read like a service account's
        token = None
    username, password = body.get("username"), body.get("password")
    if (username is None) != (password is None):
        raise KubeAuthError(f"{where}: username and password must be given together")
    cert = key = None
    if body.get("client-certificate-data"):
        cert = _pem_data(body["client-certificate-data"], f"{where}: client-certificate-data")
    elif (cert_file := user.path("client-certificate")) is not None:
        files["cert"] = cert_file
    if body.get("client-key-data"):
        key = _pem_data(body["client-key-data"], f"{where}: client-key-data")
    elif (key_file := user.path("client-key")) is not None:
        files["key"] = key_file
    if (cert is None and "cert" not in files) != (key is None and "key" not in files):
        raise KubeAuthError(
            f"{where}: a client certificate needs its key, and a key its certificate"
        )
    credentials = replace(
        base,
        token=str(token) if token else None,
        client_cert=cert,
        client_key=key,
        username=None if username is None else str(username),
        password=None if password is None else str(password),
    )
    plugin = None
    if body.get("exec"):
        plugin = _exec_plugin(body["exec"], user, cluster, base, where)
    return credentials, files, plugin


def _exec_plugin(
    spec: object, user: _Entry, cluster: _Entry, base: Credentials, where: str
) -> ExecPlugin:
    if not isinstance(spec, dict) or not spec.get("command"):
        raise KubeAuthError(f"{where}: exec has no command")
    api_version = spec.get("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise KubeAuthError(
            f"{where}: exec apiVersion {api_version!r} is not supported "
            f"(use one of {', '.join(EXEC_API_VERSIONS)})"
        )
    command = str(spec["command"])
    # As kubectl: a command with a path separator is relative to the kubeconfig, a bare name is
    # looked up on PATH.
    if os.sep in command and not Path(command).is_absolute():
        command = str(user.directory / command)
    env: dict[str, str] = {}
    for item in spec.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            raise KubeAuthError(f"{where}: an exec env entry has no name")
        env[str(item["name"])] = str(item.get("value") or "")
    cluster_info = None
    if spec.get("provideClusterInfo"):
        cluster_info = _exec_cluster_info(cluster, base)
    return ExecPlugin(
        command=command,
        args=tuple(str(arg) for arg in spec.get("args") or []),
        env=env,
        api_version=str(api_version),
        install_hint=spec.get("installHint") or None,
        cluster=cluster_info,
    )


def _exec_cluster_info(cluster: _Entry, base: Credentials) -> Json:
    """The `spec.cluster` of KUBERNETES_EXEC_INFO, as client-go fills it."""
    info: Json = {"server": base.server}
    if base.tls_server_name:
        info["tls-server-name"] = base.tls_server_name
    if base.insecure:
        info["insecure-skip-tls-verify"] = True
    ca = base.ca_data
    if ca is None and (ca_file := cluster.path("certificate-authority")) is not None:
        ca = _read(ca_file, "certificate authority file")
    if ca:
        info["certificate-authority-data"] = base64.b64encode(ca.encode()).decode("ascii")
    if base.proxy_url:
        info["proxy-url"] = base.proxy_url
    for extension in cluster.body.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == EXEC_EXTENSION:
            info["config"] = extension.get("extension")
    return info
