"""An in-memory Kubernetes API server for tests: kmock 0.8's emulator with its gaps closed.

:class:`FaithfulEmulator` subclasses ``kmock.KubernetesEmulator`` and serves every resource
request itself (kmock's DSL reactions still serve the non-resource paths: discovery,
``/version``, anything a test declares). It keeps kmock's object store
(``emulator.objects[...]``) and discovery (``emulator.resources``) and adds what kopf,
kubectl and kubernetes_asyncio rely on:

- metadata stamping (uid, a global ``resourceVersion``, ``creationTimestamp``,
  ``generation``), ``generateName``, 201 on create, 409 on a duplicate or a stale
  ``resourceVersion``, 422 on a failed JSON-patch ``test``, 404 on missing objects;
- merge-patch, JSON-patch and PUT; ``/status`` isolated from the main resource;
- server-side apply, ``managedFields`` and ``dryRun=All`` (tests/support/server_side_apply.py);
- finalizers and ``deletionTimestamp``; lists with ``kind``, selectors and paging;
- watches with selectors, ``timeoutSeconds``, resumption from a ``resourceVersion``
  out of a bounded change log (410 Gone once it is compacted), ``sendInitialEvents``;
- CRDs registered into discovery when they are created;
- one store for core/v1 and events.k8s.io/v1 Events, each converted for the API that reads
  it (``tests/support/kube_events.py``);
- fault injection and request counting.

:class:`KubeApiServer` runs it on 127.0.0.1 in a daemon thread with its own event loop,
so sync tests, other event loops and subprocesses (through a kubeconfig) can all use it.

Usage::

    with KubeApiServer() as kube:
        kube.apply_crd(crd_from_file("deploy/crds/reportschedules.opsreport.dev.yaml"))
        kube.seed(pods)  # instant, stamped like creates, seen by watchers
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        # then e.g. KUBECONFIG=<kubeconfig> python -m kopf run -A --standalone <operator>
        kube.inject_fault("PATCH", r"/status$", 409)

What it does not model is listed at the top of ``tests/emulator/test_gaps.py``.
Notable differences from a real cluster that tests may trip over:

- A create over HTTP drops ``.status`` when the resource has a status subresource (pods
  included), as a real API server does; ``KubeApiServer.seed``/``create`` keep it.
- Only the last request is kept in ``emulator.requests``; count with ``request_count``
  and :meth:`FaithfulEmulator.count_requests` instead.
- kmock DSL reactions (``emulator['get /x'] << ...``) do not apply to resource paths;
  use :meth:`FaithfulEmulator.inject_fault` to make those fail.

kmock's private internals are used here and only here; kmock is pinned to 0.8.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime
import functools
import http.client
import json
import re
import secrets
import string
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
import yaml
from kmock._internal import parsing, rendering

from tests.support import server_side_apply
from tests.support.kube_events import convert_event, event_twin

__all__ = ["ApiError", "FaithfulEmulator", "KubeApiServer", "crd_from_file", "crds_from_file"]

_T = TypeVar("_T")
Obj = dict[str, Any]
ObjList = list[dict[str, Any]]  # an alias: KubeApiServer.list shadows `list` in its class

# Keyword arguments only: kmock.resource("", "v1", None) would read "v1" as a plural.
CRDS = kmock.resource(
    group="apiextensions.k8s.io", version="v1", plural="customresourcedefinitions"
)
NAMESPACES = kmock.resource(group="", version="v1", plural="namespaces")
_BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_CRD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Server-owned metadata that patches and PUTs cannot change.
_SYSTEM_META = (
    "uid",
    "name",
    "namespace",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_MERGE_PATCHES = (
    "application/merge-patch+json",
    # Treated as a merge-patch: lists are replaced, not merged by key (a documented gap).
    "application/strategic-merge-patch+json",
)
_JSON_PATCH = "application/json-patch+json"
# How many changes a watch can resume from; older resourceVersions get 410 Gone.
_CHANGE_LOG_SIZE = 100_000
# How often an idle watch checks whether its client has gone.
_WATCH_IDLE_POLL = 1.0
_GENERATE_NAME_ATTEMPTS = 8
_PROBE_HEADER = "X-Kube-Emulator-Probe"
_NAME_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


# --------------------------------------------------------------------------------------------
# Errors and small helpers.


class ApiError(Exception):
    """An API failure answered as a Kubernetes ``Status`` object."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = dict(details or {})

    def as_status(self) -> Obj:
        return status_body(self.code, self.message, reason=self.reason, details=self.details)


