"""Server-side apply and ``metadata.managedFields`` for :class:`FaithfulEmulator`.

Modelled on the API server's field manager (k8s.io/apiserver ``fieldmanager``) and on
sigs.k8s.io/structured-merge-diff, the library it uses:

- ``PATCH`` with ``Content-Type: application/apply-patch+yaml`` (a YAML or JSON body):
  ``fieldManager`` is required (422 without it), ``force`` takes conflicting fields over;
  an object that does not exist is created (201). The applier's set of fields is exactly
  what it applied; a field it applied last time and no longer applies is removed from the
  object unless another manager (applier or updater) owns it too.
- A conflict is a field another manager owns that the apply would change: 409 ``Conflict``
  with ``details.causes`` of type ``FieldManagerConflict``, worded like the real server.
- Every other write (POST, PUT, merge/JSON patch) is an ``Update``: its manager is the
  ``fieldManager`` parameter, else the User-Agent up to its first ``/`` (``kopf/1.45``
  is ``kopf``, kubernetes_asyncio's ``OpenAPI-Generator/...`` is ``OpenAPI-Generator``).
  It takes over the fields it changed and nobody owns the fields it removed.
- Entries are keyed like the real ones (manager, operation, apiVersion for updates,
  subresource) and written in ``FieldsV1`` (``f:``, ``k:``, ``v:``, ``.``). Writes to
  ``/status`` are recorded with ``subresource: status``; on a resource with a status
  subresource the main resource neither applies nor owns ``status`` and ``/status`` owns
  nothing else. ``apiVersion``, ``kind`` and server-set metadata (name, uid...) are never
  owned, as the real server strips them.
- ``dryRun=All`` on POST, PUT and PATCH answers what would be stored and stores nothing.
- Applying to an object without managedFields (seeded in-process) first gives its fields
  to an ``Update`` manager ``before-first-apply``, as the real server does.

Lists follow the schema: a CRD's ``x-kubernetes-list-type: map`` (by its
``x-kubernetes-list-map-keys``) or ``set`` is merged item by item, any other list is atomic;
``x-kubernetes-map-type: atomic`` maps are atomic. Built-in types know only ObjectMeta's
shape (labels, annotations, finalizers as a set, ownerReferences keyed by uid); their other
lists are atomic (a real server merges e.g. a pod's containers by name).

Not modelled: defaulting and pruning from the schema, admission, conversion between
versions, the ten-updaters cap (``ancient-changes``), migration from client-side apply's
``last-applied-configuration``, ``null`` in an applied configuration (dropped), and
``dryRun`` on DELETE or on CRDs (400).
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import kmock
import yaml

from tests.support import kube_emulator as kube

if TYPE_CHECKING:
    from kmock._internal import rendering

APPLY_PATCH = "application/apply-patch+yaml"
BEFORE_FIRST_APPLY = "before-first-apply"
_FIELD_MANAGER_MAX = 128

Obj = dict[str, Any]
Path = tuple[str, ...]  # path elements as FieldsV1 writes them: 'f:spec', 'k:{"name":"a"}'


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

# Never owned by anyone: the real server strips these from every field set.
_STRIPPED: frozenset[Path] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {
        ("f:metadata", f"f:{name}")
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)


# --------------------------------------------------------------------------------------------
# Schemas: just what field ownership needs (struct or map, list type, atomicity).


@dataclasses.dataclass(frozen=True, eq=False)
class Schema:
    """``kind`` is scalar, map, list or deduced (shaped by the value, as for unknown fields)."""

    kind: str
    fields: Mapping[str, Schema] = dataclasses.field(default_factory=dict)
    elem: Schema | None = None
    atomic: bool = False
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    # Every key counts as a named struct field (built-in types, whose structs are not known).
    named_keys: bool = False

    def child(self, key: str) -> tuple[Schema, bool]:
        """The schema of a map's key and whether it is a named (struct) field."""
        if key in self.fields:
            return self.fields[key], True
        if self.kind == "deduced":
            return self, self.named_keys
        return self.elem or DEDUCED, self.named_keys

    def shape(self, value: Any) -> str:
        """leaf, map or list: how this value is walked."""
        if self.kind == "scalar" or self.atomic:
            return "leaf"
        if self.kind == "list":
            return "list" if isinstance(value, list) and self.list_type != "atomic" else "leaf"
        return "map" if isinstance(value, dict) else "leaf"  # map, or deduced (lists atomic)


