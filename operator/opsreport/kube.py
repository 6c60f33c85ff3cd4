"""A thin async Kubernetes client: raw JSON, paginated lists, and a count of what it sent.

It wraps kubernetes_asyncio's ApiClient for authentication (kubeconfig, in-cluster token
rotation) but skips its model classes: collection keeps a few fields of each object, and
deserialising every pod of a large cluster into models would cost most of a report's time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from opsreport import __version__

Json = dict[str, Any]

DEFAULT_PAGE_SIZE = 500
# A 429 (API priority and fairness) is retried this many times in all, waiting Retry-After
# (capped, so a run never stalls long on one request); then the caller sees the KubeError.
RETRY_ATTEMPTS = 3
RETRY_AFTER_CAP = 10.0
RETRY_AFTER_DEFAULT = 1.0
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE"}

logger = logging.getLogger(__name__)


class KubeError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"Kubernetes API answered {status}: {message}")
        self.status = status
        self.retry_after = retry_after


async def load_api_client(kubeconfig: str | None = None) -> k8s_client.ApiClient:
    """In-cluster config when running in a pod, else the kubeconfig (or $KUBECONFIG)."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        await k8s_config.load_kube_config(
            config_file=kubeconfig, client_configuration=configuration
        )
    client = k8s_client.ApiClient(configuration=configuration)
    # The API server names a write's field manager after the User-Agent: ours, not the library's.
    client.user_agent = f"opsreport/{__version__}"
    return client


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
        api_client: k8s_client.ApiClient,
        *,
        on_response: Callable[[str, int], None] | None = None,
    ) -> None:
        self._api = api_client
        self.requests_sent = 0
        # Told (method, status code; 0 when nothing answered) of every request, for metrics.
        self.on_response = on_response

    async def close(self) -> None:
        await self._api.close()

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
            raw = await self._api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
            )
        except ApiException as exc:  # raised for requests it cannot even build
            self._observe(method, exc.status or 0)
            raise KubeError(exc.status or 0, str(exc.reason)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._observe(method, 0)
            raise KubeError(0, f"the API server is unreachable: {type(exc).__name__}") from None
        # With _preload_content=False the client hands back the raw aiohttp response unjudged.
        data = await raw.read()
        self._observe(method, raw.status)
        if not 200 <= raw.status <= 299:
            raise KubeError(raw.status, _message(data), _retry_after(raw.headers))
        result: Json = json.loads(data) if data else {}
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
