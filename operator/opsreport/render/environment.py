"""The single Jinja environment: built-in templates, sandboxed, strict about undefined names.

A user's template (from a ConfigMap) is compiled into this same environment, so it can
`{% extends %}` and `{% include %}` the built-ins and sees exactly the filters they see.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from opsreport.render import sandbox
from opsreport.render.filters import FILTERS, NO_DATA


def builtin_templates_dir() -> Path:
    """The package's own copy in a wheel, else the repository's `templates/`."""
    packaged = Path(__file__).resolve().parent.parent / "builtin_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "templates"


class ReportEnvironment(ImmutableSandboxedEnvironment):
    """Immutable: a template cannot change the report it renders (no `list.append`, no
    `dict.update`), so every format of one run renders the same data."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    template_class = sandbox.GuardedTemplate

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return sandbox.binop(operator, left, right)

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        args = sandbox.call(__obj, args)
        return sandbox.check_value(
            ImmutableSandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        )

    def compile_user_template(self, source: str, name: str) -> Template:
        """Compile a user's template under `name` (its extension picks autoescaping)."""
        code = self.compile(source, name=name, filename=name)
        return self.template_class.from_code(self, code, self.make_globals(None))


@cache
def environment() -> ReportEnvironment:
    env = ReportEnvironment(
        loader=FileSystemLoader([str(builtin_templates_dir())]),
        autoescape=select_autoescape(["html", "xml", "html.j2", "xml.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    sandbox.install(env)
    env.globals["NO_DATA"] = NO_DATA
    return env


def warm() -> int:
    """Compile every built-in template now, so that no report pays for it: the operator calls
    this at start-up. Returns how many were compiled.

    Jinja compiles a template on its first `get_template` and keeps it in the environment's cache
    (400 entries, far more than the built-ins), so later reports and users' templates that extend
    or include a built-in find it compiled.
    """
    env = environment()
    names = env.list_templates(extensions=["j2"])
    for name in names:
        env.get_template(name)
    return len(names)