SCALAR = Schema("scalar")
DEDUCED = Schema("deduced")
_LOOSE = Schema("deduced", named_keys=True)
_STRING_MAP = Schema("map", elem=SCALAR)
OBJECT_META = Schema(
    "map",
    fields={
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": Schema("list", elem=SCALAR, list_type="set"),
        "ownerReferences": Schema("list", elem=_LOOSE, list_type="map", keys=("uid",)),
    },
    elem=_LOOSE,
    named_keys=True,
)
BUILTIN = Schema("map", fields={"metadata": OBJECT_META}, elem=_LOOSE, named_keys=True)


def schema_from_openapi(schema: Any) -> Schema:
    """A CRD version's ``openAPIV3Schema`` as a :class:`Schema`, with ObjectMeta's shape."""
    root = _from_openapi(schema)
    if root.kind != "map":
        root = Schema("map", elem=DEDUCED)
    fields = {**root.fields, "apiVersion": SCALAR, "kind": SCALAR, "metadata": OBJECT_META}
    return dataclasses.replace(root, fields=fields)


def _from_openapi(schema: Any) -> Schema:
    if not isinstance(schema, dict):
        return DEDUCED
    if schema.get("x-kubernetes-int-or-string"):
        return SCALAR
    kind = schema.get("type")
    if kind == "array":
        list_type = str(schema.get("x-kubernetes-list-type") or "atomic")
        return Schema(
            "list",
            elem=_from_openapi(schema.get("items")),
            list_type=list_type,
            keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()),
        )
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        extra = schema.get("additionalProperties")
        return Schema(
            "map",
            fields={
                key: _from_openapi(sub) for key, sub in (schema.get("properties") or {}).items()
            },
            elem=_from_openapi(extra) if isinstance(extra, dict) else DEDUCED,
            atomic=schema.get("x-kubernetes-map-type") == "atomic",
        )
    if kind in ("string", "integer", "number", "boolean"):
        return SCALAR
    return DEDUCED


