"""Limits that keep any template, a user's included, from harming the operator.

Jinja's sandbox already refuses `__class__`, `__subclasses__` and other private attributes, and a
template sees only its context (no `os`, no imports). It does not stop a template that loops for
hours or builds a gigabyte string. So every render of a user's template (`run_limited`):

- runs in a worker thread against a wall-clock budget; a trace function in that thread counts the
  template lines executed (about one per loop iteration) and stops the render when the budget or
  the step cap is spent, so a runaway loop ends instead of spinning on after the timeout;
- refuses, before allocating, operations that would build an oversized value (`"x" * 10**9`,
  `center(10**9)`, `"%1000000000d"`, a separator joined a million times, `~` doubling, `9**9**9`);
- watches the process's resident memory from the same trace function as a backstop for growth
  spread over many small steps;
- stops when the output passes its cap.

The built-in templates are ours and render in the caller's thread without the trace function
(`run_trusted`), which at 10,000 pods cost more than the render itself; they keep the value and
output caps, and a user's template that extends or includes them runs them under its own budget.

A single C-level operation cannot be interrupted from Python: whatever slips past the checks above
is still bounded by the time budget, after which the caller gets an error while the worker thread
finishes on its own (it is a daemon thread).
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, TypeVar

from jinja2 import Template, filters, pass_environment, pass_eval_context, runtime, utils
from jinja2.environment import Environment
from jinja2.nodes import EvalContext

T = TypeVar("T")

MAX_TEMPLATE_CHARS = 256 * 1024  # a ConfigMap holds at most 1 MiB; a template needs far less


@dataclass(frozen=True)
class Limits:
    seconds: float = 10.0
    # Template lines executed, about one per loop iteration; built-in reports need a few thousand.
    max_steps: int = 2_000_000
    output_bytes: int = 5 * 2**20
    # Characters (or items) of any one value a template builds.
    value_chars: int = 2**20
    # Resident memory the process may grow by during one render.
    memory_bytes: int = 512 * 2**20


class LimitExceeded(BaseException):
    """A render went past a limit. A BaseException, so that no `except Exception` inside Jinja or
    a filter can swallow it on its way out of the template."""


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.steps = 0
        self.calls = 0
        self.rss_start = _rss_bytes()

    def call(self) -> None:
        self.calls += 1
        if self.calls % 256 == 0:
            self.check()

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise LimitExceeded(
                f"the template executed more than {self.limits.max_steps:,} steps"
                " (an endless or very long loop?)"
            )
        if self.steps % 256 == 0:
            self.check()

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"rendering took longer than {self.limits.seconds:g} s")
        if self.rss_start is not None:
            rss = _rss_bytes()
            if rss is not None and rss - self.rss_start > self.limits.memory_bytes:
                raise LimitExceeded(
                    f"rendering used more than {self.limits.memory_bytes // 2**20} MiB of memory"
                )


_local = threading.local()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _value_cap() -> int:
    limits: Limits | None = getattr(_local, "limits", None)
    return limits.value_chars if limits else Limits.value_chars


def check_size(size: int, what: str = "a value") -> None:
    cap = _value_cap()
    if size > cap:
        raise LimitExceeded(f"{what} of {size:,} characters or items exceeds the limit of {cap:,}")


def _size(value: object) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def check_value(value: T) -> T:
    check_size(_size(value))
    return value


# printf widths and precisions (`%1000000000d`, `%.*f`) and str.format widths (`{:>1000000000}`).
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(?:\*|\d{7,})|%[-#0 +]*\d*\.(?:\*|\d{7,})")
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*(?:\d{7,}|\{)")


def _check_format(fmt: object, style: str) -> None:
    if isinstance(fmt, str) and (_PRINTF_WIDTH if style == "%" else _FORMAT_WIDTH).search(fmt):
        raise LimitExceeded("a format width or precision above 999,999 is not allowed")


def _check_repeat(sequence: object, times: object) -> None:
    if isinstance(times, int) and isinstance(sequence, str | bytes | list | tuple):
        check_size(len(sequence) * max(times, 0), "a repeated value")


def _joined_size(items: list[Any], separator: str) -> int:
    size = sum(len(item) if isinstance(item, str) else 20 for item in items)
    return size + max(len(items) - 1, 0) * len(separator)


def binop(operator: str, left: Any, right: Any) -> Any:
    """The intercepted binary operators: `*`, `**`, `%` and `+`."""
    if operator == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        return check_value(left * right)
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            bits = right * math.log2(abs(left))
            if bits > 65536:
                raise LimitExceeded(f"{left} ** {right} is too large a number")
        return left**right
    if operator == "%":
        if isinstance(left, str):
            _check_format(left, "%")
        return check_value(left % right)
    if operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, type(left)):
            check_size(len(left) + len(right))
        return left + right
    raise AssertionError(f"operator {operator} is not intercepted")


def _str_method_check(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pre-checks for the str methods that can grow a string far beyond their inputs."""
    # The sandbox hands out `str.format` wrapped; the wrapper keeps the method as `__wrapped__`.
    method = getattr(method, "__wrapped__", method)
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        _check_format(owner, "{")
    elif name in ("ljust", "rjust", "center", "zfill", "expandtabs") and args:
        width = args[0]
        if isinstance(width, int):
            check_size(width * (owner.count("\t") + 1) if name == "expandtabs" else width)
    elif name == "replace" and len(args) >= 2:
        check_size(_replaced_size(owner, str(args[0]), str(args[1])))
    elif name == "join" and args:
        items = list(args[0])
        check_size(_joined_size(items, owner), "a joined string")
        return (items, *args[1:])
    return args


