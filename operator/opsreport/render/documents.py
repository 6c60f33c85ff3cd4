"""Render ReportData into documents, one per format. A user's template renders under the sandbox's
budget (`sandbox.run_limited`); the built-in ones are trusted and skip it, keeping the caps."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydantic_core
from jinja2 import Template, TemplateError, TemplateSyntaxError

from opsreport.model.report import ReportData
from opsreport.render import sandbox
from opsreport.render.context import template_context
from opsreport.render.environment import builtin_templates_dir, environment
from opsreport.render.sandbox import LimitExceeded, Limits

EXTENSIONS = {"markdown": "md", "html": "html", "json": "json"}
CONTENT_TYPES = {
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}
MAX_TOP_N = 100
TextFormat = Literal["markdown", "html"]
# A user template's key names its format: `report.md.j2`, `team.html`, `weekly.md.jinja`.
_BLANK_LINES = re.compile(r"\n{3,}")
_CUSTOM_KEY = re.compile(r"\.(md|markdown|html|htm)(\.j2|\.jinja|\.jinja2)?$")


class RenderError(Exception):
    """A template failed; the message names the template and line."""


@dataclass(frozen=True)
class Document:
    format: str
    content: str

    @property
    def filename(self) -> str:
        return f"report.{EXTENSIONS[self.format]}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def custom_template_format(key: str) -> TextFormat | None:
    """The format a user's template renders, from its key's extension; None if unknown."""
    match = _CUSTOM_KEY.search(key)
    if match is None:
        return None
    return "markdown" if match.group(1) in ("md", "markdown") else "html"


@dataclass(frozen=True)
class CustomTemplate:
    """A user's template, read from a ConfigMap in the schedule's namespace."""

    config_map: str
    key: str
    source: str

    @property
    def name(self) -> str:
        # Ends with the key, so the key's extension picks HTML autoescaping.
        return f"configmap/{self.config_map}/{self.key}"

    @property
    def format(self) -> TextFormat | None:
        return custom_template_format(self.key)


def _name_of(filename: str) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(builtin_templates_dir().resolve()).as_posix()
    except (ValueError, OSError):
        return filename


def _render_error(error: BaseException, fallback: str) -> RenderError:
    if isinstance(error, TemplateSyntaxError):
        where = f"{error.name or fallback}:{error.lineno}"
        return RenderError(f"{where}: {error.message}")
    location = sandbox.template_location(error, _name_of)
    where = f"{location[0]}:{location[1]}" if location else fallback
    if isinstance(error, LimitExceeded | TemplateError):
        message = str(error)
    elif isinstance(error, RecursionError):
        message = "recursion too deep (a macro that calls itself without end?)"
    else:  # a template's own mistake, such as dividing by zero or adding text to a number
        message = f"{type(error).__name__}: {error}"
    return RenderError(f"{where}: {message}")


def report_json(report: ReportData) -> str:
    """The JSON document, indented. pydantic's serializer, not json.dumps: with an indent,
    json.dumps runs its pure-Python encoder (0.25 s for the 2.5 MB of a 10,000-pod report)."""
    data = report.to_json_dict()
    try:
        return pydantic_core.to_json(data, indent=2, ensure_ascii=True).decode() + "\n"
    except ValueError:  # e.g. a lone surrogate from a decoded API response: json.dumps escapes it
        return json.dumps(data, indent=2) + "\n"


def _render_text(
    report: ReportData,
    *,
    template: str,
    fmt: TextFormat,
    top_n: int,
    custom: CustomTemplate | None,
    limits: Limits,
) -> str:
    name = custom.name if custom else f"{template}/report.{EXTENSIONS[fmt]}.j2"

    def work() -> str:
        env = environment()
        compiled: Template
        if custom is not None:
            if len(custom.source) > sandbox.MAX_TEMPLATE_CHARS:
                raise LimitExceeded(
                    f"the template is larger than {sandbox.MAX_TEMPLATE_CHARS // 1024} KiB"
                )
            compiled = env.compile_user_template(custom.source, custom.name)
        else:
            compiled = env.get_template(name)
        context = template_context(report, template=template, fmt=fmt, top_n=top_n)
        text = sandbox.collect_output(compiled.generate(context), limits)
        if custom is None and fmt == "markdown":
            # Sections that render nothing leave blank lines; one is enough between blocks.
            text = _BLANK_LINES.sub("\n\n", text)
        return text

    try:
        if custom is None:
            return sandbox.run_trusted(work, limits)
        return sandbox.run_limited(work, limits)
    except (Exception, LimitExceeded) as error:
        raise _render_error(error, name) from None


def render_documents(
    report: ReportData,
    template: str,
    formats: tuple[str, ...],
    *,
    top_n: int = 10,
    custom: CustomTemplate | None = None,
    limits: Limits | None = None,
) -> list[Document]:
    """One document per format. `custom` replaces the built-in `template` for the format its key
    names; JSON is always the report itself."""
    limits = limits or Limits()
    top_n = max(1, min(top_n, MAX_TOP_N))
    if custom is not None:
        if custom.format is None:
            raise RenderError(
                f"{custom.name}: the key must end in .md.j2 or .html.j2 (or .md, .html),"
                " which says the format it renders"
            )
        if custom.format not in formats:
            raise RenderError(
                f"{custom.name}: renders {custom.format}, which spec.formats does not list"
            )
    documents = []
    for fmt in formats:
        if fmt == "json":
            content = report_json(report)
        elif fmt in ("markdown", "html"):
            text_format: TextFormat = "markdown" if fmt == "markdown" else "html"
            content = _render_text(
                report,
                template=template,
                fmt=text_format,
                top_n=top_n,
                custom=custom if custom is not None and custom.format == fmt else None,
                limits=limits,
            )
        else:
            raise RenderError(f"unknown format {fmt!r}")
        documents.append(Document(fmt, content))
    return documents