def _properties(schema: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    return (schema.get("properties") or {}).items()  # type: ignore[no-any-return]


_SCHEMA_CACHE: dict[tuple[str, str, str], Schema] = {}


def schema_for(emulator: kube.FaithfulEmulator, res: kmock.resource) -> Schema:
    """The CRD's schema for a custom resource, else the built-in approximation."""
    # A CRD's name is <plural>.<group>: a direct lookup, as every write comes through here.
    crd = emulator.get_object(kube.CRDS, None, f"{res.plural}.{res.group}") if res.group else None
    if crd is not None:
        for version in (crd.get("spec") or {}).get("versions") or []:
            if version.get("name") != res.version:
                continue
            meta = crd["metadata"]
            cache_key = (meta["uid"], meta["resourceVersion"], str(res.version))
            if cache_key not in _SCHEMA_CACHE:
                if len(_SCHEMA_CACHE) > 256:
                    _SCHEMA_CACHE.clear()
                openapi = (version.get("schema") or {}).get("openAPIV3Schema")
                _SCHEMA_CACHE[cache_key] = schema_from_openapi(openapi)
            return _SCHEMA_CACHE[cache_key]
    return BUILTIN


# --------------------------------------------------------------------------------------------
# Field sets (structured-merge-diff's ToFieldSet, Compare, Merge and RemoveItems).


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _items(value: Any, schema: Schema) -> list[tuple[str, Any]] | None:
    """An associative list's items by path element; None when one lacks its key (atomic then)."""
    if not isinstance(value, list):
        return []
    seen: dict[str, Any] = {}
    for item in value:
        if schema.list_type == "set":
            element = "v:" + _json(item)
        elif isinstance(item, dict) and schema.keys and all(k in item for k in schema.keys):
            element = "k:" + _json({key: item[key] for key in schema.keys})
        else:
            return None
        seen.setdefault(element, item)  # a repeated item counts once, as upstream
    return list(seen.items())


def field_set(value: Any, schema: Schema) -> set[Path]:
    """The fields a (partial) object sets: what an applier owns after applying it."""
    out: set[Path] = set()
    _to_set(value, schema, (), out)
    return out


def _to_set(value: Any, schema: Schema, path: Path, out: set[Path]) -> None:
    shape = schema.shape(value)
    items = _items(value, schema) if shape == "list" else None
    if shape == "leaf" or (shape == "list" and not items) or (shape == "map" and not value):
        if path:
            out.add(path)
        return
    if shape == "map":
        for key, child in value.items():
            child_schema, named = schema.child(key)
            child_path = (*path, f"f:{key}")
            _to_set(child, child_schema, child_path, out)
            if not named:
                out.add(child_path)  # a map key (not a struct field) is owned itself
        return
    assert items is not None
    assert schema.elem is not None
    for element, item in items:
        _to_set(item, schema.elem, (*path, element), out)
        out.add((*path, element))


@dataclasses.dataclass
class Comparison:
    added: set[Path] = dataclasses.field(default_factory=set)
    modified: set[Path] = dataclasses.field(default_factory=set)
    removed: set[Path] = dataclasses.field(default_factory=set)

    @property
    def changed(self) -> set[Path]:
        return self.added | self.modified


def compare(old: Any, new: Any, schema: Schema) -> Comparison:
    """What an update changed: leaves added/modified/removed, and containers added/removed."""
    result = Comparison()
    _compare(old, new, schema, (), result)
    return result


def _same(lhs: Any, rhs: Any) -> bool:
    # JSON's true is not 1, as Python's == would have it.
    return type(lhs) is type(rhs) and lhs == rhs if not isinstance(lhs, dict | list) else lhs == rhs


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value in ({}, [])


def _compare(lhs: Any, rhs: Any, schema: Schema, path: Path, out: Comparison) -> None:
    shape = schema.shape(rhs if rhs is not MISSING else lhs)
    if lhs is not MISSING and rhs is not MISSING and schema.shape(lhs) != shape:
        shape = "leaf"
    if shape != "leaf" and _empty(lhs) and _empty(rhs):
        shape = "leaf"  # empty on both sides: a leaf, so {} and null stay apart
    lhs_items = rhs_items = None
    if shape == "list":
        lhs_items, rhs_items = _items(lhs, schema), _items(rhs, schema)
        if lhs_items is None or rhs_items is None:
            shape = "leaf"
    if shape == "leaf":
        if lhs is MISSING:
            out.added.add(path)
        elif rhs is MISSING:
            out.removed.add(path)
        elif not _same(lhs, rhs):
            out.modified.add(path)
        return
    if shape == "map":
        left = lhs if isinstance(lhs, dict) else {}
        right = rhs if isinstance(rhs, dict) else {}
        for key in dict.fromkeys([*left, *right]):
            child_schema, _ = schema.child(key)
            child_path = (*path, f"f:{key}")
            _compare(left.get(key, MISSING), right.get(key, MISSING), child_schema, child_path, out)
    else:
        assert lhs_items is not None
        assert rhs_items is not None
        assert schema.elem is not None
        left_items, right_items = dict(lhs_items), dict(rhs_items)
        for element in dict.fromkeys([*left_items, *right_items]):
            _compare(
                left_items.get(element, MISSING),
                right_items.get(element, MISSING),
                schema.elem,
                (*path, element),
                out,
            )
    if path:
        if lhs is MISSING:
            out.added.add(path)
        elif rhs is MISSING:
            out.removed.add(path)


def merge(live: Any, config: Any, schema: Schema) -> Any:
    """The applied configuration merged into the live object (the configuration wins)."""
    if config is MISSING:
        return live
    if live is MISSING:
        return copy.deepcopy(config)
    shape = schema.shape(config)
    if schema.shape(live) != shape or shape == "leaf":
        return copy.deepcopy(config)
    if shape == "map":
        merged = dict(live)
        for key, value in config.items():
            child_schema, _ = schema.child(key)
            merged[key] = merge(live.get(key, MISSING), value, child_schema)
        return merged
    live_items, config_items = _items(live, schema), _items(config, schema)
    if live_items is None or config_items is None or schema.elem is None:
        return copy.deepcopy(config)
    return [
        merge(left, right, schema.elem) for left, right in _merged_order(live_items, config_items)
    ]


def _merged_order(
    lhs: list[tuple[str, Any]], rhs: list[tuple[str, Any]]
) -> Iterator[tuple[Any, Any]]:
    """Upstream's item order: the configuration's order, live-only items kept where they were."""
    left, right = dict(lhs), dict(rhs)
    shared = [element for element, _ in rhs if element in left]
    next_shared = shared.pop(0) if shared else None
    i = j = 0
    while i < len(lhs) or j < len(rhs):
        if i < len(lhs) and j < len(rhs):
            element = lhs[i][0]
            if element == rhs[j][0]:
                yield left[element], right[element]
                i, j = i + 1, j + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in right and next_shared is not None and next_shared != element:
                i += 1  # shared, but not the one due in this round
                continue
        if i < len(lhs) and lhs[i][0] not in right:
            yield lhs[i][1], MISSING
            i += 1
            continue
        if j < len(rhs):
            element = rhs[j][0]
            yield left.get(element, MISSING), right[element]
            j += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
        else:
            i += 1  # a live item the configuration had earlier: already merged


def remove_fields(value: Any, paths: Iterable[Path], schema: Schema) -> Any:
    """A copy of ``value`` without these fields, map keys and list items."""
    result = copy.deepcopy(value)
    for path in sorted(paths, key=len):
        _remove(result, path, schema)
    return result


def _remove(value: Any, path: Path, schema: Schema) -> None:
    parent, parent_schema = value, schema
    for element in path[:-1]:
        found = _step(parent, element, parent_schema)
        if found is None:
            return  # already removed with an ancestor
        parent, parent_schema = found
    last = path[-1]
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        items = _items(parent, parent_schema) or []
        parent[:] = [item for element, item in items if element != last]


def _step(value: Any, element: str, schema: Schema) -> tuple[Any, Schema] | None:
    if isinstance(value, dict) and element.startswith("f:") and element[2:] in value:
        child_schema, _ = schema.child(element[2:])
        return value[element[2:]], child_schema
    if isinstance(value, list) and schema.elem is not None:
        for found, item in _items(value, schema) or []:
            if found == element:
                return item, schema.elem
    return None


def _closure(paths: Iterable[Path]) -> set[Path]:
    """Each path with its ancestors (upstream's EnsureNamedFieldsAreMembers, near enough)."""
    return {path[:i] for path in paths for i in range(1, len(path) + 1)}


def display_path(path: Path) -> str:
    """A path as upstream prints it in conflicts: ``.spec.kpis[name="x"].query``."""
    parts = []
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            parts.append(f".{text}")
        elif kind == "k:":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={_go_string(v)}" for k, v in keys.items()) + "]")
        elif kind == "v:":
            parts.append(f"[={_go_string(json.loads(text))}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)


def _go_string(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _json(value)


# --------------------------------------------------------------------------------------------
# managedFields entries.


@dataclasses.dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: set[Path] = dataclasses.field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str, str]:
        # An applier is one manager whatever version it applied; an updater is one per version.
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """As upstream's conflict messages name a manager."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


def decode(entries: Any) -> list[Entry]:
    decoded = []
    for raw in entries if isinstance(entries, list) else []:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        paths: set[Path] = set()
        _decode_tree(raw.get("fieldsV1") or {}, (), paths)
        decoded.append(
            Entry(
                manager=str(raw.get("manager") or ""),
                operation=str(raw.get("operation") or ""),
                api_version=str(raw.get("apiVersion") or ""),
                subresource=str(raw.get("subresource") or ""),
                time=raw.get("time"),
                fields=paths,
            )
        )
    return decoded


def _decode_tree(tree: Mapping[str, Any], prefix: Path, out: set[Path]) -> None:
    for element, sub in tree.items():
        if element == ".":
            if prefix:
                out.add(prefix)
            continue
        path = (*prefix, element)
        if sub:
            _decode_tree(sub, path, out)
        else:
            out.add(path)


def encode(entries: Iterable[Entry]) -> list[Obj]:
    """Entries as the server writes them: Apply before Update, then by time, manager, version."""
    ordered = sorted(
        (entry for entry in entries if entry.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version),
    )
    encoded = []
    for entry in ordered:
        raw: Obj = {
            "manager": entry.manager,
            "operation": entry.operation,
            "apiVersion": entry.api_version,
        }
        if entry.time:
            raw["time"] = entry.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = _encode_tree(entry.fields)
        if entry.subresource:
            raw["subresource"] = entry.subresource
        encoded.append(raw)
    return encoded


_MEMBER = "."


def _encode_tree(paths: Iterable[Path]) -> Obj:
    root: Obj = {}
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        node[_MEMBER] = True
    return _serialize(root)


def _serialize(node: Obj) -> Obj:
    children = {key: _serialize(sub) for key, sub in sorted(node.items()) if key != _MEMBER}
    if _MEMBER in node and children:
        return {".": {}, **children}
    return children


# --------------------------------------------------------------------------------------------
# Requests: who writes, and how.


@dataclasses.dataclass(frozen=True)
class _Writer:
    manager: str
    dry_run: bool
    # Set while an apply stores its result: managedFields already computed, nothing to track.
    applied_fields: list[Obj] | None = None


# Per asyncio task, so concurrent requests (and in-process calls, which track nothing) never mix.
_WRITER: contextvars.ContextVar[_Writer | None] = contextvars.ContextVar(
    "kube_emulator_writer", default=None
)


def begin_request(request: rendering.Request, res: kmock.resource, method: str) -> None:
    """Validate a resource request's write options and note its field manager."""
    params = request.params
    if method == "GET":
        _WRITER.set(None)
        return
    dry_run = params.get("dryRun")
    options = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(
        method, "DeleteOptions"
    )
    if dry_run not in (None, "All"):
        message = f'Unsupported value: "{dry_run}": supported values: "All"'
        raise _invalid(options, "dryRun", "FieldValueNotSupported", message)
    if dry_run and (method == "DELETE" or res == kube.CRDS):
        # Failing loudly beats deleting (or registering) what the client asked only to check.
        raise kube.ApiError(400, f"dryRun is not emulated for {method} of {kube._display(res)}")
    applying = method == "PATCH" and is_apply(request)
    manager = params.get("fieldManager") or ""
    if "force" in params and not applying:
        message = "Forbidden: may not be specified for non-apply patch"
        raise _invalid(options, "force", "FieldValueForbidden", message)
    if applying and not manager:
        message = "Required value: is required for apply patch"
        raise _invalid(options, "fieldManager", "FieldValueRequired", message)
    if len(manager) > _FIELD_MANAGER_MAX:
        message = f"Too long: may not be more than {_FIELD_MANAGER_MAX} bytes"
        raise _invalid(options, "fieldManager", "FieldValueTooLong", message)
    manager = manager or manager_from_user_agent(kube._header(request.headers, "User-Agent"))
    _WRITER.set(_Writer(manager=manager, dry_run=dry_run == "All"))


def _invalid(options: str, field: str, reason: str, message: str) -> kube.ApiError:
    return kube.ApiError(
        422,
        f'{options}.meta.k8s.io "" is invalid: {field}: {message}',
        reason="Invalid",
        details={
            "group": "meta.k8s.io",
            "kind": options,
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def manager_from_user_agent(user_agent: str) -> str:
    """Upstream's default manager: the User-Agent before its first '/', printable, capped."""
    kept = "".join(ch for ch in user_agent.split("/", 1)[0] if ch.isprintable())
    return kept.encode()[:_FIELD_MANAGER_MAX].decode(errors="ignore")


def is_apply(request: rendering.Request) -> bool:
    content_type = kube._header(request.headers, "Content-Type").split(";")[0].strip().lower()
    return content_type == APPLY_PATCH


def dry_run() -> bool:
    writer = _WRITER.get()
    return writer is not None and writer.dry_run


def dry_run_result(previous: Obj | None, obj: Obj) -> Obj:
    """What a dry-run write answers: the object as it would be stored, the version unchanged."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if previous is not None and (previous.get("metadata") or {}).get("resourceVersion"):
        meta["resourceVersion"] = previous["metadata"]["resourceVersion"]
    return {**obj, "metadata": meta}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(obj: Mapping[str, Any]) -> Obj:
    """The object as field sets see it: no managedFields."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _baseline(schema: Schema) -> Obj:
    """The empty object a create starts from: a built-in's Go struct has spec and status."""
    return {"metadata": {}, "spec": {}, "status": {}} if schema is BUILTIN else {}


def _ignored(info: kmock.ResourceInfo, subresource: str | None) -> Callable[[Path], bool]:
    """Which paths a write may own: /status owns only status, the main resource not status."""
    has_status = "status" in info.subresources

    def keep(path: Path) -> bool:
        if path in _STRIPPED:
            return False
        in_status = path[:1] == ("f:status",)
        if subresource == "status":
            return in_status
        return not (has_status and in_status)

    return keep


def track_update(
    emulator: kube.FaithfulEmulator,
    res: kmock.resource,
    info: kmock.ResourceInfo,
    old: Obj | None,
    new: Obj,
    subresource: str | None,
) -> Obj:
    """``new`` with its managedFields after an Update (or the apply's, while one stores)."""
    writer = _WRITER.get()
    if writer is None:
        return new  # an in-process write: no manager to record
    if writer.applied_fields is not None:
        return _with_managed_fields(new, writer.applied_fields)
    kept = (old or {}).get("metadata", {}).get("managedFields")
    sent = (new.get("metadata") or {}).get("managedFields")
    # A client may set managedFields itself (never through /status); else they are kept.
    override = subresource is None and isinstance(sent, list) and bool(sent) and sent != kept
    base = sent if override else kept or []
    entries = decode(base)
    original = _sets(encode(copy.deepcopy(entries)))
    schema = schema_for(emulator, res)
    before = _clean(old) if old is not None else _baseline(schema)
    keep = _ignored(info, subresource)
    diff = compare(before, _clean(new), schema)
    changed = {p for p in diff.changed if keep(p)}
    removed = {p for p in diff.removed if keep(p)}
    me = Entry(writer.manager, "Update", kube._api_version(res), subresource or "")
    mine = next((e for e in entries if e.key == me.key), None)
    for entry in entries:
        entry.fields -= removed
        if entry is not mine:
            entry.fields -= changed
    if changed:
        if mine is None:
            mine = me
            entries.append(mine)
        mine.fields |= changed
        mine.time = _now()
    encoded = encode(entries)
    if not override and not changed and _sets(encoded) == original:
        return _with_managed_fields(new, kept)  # untouched: no new times, no reordering
    return _with_managed_fields(new, encoded)


def _with_managed_fields(obj: Obj, entries: list[Obj] | None) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    if entries:
        meta["managedFields"] = entries
    return {**obj, "metadata": meta}


# --------------------------------------------------------------------------------------------
# Apply.


def apply(
    emulator: kube.FaithfulEmulator,
    request: rendering.Request,
    res: kmock.resource,
    namespace: str | None,
    name: str,
) -> tuple[int, Obj]:
    """Serve a server-side apply: (status code, object)."""
    writer = _WRITER.get()
    assert writer is not None, "begin_request() first"
    info = emulator._info(res)
    subresource = request.subresource
    config = _applied_configuration(request, res, info, namespace, name)
    force = request.params.get("force", "").lower() in ("true", "1")
    live = emulator.get_object(res, namespace, name)
    if live is None and subresource is not None:
        raise kube._not_found(res, name)
    schema = schema_for(emulator, res)
    keep = _ignored(info, subresource)
    if subresource == "status":
        config = {
            k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")
        }
        config["metadata"] = {
            k: v for k, v in config["metadata"].items() if k in ("name", "namespace")
        }
    elif "status" in info.subresources:
        config.pop("status", None)  # the main resource ignores status

    live_clean = _clean(live) if live is not None else _baseline(schema)
    entries = decode((live or {}).get("metadata", {}).get("managedFields"))
    if live is not None and not entries:
        # Fields nobody was recorded for belong to a stand-in updater, so an apply can conflict.
        first = compare(_baseline(schema), live_clean, schema)
        fields = {p for p in first.changed if keep(p)}
        if fields:
            entries = [
                Entry(BEFORE_FIRST_APPLY, "Update", kube._api_version(res), "", _now(), fields)
            ]
    before = encode(copy.deepcopy(entries))

    me = Entry(writer.manager, "Apply", kube._api_version(res), subresource or "")
    configured = field_set(config, schema)
    applied = {p for p in configured if keep(p)}
    previous = next((e for e in entries if e.key == me.key), None)
    last = set(previous.fields) if previous is not None else set()
    others = [e for e in entries if e.key != me.key]
    merged = merge(live_clean, config, schema)
    # Prune what this applier applied last time, no longer applies, and nobody else owns.
    # Upstream strips metadata.name & co. only after this, so they keep metadata alive here.
    owned = _closure(configured.union(*(e.fields for e in others)))
    merged = remove_fields(merged, _closure(last) - owned, schema)

    diff = compare(live_clean, merged, schema)
    changed = {p for p in diff.changed if keep(p)}
    removed = {p for p in diff.removed if keep(p)}
    conflicts = [(entry, path) for entry in others for path in sorted(entry.fields & changed)]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry in others:
        entry.fields -= changed | removed
    if previous is not None:
        me = previous
        me.api_version = kube._api_version(res)
    me.fields = applied
    result_entries = [*others, me]
    object_changed = live is None or bool(diff.added or diff.modified or diff.removed)
    if object_changed or _sets(encode(result_entries)) != _sets(before):
        me.time = _now()
        managed = encode(result_entries)
    else:
        managed = (live or {}).get("metadata", {}).get("managedFields") or before

    token = _WRITER.set(dataclasses.replace(writer, applied_fields=managed))
    try:
        if live is None:
            body = copy.deepcopy(merged)
            created = emulator.create_object(res, body, namespace=namespace, keep_status=False)
            return 201, created
        stored = emulator.update_object(
            res, namespace, name, lambda _: merged, subresource=subresource
        )
        return 200, stored
    finally:
        _WRITER.reset(token)


def _sets(entries: list[Obj]) -> list[tuple[Any, ...]]:
    """Entries without their times: what a no-op apply must leave unchanged."""
    return sorted(
        (
            e["manager"],
            e["operation"],
            e["apiVersion"],
            e.get("subresource", ""),
            _json(e["fieldsV1"]),
        )
        for e in entries
    )


def _applied_configuration(
    request: rendering.Request,
    res: kmock.resource,
    info: kmock.ResourceInfo,
    namespace: str | None,
    name: str,
) -> Obj:
    body = request.data
    if not isinstance(body, dict):
        try:
            body = yaml.safe_load(request.text) if request.text.strip() else None
        except yaml.YAMLError as exc:
            raise kube.ApiError(400, f"error decoding YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise kube.ApiError(400, "the body of an apply patch must be an object")
    if not body.get("kind") or not body.get("apiVersion"):
        missing = "Kind" if not body.get("kind") else "Version"
        raise kube.ApiError(400, f"Object '{missing}' is missing in '{_json(body)[:200]}'")
    expected = kube._api_version(res)
    if body["apiVersion"] != expected:
        raise kube.ApiError(
            400,
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{body['apiVersion']}, expected: {expected}",
        )
    if body["kind"] != info.kind:
        raise kube.ApiError(400, f"the kind in the apply patch ({body['kind']}) is not {info.kind}")
    meta = body.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if meta.get("managedFields") is not None:
        raise kube.ApiError(400, "metadata.managedFields must be nil")
    if meta.get("name") not in (None, name):
        raise kube.ApiError(
            400,
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})",
        )
    if info.namespaced and meta.get("namespace") not in (None, "", namespace):
        raise kube.ApiError(
            400,
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    meta["name"] = name
    if info.namespaced:
        meta["namespace"] = namespace
    return _drop_nulls({**body, "metadata": meta})


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _conflict_error(conflicts: list[tuple[Entry, Path]]) -> kube.ApiError:
    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": display_path(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {entry.describe()}: {display_path(path)}"
        )
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append(display_path(path))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {path}" for path in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return kube.ApiError(409, message, reason="Conflict", details={"causes": causes})