def call(obj: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Runs before every call a template makes; returns the arguments to use."""
    return _str_method_check(obj, args)


# Built-in filters and globals that can grow a value by an argument, wrapped with pre-checks.


def _center(value: str, width: int = 80) -> str:
    check_size(width)
    return filters.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    pad = width if isinstance(width, int) else len(width)
    check_size(len(str(s)) + pad * (str(s).count("\n") + 1))
    return filters.do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(value, "%")
    return check_value(filters.do_format(value, *args, **kwargs))


@pass_environment
def _wordwrap(environment: Environment, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    wrapstring = kwargs.get("wrapstring") or (args[1] if len(args) > 1 else None) or "\n"
    check_size(len(s) + (len(s) // max(width, 1) + 1) * len(str(wrapstring)))
    return check_value(filters.do_wordwrap(environment, s, width, *args, **kwargs))


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    check_size(linecount, "a batch")
    return filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    check_size(slices, "a slice count")
    return filters.sync_do_slice(value, slices, fill_with)


def _replaced_size(text: str, old: str, new: str) -> int:
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * max(len(new) - len(old), 0)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None) -> str:
    check_size(_replaced_size(str(s), str(old), str(new)))
    return filters.do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    if indent is not None and indent > 16:
        raise LimitExceeded("tojson indent above 16 is not allowed")
    return check_value(filters.do_tojson(eval_ctx, value, indent))


@pass_eval_context
def _join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    check_size(_joined_size(items, d), "a joined string")
    return filters.sync_do_join(eval_ctx, items, d, attribute)


@pass_environment
def _sum(
    environment: Environment,
    iterable: Iterable[Any],
    attribute: str | int | None = None,
    start: Any = 0,
) -> Any:
    items = list(iterable)
    if isinstance(start, str | list | tuple):
        check_size(len(start) + sum(_size(item) for item in items))
    return filters.sync_do_sum(environment, items, attribute, start)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    check_size(n * max * 12, "lorem ipsum")
    return utils.generate_lorem_ipsum(n, html, min, max)


GUARDED_FILTERS: Mapping[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "wordwrap": _wordwrap,
    "batch": _batch,
    "slice": _slice,
    "tojson": _tojson,
    "join": _join,
    "sum": _sum,
}


def _guarded_markup_join(seq: Iterable[Any]) -> str:
    items = list(seq)
    check_size(sum(_size(item) for item in items), "a concatenated string")
    return runtime.markup_join(items)


def _guarded_str_join(seq: Iterable[Any]) -> str:
    items = list(seq)
    check_size(sum(_size(item) for item in items), "a concatenated string")
    return runtime.str_join(items)


class GuardedTemplate(Template):
    """Templates whose `~` concatenation is size-checked: the compiled code calls `str_join` and
    `markup_join` by name from its own module namespace, which is the render function's globals."""

    @classmethod
    def from_code(
        cls,
        environment: Any,
        code: Any,
        globals: Any,
        uptodate: Callable[[], bool] | None = None,
    ) -> Template:
        template = super().from_code(environment, code, globals, uptodate)
        namespace = template.root_render_func.__globals__
        namespace["str_join"] = _guarded_str_join
        namespace["markup_join"] = _guarded_markup_join
        return template


def install(env: Environment) -> None:
    """Put the guarded filters and globals into `env`."""
    env.filters.update(GUARDED_FILTERS)
    env.globals["lipsum"] = _lipsum


def _tracer(budget: _Budget) -> Callable[[FrameType, str, Any], Any]:
    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            budget.step()
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        budget.call()
        # Only template code is traced line by line; library code runs at full speed.
        return local if "__jinja_template__" in frame.f_globals else None

    return on_call


def run_limited(work: Callable[[], T], limits: Limits) -> T:
    """Run `work` in a worker thread under `limits`; raises LimitExceeded past any of them."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        budget = _Budget(limits)
        _local.limits = limits
        sys.settrace(_tracer(budget))
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)
        finally:
            sys.settrace(None)
            _local.limits = None

    worker = threading.Thread(target=target, name="opsreport-render", daemon=True)
    worker.start()
    # The trace function stops nearly every overrun itself; this is the backstop.
    worker.join(limits.seconds + 2.0)
    if worker.is_alive():
        raise LimitExceeded(f"rendering took longer than {limits.seconds:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


def run_trusted(work: Callable[[], T], limits: Limits) -> T:
    """Run `work` (a built-in template) in this thread, with no trace function or time budget;
    `limits`' value cap still applies, and the caller still caps the output."""
    previous = getattr(_local, "limits", None)
    _local.limits = limits
    try:
        return work()
    finally:
        _local.limits = previous


def collect_output(chunks: Iterable[str], limits: Limits) -> str:
    """Join a template's output stream, stopping as soon as it passes the output cap."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)  # characters: never more than the UTF-8 bytes they encode to
        if size > limits.output_bytes:
            raise LimitExceeded(f"the output is larger than {limits.output_bytes // 2**20} MiB")
        parts.append(chunk)
    text = "".join(parts)
    if len(text.encode("utf-8")) > limits.output_bytes:
        raise LimitExceeded(f"the output is larger than {limits.output_bytes // 2**20} MiB")
    return text


def template_location(
    error: BaseException, name_of: Callable[[str], str]
) -> tuple[str, int] | None:
    """The innermost template and line in `error`'s traceback.

    Jinja rewrites the traceback of an error raised while rendering into frames that carry the
    template's file name and line; a LimitExceeded is not rewritten, so its frames are the
    compiled code, mapped back through the template's debug info. `name_of` turns a template's
    file name into its name.
    """
    found: tuple[str, int] | None = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        frame_globals = tb.tb_frame.f_globals
        template = frame_globals.get("__jinja_template__")
        if isinstance(template, Template):
            name = template.name or name_of(template.filename or "<template>")
            found = (name, template.get_corresponding_lineno(tb.tb_lineno))
        elif "__jinja_exception__" in frame_globals:
            found = (name_of(tb.tb_frame.f_code.co_filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