def status_body(
    code: int,
    message: str,
    *,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Obj:
    """A ``v1/Status`` failure object as the API server answers it."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = dict(details)
    return body


def _json_response(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> aiohttp.web.Response:
    response = aiohttp.web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )
    response.headers.update(headers or {})
    return response


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rv(obj: Mapping[str, Any]) -> int:
    value = str((obj.get("metadata") or {}).get("resourceVersion") or "0")
    return int(value) if value.isdigit() else 0


def _api_version(res: kmock.resource) -> str:
    return f"{res.group}/{res.version}" if res.group else str(res.version)


def _display(res: kmock.resource) -> str:
    return f"{res.plural}.{res.group}" if res.group else str(res.plural)


def _not_found(res: kmock.resource, name: str) -> ApiError:
    return ApiError(
        404,
        f'{_display(res)} "{name}" not found',
        details={"name": name, "group": res.group, "kind": res.plural},
    )


def _conflict(res: kmock.resource, name: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_display(res)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details={"name": name, "group": res.group, "kind": res.plural},
    )


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version order: GA over beta over alpha, then by number (highest first)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0, version)
    stability = {"alpha": 1, "beta": 2}.get(match.group(2) or "", 3)
    return (stability, int(match.group(1)), int(match.group(3) or 0), "")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge-patch; subtrees the patch does not touch are shared, not copied."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


# --------------------------------------------------------------------------------------------
# Selectors.


def _split_terms(text: str) -> list[str]:
    """Split a selector on the commas that are outside ``in (a,b)`` parentheses."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term.strip() for term in terms if term.strip()]


_KEY = r"[A-Za-z0-9][A-Za-z0-9._/-]*"
_LABEL_TERM = re.compile(
    rf"""
    (?P<nkey>!\s*{_KEY})
    | (?P<skey>{_KEY})\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)
    | (?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)
    | (?P<ekey>{_KEY})
    """,
    re.VERBOSE,
)
_FIELD_TERM = re.compile(rf"(?P<path>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>.*)")


@dataclasses.dataclass(frozen=True)
class _Selector:
    """Label and field requirements, ANDed, with Kubernetes semantics."""

    labels: tuple[tuple[str, str, frozenset[str]], ...] = ()
    fields: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def parse(cls, label_selector: str = "", field_selector: str = "") -> _Selector:
        labels: list[tuple[str, str, frozenset[str]]] = []
        for term in _split_terms(label_selector):
            match = _LABEL_TERM.fullmatch(term)
            if match is None:
                raise ApiError(400, f"unable to parse requirement: {term!r}")
            if match["nkey"]:
                labels.append((match["nkey"].lstrip("!").strip(), "!exists", frozenset()))
            elif match["skey"]:
                values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
                labels.append((match["skey"], match["setop"], values))
            elif match["key"]:
                op = "!=" if match["op"] == "!=" else "="
                labels.append((match["key"], op, frozenset({match["value"]})))
            else:
                labels.append((match["ekey"], "exists", frozenset()))
        fields: list[tuple[str, str, str]] = []
        for term in _split_terms(field_selector):
            match = _FIELD_TERM.fullmatch(term)
            if match is None:
                raise ApiError(400, f"invalid field selector: {term!r}")
            op = "!=" if match["op"] == "!=" else "="
            fields.append((match["path"], op, match["value"].strip()))
        return cls(tuple(labels), tuple(fields))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        labels: Mapping[str, str] = (obj.get("metadata") or {}).get("labels") or {}
        for key, op, values in self.labels:
            present = key in labels
            if op == "exists" and not present:
                return False
            if op == "!exists" and present:
                return False
            if op in ("=", "in") and (not present or labels[key] not in values):
                return False
            if op in ("!=", "notin") and present and labels[key] in values:
                return False
        for path, op, value in self.fields:
            if (_field_value(obj, path) == value) != (op == "="):
                return False
        return True


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Request parsing (kmock 0.8 answers 500 to ``/api/v1/namespaces`` and misreads
# ``/api/v1/namespaces/NAME``, so the paths are parsed here).


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    elif len(parts) == 2 and parts[0] == "apis":
        return parsing.ParsedPath(group=parts[1])
    else:
        return parsing.ParsedPath()
    namespace: str | None = None
    namespace_subresource = (
        not group
        and len(rest) == 3
        and rest[0] == "namespaces"
        and rest[2] in ("status", "finalize")
    )
    if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    return parsing.ParsedPath(
        group=group,
        version=version,
        plural=rest[0] if rest else None,
        namespace=namespace,
        name=rest[1] if len(rest) >= 2 else None,
        subresource="/".join(rest[2:]) or None,
    )


# --------------------------------------------------------------------------------------------
# The emulator.


@dataclasses.dataclass(frozen=True, slots=True)
class _Change:
    """One write as watchers see it; ``previous`` decides selector transitions."""

    revision: int
    resource: kmock.resource
    type: str
    previous: Obj | None
    object: Obj


@dataclasses.dataclass(eq=False, slots=True)
class _Watcher:
    resource: kmock.resource
    queue: asyncio.Queue[_Change | None] = dataclasses.field(default_factory=asyncio.Queue)


@dataclasses.dataclass(slots=True)
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: Obj | None

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path.search(path) is not None


@attrs.define(kw_only=True)
class FaithfulEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with the API semantics that kopf and kubectl rely on.

    All state changes are synchronous, so on its event loop the store is never seen
    half-written; other threads must go through :class:`KubeApiServer`.
    """

    request_count: int = attrs.field(default=0, init=False)
    request_counts: collections.Counter[tuple[str, str]] = attrs.field(
        factory=collections.Counter, init=False
    )
    # Unexpected exceptions (emulator bugs), answered as 500; tests assert it stays empty.
    internal_errors: list[BaseException] = attrs.field(factory=list, init=False)
    _revision: int = attrs.field(default=0, init=False)
    _changes: collections.deque[_Change] = attrs.field(
        factory=lambda: collections.deque(maxlen=_CHANGE_LOG_SIZE), init=False
    )
    _horizon: int = attrs.field(default=0, init=False)  # the newest revision no longer logged
    _watchers: set[_Watcher] = attrs.field(factory=set, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _crds: dict[str, list[kmock.resource]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback["get /healthz"] << b"ok"
        self.fallback["get /readyz"] << b"ok"
        self.fallback["get /livez"] << b"ok"
        # Without the builtins kopf waits forever for v1/namespaces (and kubectl knows nothing).
        for res, info in _bundled_resources().items():
            self._resources[res] = attrs.evolve(info)  # a copy: CRDs may not leak across servers
        for name in _BOOT_NAMESPACES:
            self.create_object(NAMESPACES, {"metadata": {"name": name}})

    # ---- public, synchronous API (call it on the emulator's loop, or before it runs) ----

    def inject_fault(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Fail the next ``times`` requests matching ``method`` and ``path_regex`` with ``status``.

        ``method`` is an HTTP method or ``*``; ``path_regex`` is searched in the URL path
        (without the query). The answer is a Kubernetes ``Status`` unless ``body`` is given;
        a ``Retry-After`` header is mirrored into ``details.retryAfterSeconds``.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(
            _Fault(
                method=method.upper(),
                path=re.compile(path_regex),
                status=status,
                remaining=times,
                headers=dict(headers or {}),
                body=body,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def count_requests(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests were served with this method (any if None) under this path prefix."""
        return sum(
            count
            for (req_method, path), count in self.request_counts.items()
            if (method is None or req_method == method.upper()) and path.startswith(path_prefix)
        )

    def compact(self) -> None:
        """Forget the change log, as etcd compaction does: older watch resumptions get 410."""
        self._changes.clear()
        self._horizon = self._revision

    def close_watches(self) -> None:
        """End every open watch stream (used before shutdown)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)

    def resource_for(self, api_version: str, kind_or_plural: str) -> kmock.resource:
        """Find the served resource for an apiVersion and a kind, plural, singular or short name."""
        group, _, version = api_version.rpartition("/")
        served = [
            (res, info)
            for res, info in self._served.items()
            if res.group == group and res.version == version
        ]
        lowered = kind_or_plural.lower()
        for res, info in served:  # exact names first, as kubectl resolves them
            if kind_or_plural in (res.plural, info.kind):
                return res
        for res, info in served:
            if (
                lowered in (info.singular, (info.kind or "").lower())
                or kind_or_plural in info.shortnames
            ):
                return res
        raise LookupError(f"no resource {kind_or_plural!r} is served in {api_version!r}")

    def get_object(self, res: kmock.resource, namespace: str | None, name: str) -> Obj | None:
        key = (res, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key].last.raw

    def list_objects(
        self,
        res: kmock.resource,
        namespace: str | None = None,
        selector: _Selector | None = None,
    ) -> list[Obj]:
        """Current objects of a resource (all namespaces if None), sorted by namespace and name."""
        found: list[tuple[str, str, Obj]] = []
        for (key_res, key_ns, key_name), stored in self._objects.items():
            if key_res != res or stored.deleted:
                continue
            if namespace is not None and key_ns != namespace:
                continue
            obj = stored.last.raw
            if selector is None or selector.matches(obj):
                found.append((key_ns or "", key_name, obj))
        found.sort(key=lambda item: (item[0], item[1]))
        return [obj for _, _, obj in found]

    def create_object(
        self,
        res: kmock.resource,
        body: Mapping[str, Any],
        *,
        namespace: str | None = None,
        keep_status: bool = True,
        timestamp: str | None = None,
    ) -> Obj:
        """Store a new object, stamped as the API server does, and tell the watchers."""
        info = self._info(res)
        metadata = dict(body.get("metadata") or {})
        if info.namespaced:
            namespace = namespace or metadata.get("namespace")
            if not namespace:
                raise ApiError(400, "the namespace of the object is required")
            if metadata.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            metadata["namespace"] = namespace
        else:
            namespace = None
            metadata.pop("namespace", None)
        name = metadata.get("name")
        if not name:
            prefix = metadata.get("generateName")
            if not prefix:
                raise ApiError(
                    422, "metadata.name: Required value: name or generateName is required"
                )
            for _ in range(_GENERATE_NAME_ATTEMPTS):
                name = prefix + "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))
                if self.get_object(res, namespace, name) is None:
                    break
        name = str(name)
        if self.get_object(res, namespace, name) is not None:
            raise ApiError(
                409,
                f'{_display(res)} "{name}" already exists',
                reason="AlreadyExists",
                details={"name": name, "group": res.group, "kind": res.plural},
            )
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            metadata.pop(key, None)
        metadata.update(
            name=name,
            uid=str(uuid.uuid4()),
            creationTimestamp=timestamp or _now(),
            generation=1,
        )
        rest = {
            key: value
            for key, value in body.items()
            if key not in ("apiVersion", "kind", "metadata")
        }
        obj: Obj = {
            "apiVersion": _api_version(res),
            "kind": info.kind,
            "metadata": metadata,
            **rest,
        }
        if not keep_status and "status" in info.subresources:
            obj.pop("status", None)
        if res == NAMESPACES:
            metadata["labels"] = {
                **(metadata.get("labels") or {}),
                "kubernetes.io/metadata.name": name,
            }
            obj.setdefault("status", {"phase": "Active"})
        if res == CRDS:
            obj["status"] = self._crd_status(obj)
        obj = server_side_apply.track_update(self, res, info, None, obj, None)
        stored = self._write(res, namespace, name, "ADDED", None, obj)
        if res == CRDS:
            self._register_crd(stored)
        return stored

    def update_object(
        self,
        res: kmock.resource,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Any],
        *,
        subresource: str | None = None,
    ) -> Obj:
        """Apply ``change`` (old object -> new object) with the API server's update rules."""
        info = self._info(res)
        old = self.get_object(res, namespace, name)
        if old is None:
            raise _not_found(res, name)
        new = change(old)
        if not isinstance(new, dict):
            raise ApiError(422, "the patched object is not a JSON object")
        old_meta: Obj = old.get("metadata") or {}
        new_meta: Obj = dict(new.get("metadata") or {})
        sent_rv = new_meta.get("resourceVersion")
        if sent_rv not in (None, "") and str(sent_rv) != old_meta.get("resourceVersion"):
            raise _conflict(res, name)

        if subresource == "status":
            # The /status subresource changes nothing but .status.
            result: Obj = {key: value for key, value in old.items() if key != "status"}
            if new.get("status") is not None:
                result["status"] = new["status"]
        else:
            for key in (*_SYSTEM_META, "resourceVersion"):
                if key in old_meta:
                    new_meta[key] = old_meta[key]
                else:
                    new_meta.pop(key, None)
            if old_meta.get("deletionTimestamp"):
                added = set(new_meta.get("finalizers") or []) - set(
                    old_meta.get("finalizers") or []
                )
                if added:
                    raise ApiError(
                        422,
                        f"metadata.finalizers: Forbidden: no new finalizers can be added if the "
                        f"object is being deleted, found new finalizers {sorted(added)!r}",
                    )
            result = {
                **new,
                "metadata": new_meta,
                "apiVersion": old["apiVersion"],
                "kind": old["kind"],
            }
            if "status" in info.subresources:
                # The main resource ignores .status when it has a status subresource.
                result.pop("status", None)
                if "status" in old:
                    result["status"] = old["status"]
            # Generation counts changes of the desired state, not of metadata or status.
            if _desired(result) != _desired(old):
                new_meta["generation"] = int(old_meta.get("generation") or 1) + 1

        result = server_side_apply.track_update(self, res, info, old, result, subresource)
        if result == old:
            return old  # a no-op write keeps the resourceVersion and makes no event
        stored = self._write(res, namespace, name, "MODIFIED", old, result)
        meta = stored["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._write(res, namespace, name, "DELETED", stored, stored)
        elif res == CRDS:
            self._register_crd(stored)
        return stored

    def delete_object(
        self,
        res: kmock.resource,
        namespace: str | None,
        name: str,
        preconditions: Mapping[str, Any] | None = None,
    ) -> Obj:
        """Delete now, or mark with ``deletionTimestamp`` while finalizers remain."""
        old = self.get_object(res, namespace, name)
        if old is None:
            raise _not_found(res, name)
        meta: Obj = old.get("metadata") or {}
        for key in ("uid", "resourceVersion"):
            expected = (preconditions or {}).get(key)
            if expected and expected != meta.get(key):
                raise _conflict(res, name)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return old
            marked = {
                **old,
                "metadata": {**meta, "deletionTimestamp": _now(), "deletionGracePeriodSeconds": 0},
            }
            return self._write(res, namespace, name, "MODIFIED", old, marked)
        return self._write(res, namespace, name, "DELETED", old, old)

    # ---- storage, change log, watchers ----

    @property
    def _served(self) -> dict[kmock.resource, kmock.ResourceInfo]:
        # kmock's ResourcesArray checks a runtime Protocol on every lookup (slow for bulk
        # seeding) and types its keys loosely; its inner dict has neither problem.
        return self._resources._resources

    def _info(self, res: kmock.resource) -> kmock.ResourceInfo:
        info = self._served.get(res)
        if info is None:
            raise ApiError(404, "the server could not find the requested resource")
        return info

    def _write(
        self,
        res: kmock.resource,
        namespace: str | None,
        name: str,
        change_type: str,
        previous: Obj | None,
        obj: Obj,
    ) -> Obj:
        if server_side_apply.dry_run():
            return server_side_apply.dry_run_result(previous, obj)
        self._revision += 1
        obj = {
            **obj,
            "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(self._revision)},
        }
        self._record(res, namespace, name, change_type, previous, obj)
        self._mirror_event(res, namespace, name, change_type, obj)
        return obj

    def _record(
        self,
        res: kmock.resource,
        namespace: str | None,
        name: str,
        change_type: str,
        previous: Obj | None,
        obj: Obj,
    ) -> None:
        """Store a write at the current revision, log it and tell the watchers."""
        key = (res, namespace, name)
        if key not in self._objects:
            self._objects[key] = obj
        elif change_type == "DELETED":
            self._objects[key].delete()
        elif change_type == "ADDED":
            self._objects[key].create(obj)
        else:
            self._objects[key].history.append(obj)
        if change_type == "DELETED" and res == CRDS:
            self._unregister_crd(name)
        change = _Change(self._revision, res, change_type, previous, obj)
        if len(self._changes) == self._changes.maxlen:
            self._horizon = self._changes[0].revision
        self._changes.append(change)
        for watcher in self._watchers:
            if watcher.resource == res:
                watcher.queue.put_nowait(change)

    def _mirror_event(
        self, res: kmock.resource, namespace: str | None, name: str, change_type: str, obj: Obj
    ) -> None:
        """Show a write of an Event through the other Event API too (one store behind both)."""
        twin = event_twin(res)
        if twin is None or twin not in self._served:
            return
        previous = self.get_object(twin, namespace, name)
        if change_type == "DELETED" and previous is None:
            return
        if change_type != "DELETED" and previous is None:
            change_type = "ADDED"
        self._record(twin, namespace, name, change_type, previous, convert_event(obj, twin))

    # ---- CRDs ----

    @staticmethod
    def _crd_status(crd: Obj) -> Obj:
        spec = crd.get("spec") or {}
        now = _now()
        return {
            "acceptedNames": spec.get("names") or {},
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "lastTransitionTime": now,
                    "message": "",
                }
                for kind, reason in (
                    ("NamesAccepted", "NoConflicts"),
                    ("Established", "InitialNamesAccepted"),
                )
            ],
        }

    def _register_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        for res in self._crds.pop(name, []):
            del self._resources[res]
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        registered = []
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            res = kmock.resource(
                group=spec["group"], version=version["name"], plural=names["plural"]
            )
            self._resources[res] = kmock.ResourceInfo(
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                verbs=set(_CRD_VERBS),
                shortnames=set(names.get("shortNames") or []),
                categories=set(names.get("categories") or []),
                subresources=set(version.get("subresources") or {}) & {"status", "scale"},
            )
            registered.append(res)
        self._crds[name] = registered

    def _unregister_crd(self, name: str) -> None:
        # A real API server deletes the custom objects with their CRD.
        for res in self._crds.pop(name, []):
            for obj in self.list_objects(res):
                meta = obj["metadata"]
                self._write(res, meta.get("namespace"), meta["name"], "DELETED", obj, obj)
            del self._resources[res]

    # ---- discovery (kmock 0.8 reports "/v1" as the core groupVersion and picks random
    #      preferred versions) ----

    def _group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, set[str]] = collections.defaultdict(set)
        for res in self._served:
            if res.group and res.version:
                groups[res.group].add(res.version)
        return {
            group: sorted(versions, key=_version_priority, reverse=True)
            for group, versions in sorted(groups.items())
        }

    @staticmethod
    def _api_group(group: str, versions: list[str]) -> Obj:
        entries = [
            {"groupVersion": f"{group}/{version}", "version": version} for version in versions
        ]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    async def _serve_api(self, request: rendering.Request) -> rendering.Payload:
        # kubernetes_asyncio's model rejects an APIVersions without serverAddressByClientCIDRs.
        address = f"{request.url.host}:{request.url.port}"
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }

    async def _serve_apis(self, request: rendering.Request) -> rendering.Payload:
        groups = [
            self._api_group(group, versions) for group, versions in self._group_versions().items()
        ]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    async def _serve_group(self, request: rendering.Request) -> rendering.Payload:
        group = request.resource.group if request.resource is not None else None
        versions = self._group_versions().get(group or "")
        if not versions:
            raise ApiError(404, "the server could not find the requested resource")
        return {"kind": "APIGroup", "apiVersion": "v1", **self._api_group(group or "", versions)}

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        if request.resource is None:
            raise ApiError(404, "the server could not find the requested resource")
        group, version = request.resource.group or "", request.resource.version
        entries: list[Obj] = []
        for res, info in sorted(self._served.items(), key=lambda item: str(item[0].plural)):
            if res.group != group or res.version != version:
                continue
            kind = info.kind or str(res.plural).capitalize()
            entries.append(
                {
                    "name": res.plural,
                    "singularName": info.singular or "",
                    "namespaced": bool(info.namespaced),
                    "kind": kind,
                    "verbs": sorted(info.verbs),
                    "shortNames": sorted(info.shortnames),
                    "categories": sorted(info.categories),
                }
            )
            for sub in sorted(info.subresources):
                entries.append(
                    {
                        "name": f"{res.plural}/{sub}",
                        "singularName": "",
                        "namespaced": bool(info.namespaced),
                        "kind": "Scale" if sub == "scale" else kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        if not entries:
            raise ApiError(404, "the server could not find the requested resource")
        group_version = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": entries,
        }

    # ---- HTTP entry point ----

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # Replaces kmock's: its parser fails on some core paths, and its ever-growing request
        # history is re-filtered on every request, which makes long runs quadratic.
        try:
            request = await self._parse_request(raw_request)
            self._requests[:] = [request]
            return await self._handle(request)
        except rendering.StreamingError as exc:
            # A stream broke after its headers went out; all that is left is to end it.
            self._note_internal_error(exc.__cause__ or exc)
            response: aiohttp.web.StreamResponse = exc.args[0]
            with contextlib.suppress(ConnectionError):
                await response.write_eof()
            return response
        except ApiError as exc:
            return _json_response(exc.code, exc.as_status())
        except Exception as exc:
            return await self._render_error(exc)

    async def _parse_request(self, raw: aiohttp.web.BaseRequest) -> rendering.Request:
        body = await raw.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        path = _parse_path(raw.path)
        method = kmock.method(raw.method)
        resource = None
        if path.group is not None:
            resource = kmock.resource(group=path.group, version=path.version, plural=path.plural)
        return rendering.Request(
            id=self.request_count,
            raw_request=raw,
            # The API server treats "/api/" as "/api" (kubernetes_asyncio asks for the former).
            url=raw.url.with_path(raw.path.rstrip("/") or "/", keep_query=True),
            method=method,
            params=dict(raw.query),
            headers=dict(raw.headers),
            cookies=dict(raw.cookies),
            body=body,
            text=body.decode("utf-8", errors="replace"),
            data=data,
            action=parsing.guess_k8s(path, method, dict(raw.query)),
            resource=resource,
            namespace=path.namespace,
            name=path.name,
            subresource=path.subresource,
        )

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiError):
            return _json_response(exc.code, exc.as_status())
        if isinstance(exc, kmock.KubernetesError):
            return _json_response(
                exc.status, status_body(exc.status, exc.message or "", reason=exc.reason)
            )
        self._note_internal_error(exc)
        message = "".join(traceback.format_exception_only(exc)).strip()
        return _json_response(500, status_body(500, f"emulator failure: {message}"))

    def _note_internal_error(self, exc: BaseException) -> None:
        self.internal_errors.append(exc)
        del self.internal_errors[:-100]

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # KubeApiServer's readiness probe must neither use up injected faults nor be counted.
        if not _header(request.headers, _PROBE_HEADER):
            self.request_count += 1
            self.request_counts[request.method.value, request.url.path] += 1
            fault = self._take_fault(request)
            if fault is not None:
                return fault
        if request.resource is not None and request.resource.plural:
            return await self._serve_resource(request)
        # Non-resource paths: kmock's DSL (discovery fallbacks and any declared reactions).
        return await kmock.RawHandler._handle(self, request)

    def _take_fault(self, request: rendering.Request) -> aiohttp.web.StreamResponse | None:
        for fault in self._faults:
            if fault.matches(request.method.value, request.url.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                body = fault.body
                if body is None:
                    details: Obj = {}
                    retry_after = _header(fault.headers, "Retry-After")
                    if retry_after.isdigit():
                        details["retryAfterSeconds"] = int(retry_after)
                    body = status_body(
                        fault.status, f"injected fault: {fault.status}", details=details
                    )
                return _json_response(fault.status, body, fault.headers)
        return None

    async def _serve_resource(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        assert request.resource is not None
        res = request.resource
        info = self._info(res)
        namespace, name, sub = request.namespace, request.name, request.subresource
        if namespace is not None and not info.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        if name is not None and info.namespaced and namespace is None:
            raise ApiError(404, "the server could not find the requested resource")
        if sub is not None and (sub != "status" or "status" not in info.subresources):
            raise ApiError(404, f"the subresource {sub!r} of {_display(res)} is not emulated")
        method = request.method.value
        # Who writes (managedFields), and whether only to validate (dryRun=All).
        server_side_apply.begin_request(request, res, method)
        watching = request.params.get("watch") in ("true", "1")

        if name is None and method == "GET":
            return await self._watch(request, res) if watching else self._list(request, res, info)
        if name is None and method == "POST":
            if not isinstance(request.data, dict):
                raise ApiError(400, "the request body must be a JSON object")
            created = self.create_object(res, request.data, namespace=namespace, keep_status=False)
            return _json_response(201, created)
        if name is None and method == "DELETE":
            selector = _Selector.parse(
                request.params.get("labelSelector", ""), request.params.get("fieldSelector", "")
            )
            items = [
                self.delete_object(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                for obj in self.list_objects(res, namespace, selector)
            ]
            return _json_response(200, self._list_body(res, info, items))
        if name is not None and method == "GET":
            if watching:
                return await self._watch(request, res)
            obj = self.get_object(res, namespace, name)
            if obj is None:
                raise _not_found(res, name)
            return _json_response(200, obj)
        if name is not None and method == "PATCH":
            if server_side_apply.is_apply(request):
                return _json_response(*server_side_apply.apply(self, request, res, namespace, name))
            return _json_response(200, self._patch(request, res, namespace, name))
        if name is not None and method == "PUT":
            body = request.data
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            sent_name = (body.get("metadata") or {}).get("name")
            if sent_name not in (None, name):
                raise ApiError(
                    400,
                    f"the name of the object ({sent_name}) does not match the name on the URL "
                    f"({name})",
                )
            updated = self.update_object(res, namespace, name, lambda _: body, subresource=sub)
            return _json_response(200, updated)
        if name is not None and method == "DELETE" and sub is None:
            options = request.data if isinstance(request.data, dict) else {}
            return _json_response(
                200, self.delete_object(res, namespace, name, options.get("preconditions"))
            )
        raise ApiError(
            405, f"the server does not allow this method on the requested resource: {method}"
        )

    def _patch(
        self, request: rendering.Request, res: kmock.resource, namespace: str | None, name: str
    ) -> Obj:
        content_type = _header(request.headers, "Content-Type").split(";")[0].strip().lower()
        patch = request.data
        if content_type == _JSON_PATCH:
            if not isinstance(patch, list):
                raise ApiError(400, "a JSON-patch must be a list of operations")

            def change(old: Obj) -> Any:
                try:
                    return jsonpatch.apply_patch(old, patch, in_place=False)
                except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                    raise ApiError(
                        422,
                        f"the server rejected our request due to an error in our request: {exc}",
                    ) from exc

        elif content_type in _MERGE_PATCHES:
            if not isinstance(patch, dict):
                raise ApiError(400, "a merge-patch must be a JSON object")

            def change(old: Obj) -> Any:
                return _merge_patch(old, patch)

        else:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                f"include: {_JSON_PATCH}, {', '.join(_MERGE_PATCHES)}",
            )
        return self.update_object(res, namespace, name, change, subresource=request.subresource)

    # ---- lists ----

    def _list_body(
        self, res: kmock.resource, info: kmock.ResourceInfo, items: list[Obj], **meta: Any
    ) -> Obj:
        return {
            "kind": f"{info.kind}List",
            "apiVersion": _api_version(res),
            "metadata": {"resourceVersion": str(self._revision), **meta},
            "items": items,
        }

    def _list(
        self, request: rendering.Request, res: kmock.resource, info: kmock.ResourceInfo
    ) -> aiohttp.web.Response:
        params = request.params
        selector = _Selector.parse(params.get("labelSelector", ""), params.get("fieldSelector", ""))
        items = self.list_objects(res, request.namespace, selector)
        list_rv = str(self._revision)
        if params.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(params["continue"]))
                list_rv, after = str(token["rv"]), tuple(token["after"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ApiError(400, "continue key is not valid") from exc
            items = [obj for obj in items if _sort_key(obj) > after]
        limit_text = params.get("limit") or "0"
        if not limit_text.isdigit():
            raise ApiError(400, f"invalid limit: {limit_text!r}")
        limit = int(limit_text)
        meta: Obj = {}
        if limit and len(items) > limit:
            after = _sort_key(items[limit - 1])
            token_data = json.dumps({"rv": list_rv, "after": after}).encode()
            meta = {
                "continue": base64.urlsafe_b64encode(token_data).decode(),
                "remainingItemCount": len(items) - limit,
            }
            items = items[:limit]
        body = self._list_body(res, info, items, **meta)
        body["metadata"]["resourceVersion"] = list_rv  # stable over the pages of one list
        return _json_response(200, body)

    # ---- watches ----

    async def _watch(
        self, request: rendering.Request, res: kmock.resource
    ) -> aiohttp.web.StreamResponse:
        params = request.params
        selector = _Selector.parse(params.get("labelSelector", ""), params.get("fieldSelector", ""))
        if request.name is not None:
            selector = dataclasses.replace(
                selector, fields=(*selector.fields, ("metadata.name", "=", request.name))
            )
        namespace = request.namespace
        since_text = params.get("resourceVersion") or "0"
        if not since_text.isdigit():
            raise ApiError(400, f"invalid resourceVersion: {since_text!r}")
        since = int(since_text)
        timeout_text = params.get("timeoutSeconds") or "0"
        try:
            timeout = float(timeout_text)
        except ValueError as exc:
            raise ApiError(400, f"invalid timeoutSeconds: {timeout_text!r}") from exc

        def visible(obj: Obj | None) -> bool:
            if obj is None:
                return False
            if namespace is not None and (obj.get("metadata") or {}).get("namespace") != namespace:
                return False
            return selector.matches(obj)

        def as_event(change: _Change) -> Obj | None:
            # An object moving out of the selection is DELETED for this watch, into it ADDED.
            was, now = visible(change.previous), visible(change.object)
            if change.type == "DELETED":
                return {"type": "DELETED", "object": change.object} if was else None
            if change.type == "ADDED" or not was:
                return {"type": "ADDED", "object": change.object} if now else None
            return {"type": "MODIFIED" if now else "DELETED", "object": change.object}

        # Subscribe before the replay: a change made meanwhile is then queued, not lost.
        watcher = _Watcher(res)
        self._watchers.add(watcher)
        try:
            initial: list[Obj] = []
            if since == 0:
                initial = [
                    {"type": "ADDED", "object": obj}
                    for obj in self.list_objects(res, namespace, selector)
                ]
            elif since < self._horizon:
                gone = status_body(
                    410, f"too old resource version: {since} ({self._horizon})", reason="Expired"
                )
                initial = [{"type": "ERROR", "object": gone}]
            else:
                replay = (
                    as_event(change)
                    for change in self._changes
                    if change.revision > since and change.resource == res
                )
                initial = [event for event in replay if event is not None]
            if since == 0 and params.get("sendInitialEvents") == "true":
                initial.append(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": self._info(res).kind,
                            "apiVersion": _api_version(res),
                            "metadata": {
                                "resourceVersion": str(self._revision),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
            seen = max(self._revision, since)

            raw = request._raw_request
            assert raw is not None
            response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(raw)
            try:
                await response.write(
                    b"".join(json.dumps(event).encode() + b"\n" for event in initial)
                )
                if not initial or initial[0]["type"] != "ERROR":
                    await self._stream_changes(watcher, response, raw, seen, timeout, as_event)
                await response.write_eof()
            except ConnectionError:
                pass  # the client has gone
            except Exception as exc:
                # The headers are out: an in-stream ERROR event is the only way left to fail.
                self._note_internal_error(exc)
                error = {"type": "ERROR", "object": status_body(500, f"emulator failure: {exc!r}")}
                with contextlib.suppress(ConnectionError):
                    await response.write(json.dumps(error).encode() + b"\n")
                    await response.write_eof()
            return response
        finally:
            self._watchers.discard(watcher)

    async def _stream_changes(
        self,
        watcher: _Watcher,
        response: aiohttp.web.StreamResponse,
        raw: aiohttp.web.BaseRequest,
        seen: int,
        timeout: float,
        as_event: Callable[[_Change], Obj | None],
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        while True:
            wait = (
                _WATCH_IDLE_POLL
                if deadline is None
                else min(_WATCH_IDLE_POLL, deadline - loop.time())
            )
            if wait <= 0:
                return
            try:
                change = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if raw.transport is None or raw.transport.is_closing():
                    return
                continue
            if change is None:
                return
            if change.revision <= seen:
                continue  # already sent in the replay
            event = as_event(change)
            if event is not None:
                await response.write(json.dumps(event).encode() + b"\n")


@functools.cache
def _bundled_resources() -> dict[kmock.resource, kmock.ResourceInfo]:
    """kmock's bundled builtin resources, parsed once per process (it takes tens of ms)."""
    resources = kmock.ResourcesArray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # kmock uses importlib's read_binary
        resources.load_bundled()
    return {res: resources[res] for res in resources}


def _desired(obj: Mapping[str, Any]) -> Obj:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


# --------------------------------------------------------------------------------------------
# The server in a thread.


@attrs.mutable
class _Server(kmock.Server):
    """kmock's server without its process-wide aiohttp resolver patch.

    Clients reach us by IP, and the patch must be undone in LIFO order, which several
    servers started and stopped from several threads cannot promise.
    """

    async def __aenter__(self) -> Self:
        with _RESOLVER_PATCH_LOCK:
            await super().__aenter__()
            interceptor = self._managed_interceptor
            assert interceptor is not None
            await interceptor.__aexit__(None, None, None)
        self._managed_interceptor = contextlib.nullcontext()  # type: ignore[assignment]
        return self


_RESOLVER_PATCH_LOCK = threading.Lock()


class KubeApiServer:
    """A :class:`FaithfulEmulator` served over HTTP from a daemon thread.

    Every method may be called from any thread: each runs on the server's event loop,
    so the store is never touched concurrently. Before :meth:`start`, calls run inline.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.url = ""
        self.emulator = FaithfulEmulator()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # ---- lifecycle ----

    def start(self, timeout: float = 30.0) -> KubeApiServer:
        """Start serving; return once the server answers ``GET /version``."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(loop, started), name=f"kube-emulator-{id(self):x}", daemon=True
        )
        self._loop = loop
        self._thread.start()
        try:
            port = started.result(timeout=timeout)
            self.url = f"http://{self.host}:{port}"
            self._wait_ready(port, time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving (ends open watches first); idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None:
            return
        if stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have ended on its own
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        self._thread = self._loop = self._stopping = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(
        self, loop: asyncio.AbstractEventLoop, started: concurrent.futures.Future[int]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(started))
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
        finally:
            loop.close()

    async def _serve(self, started: concurrent.futures.Future[int]) -> None:
        self._stopping = asyncio.Event()
        port = self.port or None
        async with self.emulator, _Server(self.emulator, host=self.host, port=port) as server:
            started.set_result(server.port)
            await self._stopping.wait()
            self.emulator.close_watches()

    def _wait_ready(self, port: int, deadline: float) -> None:
        # Plain http.client: no proxy from the environment can come between.
        while True:
            connection = http.client.HTTPConnection(self.host, port, timeout=5)
            try:
                connection.request("GET", "/version", headers={_PROBE_HEADER: "1"})
                if connection.getresponse().status == 200:
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            finally:
                connection.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.url} does not answer GET /version")
            time.sleep(0.01)

    def _call(self, fn: Callable[[], _T], timeout: float = 60.0) -> _T:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or threading.current_thread() is thread:
            return fn()

        async def run() -> _T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    # ---- client configuration ----

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """Write a kubeconfig for this server: plain http, a token user, its context current."""
        if not self.url:
            raise RuntimeError("start the server first: its URL is not known yet")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kube-emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "kube-emulator", "user": {"token": "kube-emulator-token"}}],
            "contexts": [
                {
                    "name": "kube-emulator",
                    "context": {
                        "cluster": "kube-emulator",
                        "user": "kube-emulator",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kube-emulator",
            "preferences": {},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # ---- objects ----

    def apply_crd(self, crd: dict[str, Any]) -> None:
        """Create (or replace) a CustomResourceDefinition and register it into discovery."""
        body = _clone(crd)

        def apply() -> None:
            name = body["metadata"]["name"]
            if self.emulator.get_object(CRDS, None, name) is None:
                self.emulator.create_object(CRDS, body)
            else:
                self.emulator.update_object(CRDS, None, name, lambda _: body)

        self._call(apply)

    def seed(self, objects: Iterable[dict[str, Any]]) -> None:
        """Insert many objects at once, stamped like a create (``.status`` kept); watchers see them.

        The resource comes from each object's apiVersion and kind; namespaced objects
        without a namespace go to ``default``. A seeded object existed before: it keeps the
        ``creationTimestamp`` it has (rollouts are told apart by their ReplicaSets' ones).
        """
        bodies = _clone(list(objects))

        def insert() -> None:
            resources: dict[tuple[str, str], kmock.resource] = {}
            timestamp = _now()
            for body in bodies:
                key = (body.get("apiVersion", ""), body.get("kind", ""))
                if key not in resources:
                    resources[key] = self.emulator.resource_for(*key)
                res = resources[key]
                meta = body.get("metadata") or {}
                namespace = meta.get("namespace") or "default"
                created = meta.get("creationTimestamp") or timestamp
                self.emulator.create_object(res, body, namespace=namespace, timestamp=created)

        self._call(insert)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert one object like :meth:`seed` and return it as stored."""
        body = _clone(obj)

        def insert() -> Obj:
            res = self.emulator.resource_for(body.get("apiVersion", ""), body.get("kind", ""))
            namespace = (body.get("metadata") or {}).get("namespace") or "default"
            return _clone(self.emulator.create_object(res, body, namespace=namespace))

        return self._call(insert)

    def get(
        self, api_version: str, kind_or_plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        def read() -> Obj | None:
            res = self.emulator.resource_for(api_version, kind_or_plural)
            obj = self.emulator.get_object(res, namespace, name)
            return None if obj is None else _clone(obj)

        return self._call(read)

    def list(
        self,
        api_version: str,
        kind_or_plural: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ObjList:
        """Current objects sorted by namespace and name; all namespaces if ``namespace`` is None."""

        def read() -> ObjList:
            res = self.emulator.resource_for(api_version, kind_or_plural)
            selector = _Selector.parse(label_selector, field_selector)
            return _clone(self.emulator.list_objects(res, namespace, selector))

        return self._call(read)

    def patch_object(
        self,
        api_version: str,
        kind_or_plural: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any] | ObjList,
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Merge-patch (a dict) or JSON-patch (a list), with the same rules as over HTTP."""
        body = _clone(patch)

        def change(old: Obj) -> Any:
            if isinstance(body, list):
                return jsonpatch.apply_patch(old, body, in_place=False)
            return _merge_patch(old, body)

        def write() -> Obj:
            res = self.emulator.resource_for(api_version, kind_or_plural)
            return _clone(
                self.emulator.update_object(res, namespace, name, change, subresource=subresource)
            )

        return self._call(write)

    def delete(
        self, api_version: str, kind_or_plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """Delete like the API does (finalizers defer it); None if there was no such object."""

        def remove() -> Obj | None:
            res = self.emulator.resource_for(api_version, kind_or_plural)
            if self.emulator.get_object(res, namespace, name) is None:
                return None
            return _clone(self.emulator.delete_object(res, namespace, name))

        return self._call(remove)

    # ---- faults and counters ----

    def inject_fault(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """See :meth:`FaithfulEmulator.inject_fault`."""
        self._call(
            lambda: self.emulator.inject_fault(
                method, path_regex, status, times=times, headers=headers, body=body
            )
        )

    def clear_faults(self) -> None:
        self._call(self.emulator.clear_faults)

    def compact(self) -> None:
        """Forget the change log: watches resuming from older resourceVersions get 410 Gone."""
        self._call(self.emulator.compact)

    @property
    def request_count(self) -> int:
        return self.emulator.request_count

    def count_requests(self, method: str | None = None, path_prefix: str = "") -> int:
        return self._call(lambda: self.emulator.count_requests(method, path_prefix))

    @property
    def internal_errors(self) -> tuple[BaseException, ...]:
        return self._call(lambda: tuple(self.emulator.internal_errors))


def _clone(value: _T) -> _T:
    """A deep copy that also proves the value is JSON (and beats copy.deepcopy at it)."""
    return json.loads(json.dumps(value))  # type: ignore[no-any-return]


def crds_from_file(path: str | Path) -> ObjList:
    """Load every CustomResourceDefinition from a (multi-document) YAML file."""
    with Path(path).open(encoding="utf-8") as stream:
        docs = list(yaml.safe_load_all(stream))
    return [
        doc
        for doc in docs
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


def crd_from_file(path: str | Path) -> dict[str, Any]:
    """Load the first CustomResourceDefinition from a YAML file."""
    crds = crds_from_file(path)
    if not crds:
        raise ValueError(f"{path}: no CustomResourceDefinition found")
    return crds[0]
