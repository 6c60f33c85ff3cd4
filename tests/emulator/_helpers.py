"""Shared builders and polling helpers for the emulator's own tests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from tests.support.tools import ToolUnavailable, kubectl_binary

T = TypeVar("T")

GROUP = "test.opsreport.dev"
WIDGETS = f"/apis/{GROUP}/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}


def widget_crd(
    *,
    scope: str = "Namespaced",
    versions: tuple[str, ...] = ("v1",),
    status: bool = True,
) -> dict[str, Any]:
    """The test CRD ``widgets.test.opsreport.dev``; the last version is the storage one."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "shortNames": ["wdg"],
                "categories": ["opsreport"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == versions[-1],
                    "subresources": {"status": {}} if status else {},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
                for version in versions
            ],
        },
    }


def widget(name: str, namespace: str | None = "default", **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": metadata, "spec": spec}


def pod(
    name: str,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        **extra,
    }


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    what: str = "the condition",
    details: Callable[[], str] = lambda: "",
) -> T:
    """Poll until ``predicate`` returns a truthy value and return it; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{details()}")
        time.sleep(0.02)


async def wait_until_async(
    predicate: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 10.0,
    what: str = "the condition",
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class WatchStream:
    """One watch request read event by event; headers arrive once the server has subscribed."""

    def __init__(self, client: httpx.AsyncClient, path: str, **params: str) -> None:
        self._context = client.stream("GET", path, params={"watch": "true", **params})
        self._lines: AsyncIterator[str] | None = None
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> Self:
        self.response = await self._context.__aenter__()
        self._lines = self.response.aiter_lines()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._context.__aexit__(exc_type, exc_value, traceback)

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next event; StopAsyncIteration when the server ends the stream."""
        assert self._lines is not None
        while True:
            line = await asyncio.wait_for(anext(self._lines), timeout)
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                return event

    async def take(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(count)]

    async def rest(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """All events until the server closes the stream."""
        events = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    events.append(await self.next(timeout))
                except StopAsyncIteration:
                    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, name) pairs: the part of a watch event most tests assert on."""
    return [(event["type"], event["object"]["metadata"].get("name", "")) for event in events]


def kubectl_path() -> str | None:
    """$KUBECTL, PATH, else the real kubectl that ships inside a package (tests/support/tools)."""
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if found:
        return found
    try:
        return str(kubectl_binary())
    except ToolUnavailable:
        return None
