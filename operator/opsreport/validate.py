"""Offline checks of ReportSchedule manifests: the CRD's schema first, then the spec model.

The CRD's openAPIV3Schema catches what the API server would reject (types, enums, bounds,
unknown fields); `parse_spec` adds what only we know (cron syntax, IANA time zones, durations).
Documents of other kinds are ignored, so a whole GitOps directory can be checked at once.
"""

from __future__ import annotations

import copy
import importlib.resources
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from opsreport import api
from opsreport.model.spec import InvalidSpec, parse_spec

Json = dict[str, Any]

_CRD_FILE = f"{api.PLURAL}.{api.GROUP}.yaml"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    """One finding, printed as `file:path: message`."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.path}: {self.message}"


@dataclass(frozen=True)
class Result:
    problems: tuple[Problem, ...]
    schedules: int
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems


def load_crd() -> Json:
    """The ReportSchedule CRD packaged with opsreport (a symlink to deploy/crds/ in the repo)."""
    resource = importlib.resources.files("opsreport").joinpath("crds", _CRD_FILE)
    crd: Json = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return crd


@cache
def _validator() -> jsonschema.protocols.Validator:
    versions = load_crd()["spec"]["versions"]
    (version,) = [v for v in versions if v["name"] == api.VERSION]
    schema = to_json_schema(version["schema"]["openAPIV3Schema"])
    # Draft 4 is the JSON Schema dialect OpenAPI 3.0 (and so the CRD) is built on.
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def to_json_schema(openapi: Json) -> Json:
    """Translate a CRD's structural OpenAPI v3 schema into JSON Schema with the API's meaning.

    `nullable` becomes a `null` type, and objects with declared properties reject unknown
    fields: the API server would silently prune them, which is how a typo goes unnoticed.
    CEL rules (x-kubernetes-validations) are left to `parse_spec`, which enforces the same ones.
    """
    schema = copy.deepcopy(openapi)

    def walk(node: Json) -> None:
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for child in (node.get("properties") or {}).values():
            walk(child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key])

    walk(schema)
    # metadata is validated by the API server against ObjectMeta, not by the CRD.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return schema


def _dotted(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def _describe(error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """Name the offending field itself, not its parent, for missing and unknown fields."""
    parent = list(error.absolute_path)
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [name for name in error.validator_value if name not in instance]
        return [(_dotted([*parent, name]), "required") for name in missing]
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = schema.get("properties") or {}
        unknown = [name for name in instance if name not in known]
        return [(_dotted([*parent, name]), "unknown field") for name in unknown]
    return [(_dotted(parent), error.message)]


def check_document(doc: Json) -> list[tuple[str, str]]:
    """(path, message) for everything wrong with one ReportSchedule document, each said once."""
    if doc.get("apiVersion") != api.API_VERSION:
        return [("apiVersion", f"{doc.get('apiVersion')!r} is not {api.API_VERSION}")]
    found: dict[tuple[str, str], None] = {}
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not (metadata.get("name") or metadata.get("generateName")):
        found[("metadata.name", "required")] = None
    for error in _validator().iter_errors(doc):
        found.update(dict.fromkeys(_describe(error)))
    spec = doc.get("spec")
    if isinstance(spec, dict):
        for invalid in _spec_errors(spec):
            # The schema has usually named this field already; parse_spec adds cron and zones.
            if invalid.field not in {path for path, _ in found}:
                found[(invalid.field, invalid.message)] = None
    return sorted(found)


def _spec_errors(spec: Json) -> Iterator[InvalidSpec]:
    try:
        parse_spec(spec)
    except InvalidSpec as error:
        yield error
    # parse_spec stops at the first problem; judge the cron and the zone on their own as well, so
    # that a problem elsewhere does not hide them.
    minimal = {"schedule": "@daily", "timeZone": "UTC", "window": {"duration": "1h"}}
    for key in ("schedule", "timeZone"):
        if isinstance(spec.get(key), str):
            try:
                parse_spec({**minimal, key: spec[key]})
            except InvalidSpec as error:
                yield error


def _expand(names: Sequence[str]) -> Iterator[Path]:
    """Named files as they are; directories searched for *.yaml and *.yml, hidden ones skipped."""
    for name in names:
        path = Path(name)
        if not path.is_dir():
            yield path
            continue
        for found in sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file()):
            if not any(part.startswith(".") for part in found.relative_to(path).parts[:-1]):
                yield found


def _documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        # Helm or Jinja templates are not YAML; only a file about ReportSchedules must parse.
        if api.KIND not in text:
            return []
        raise


def validate_paths(names: Sequence[str]) -> Result:
    """Check every ReportSchedule in the named files and (recursively) directories."""
    problems: list[Problem] = []
    schedules = files = 0
    for path in _expand(names):
        files += 1
        try:
            documents = _documents(path)
        except yaml.MarkedYAMLError as error:
            line = f"line {error.problem_mark.line + 1}" if error.problem_mark else "(file)"
            problems.append(Problem(str(path), line, f"not YAML: {error.problem}"))
            continue
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            problems.append(Problem(str(path), "(file)", f"cannot read: {error}"))
            continue
        ours = [
            doc
            for doc in documents
            if isinstance(doc, dict)
            and doc.get("kind") == api.KIND
            and str(doc.get("apiVersion", "")).startswith(f"{api.GROUP}/")
        ]
        for doc in ours:
            schedules += 1
            metadata = doc.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            suffix = f" ({api.KIND} {name})" if len(ours) > 1 and name else ""
            for field, message in check_document(doc):
                problems.append(Problem(str(path), field, message + suffix))
    return Result(tuple(problems), schedules, files)
