"""A thin async Kubernetes client on aiohttp: raw JSON, paginated lists, a count of what it sent.

Credentials come from `kubeauth` (kubeconfig or the pod's service account; token files re-read,
exec plugins renewed). No Kubernetes client library is involved: kopf imports kubernetes_asyncio's
~45 MiB of generated models whenever it is installed, so the operator does without it. Nor are
there model classes: collection keeps a few fields of each object, and deserialising every pod of
a large cluster into models would cost most of a report's time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp

from opsreport import __version__
from opsreport.kubeauth import Credentials, CredentialSource, KubeAuthError, ssl_context
from opsreport.kubeauth import load as load_credentials

Json = dict[str, Any]

DEFAULT_PAGE_SIZE = 500
# A 429 (API priority and fairness) is retried this many times in all, waiting Retry-After
# (capped, so a run never stalls long on one request); then the caller sees the KubeError.
RETRY_ATTEMPTS = 3
RETRY_AFTER_CAP = 10.0
RETRY_AFTER_DEFAULT = 1.0
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE"}
# The API server names a write's field manager after the User-Agent: ours, not a library's.
USER_AGENT = f"opsreport/{__version__}"
# As kubernetes_asyncio's client had them, which this one replaces: up to 100 connections, 2 MiB
# read buffers, proxies from the environment, and no timeout of its own.
CONNECTION_LIMIT = 100
READ_BUFFER = 2**21
_BODY_METHODS = {"POST", "PUT", "PATCH", "OPTIONS", "DELETE"}

logger = logging.getLogger(__name__)


class KubeError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"Kubernetes API answered {status}: {message}")
        self.status = status
        self.retry_after = retry_after


async def connect(
    kubeconfig: str | None = None,
    *,
    on_response: Callable[[str, int], None] | None = None,
) -> KubeApi:
    """A client logged in as kubectl would be (see kubeauth.load): the kubeconfig given, else the
    pod's service account, else $KUBECONFIG or ~/.kube/config.

    Raises KubeAuthError here, not on the first request, when no credentials can be used.
    """
    kube = KubeApi(load_credentials(kubeconfig), on_response=on_response)
    await kube.login()
    return kube


def _encode(method: str, body: Json | list[Json] | None, content_type: str) -> str | None:
    """The body as JSON text, as the client library sent it: only for methods that carry one."""
    if method not in _BODY_METHODS or body is None:
        return None
    if "json" not in content_type.lower() and content_type != "application/apply-patch+yaml":
        raise ValueError(f"cannot send a body as {content_type}")
    return json.dumps(body, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _unreachable(exc: Exception) -> str:
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        # The verification result (e.g. "unable to get local issuer certificate", a hostname
        # mismatch) is the usual first problem of a new kubeconfig; it holds no credentials.
        cause = exc.certificate_error
        reason = getattr(cause, "verify_message", None) or type(cause).__name__
        return f"{name}: its TLS certificate is not trusted ({reason})"
    return name


def _message(data: bytes) -> str:
    try:
        body = json.loads(data or b"{}")
        return str(body.get("message") or body.get("reason") or "no message")[:500]
    except (TypeError, ValueError, AttributeError):
        return data[:200].decode("utf-8", "replace")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retryable(
    error: KubeError, method: str, body: Json | list[Json] | None, content_type: str
) -> bool:
    """Whether sending the same request again is safe and may succeed.

    429 means the server did not process the request: safe for any idempotent one (a PUT
    carries its resourceVersion, so a stale retry still fails with 409). A merge-patch without
    a resourceVersion is idempotent too, and a 409 on it is the server losing a race on its
    own read-modify-write, which a retry resolves.
    """
    merge_patch = method == "PATCH" and content_type == "application/merge-patch+json"
    if merge_patch and isinstance(body, dict):
        merge_patch = not (body.get("metadata") or {}).get("resourceVersion")
    if error.status == 429:
        return method in _IDEMPOTENT or merge_patch
    return error.status == 409 and merge_patch


class KubeApi:
    def __init__(
        self,
        source: CredentialSource,
        *,
        on_response: Callable[[str, int], None] | None = None,
    ) -> None:
        self.source = source
        self.requests_sent = 0
        # Told (method, status code; 0 when nothing answered) of every request, for metrics.
        self.on_response = on_response
        self._session: aiohttp.ClientSession | None = None
        self._credentials: Credentials | None = None
        self._tls: ssl.SSLContext | None = None

    async def login(self) -> Credentials:
        """The current credentials, with a TLS context to match (rebuilt when they change)."""
        credentials = await self.source.credentials()
        if credentials is self._credentials:
            return credentials
        previous = self._credentials
        if credentials.server.startswith("https:") and (
            previous is None or self._tls is None or previous.tls != credentials.tls
        ):
            # A renewed client certificate (exec plugin) or CA: new connections use the new
            # context; pooled ones made with the old close once idle.
            self._tls = ssl_context(credentials)
        self._credentials = credentials
        return credentials

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT),
                timeout=aiohttp.ClientTimeout(),
                trust_env=True,
                read_bufsize=READ_BUFFER,
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Json | list[Json] | None = None,
        content_type: str = "application/json",
    ) -> Json:
        attempt = 1
        while True:
            try:
                return await self._send(method, path, query, body, content_type)
            except KubeError as error:
                if attempt >= RETRY_ATTEMPTS or not _retryable(error, method, body, content_type):
                    raise
                if error.status == 409:
                    delay = 0.0
                elif error.retry_after is None:
                    delay = RETRY_AFTER_DEFAULT
                else:
                    delay = min(max(error.retry_after, 0.0), RETRY_AFTER_CAP)
                logger.info("%s %s answered %d; retrying in %gs", method, path, error.status, delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None,
        body: Json | list[Json] | None,
        content_type: str,
    ) -> Json:
        self.requests_sent += 1
        try:
            credentials = await self.login()
            data = _encode(method, body, content_type)
        except (KubeAuthError, ValueError, TypeError) as exc:  # a request it cannot even build
            self._observe(method, 0)
            raise KubeError(0, str(exc)) from None
        url = credentials.server + path
        if query:
            url += "?" + urlencode(list(query.items()))
        headers = {"Accept": "application/json", "Content-Type": content_type}
        headers["User-Agent"] = USER_AGENT
        if (authorization := credentials.authorization) is not None:
            headers["Authorization"] = authorization
        try:
            async with self._http().request(
                method,
                url,
                data=data,
                headers=headers,
                ssl=self._tls if self._tls is not None else True,
                proxy=credentials.proxy_url,
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, _retry_after(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._observe(method, 0)
            raise KubeError(0, f"the API server is unreachable: {_unreachable(exc)}") from None
        self._observe(method, status)
        if not 200 <= status <= 299:
            if status == 401:
                self.source.invalidate()  # a rotated token or an expired exec credential
            raise KubeError(status, _message(raw), retry_after)
        result: Json = json.loads(raw) if raw else {}
        return result

    def _observe(self, method: str, code: int) -> None:
        if self.on_response is not None:
            self.on_response(method, code)

    async def get(self, path: str) -> Json | None:
        try:
            return await self.request("GET", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    async def list_pages(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncGenerator[list[Json], None]:
        """Yield one page of items at a time, following `continue` tokens."""
        token: str | None = None
        while True:
            query: dict[str, str | int] = {"limit": page_size}
            if label_selector:
                query["labelSelector"] = label_selector
            if token:
                query["continue"] = token
            page = await self.request("GET", path, query=query)
            token = (page.get("metadata") or {}).get("continue") or None
            # Popped, not kept in a local: while the caller folds the page and asks for the
            # next one, the suspended generator holds no reference to its objects.
            yield page.pop("items", None) or []
            if not token:
                return
