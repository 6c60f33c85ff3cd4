"""The single Jinja environment: built-in templates, sandboxed, strict about undefined names."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from opsreport.render.filters import FILTERS, NO_DATA


def builtin_templates_dir() -> Path:
    """The package's own copy in a wheel, else the repository's `templates/`."""
    packaged = Path(__file__).resolve().parent.parent / "builtin_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "templates"


@cache
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader([str(builtin_templates_dir())]),
        autoescape=select_autoescape(["html", "xml", "html.j2", "xml.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.globals["NO_DATA"] = NO_DATA
    return env
