"""S3 object keys from a `keyTemplate`: parsed once, rendered per window, matched back.

Rendering never calls str.format, so no attribute or index lookup can reach an object: only the
five fields exist, and window times take only numeric strftime directives, in UTC. Matching a key
back is what lets retention touch only this schedule's own reports.

Kept free of heavy imports: the spec model judges templates with it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from opsreport.scheduling import Window

# Seconds in the default: two run-now reports in one minute must not share a key.
DEFAULT_KEY_TEMPLATE = "{namespace}/{schedule}/{window.start:%Y/%m/%d/%H%M%S}/report.{ext}"


class KeyTemplateError(ValueError):
    """The key template or prefix cannot be used; the message says why."""


# Characters S3 documents as safe in keys, plus `=` for Hive-style partitions (`year=2026`).
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9!_.*'()/=-]*$")
_FIELDS = ("namespace", "schedule", "ext", "window.start", "window.end")
_WINDOW_FIELDS = ("window.start", "window.end")
# Only numeric directives: they render the same in every locale and can be matched back.
_DIRECTIVES = {
    "Y": r"\d{4}",
    "G": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "V": r"\d{2}",
    "j": r"\d{3}",
    "d": r"\d{2}",
    "u": r"[1-7]",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
}
_SIGNIFICANCE = "YGymVjduHMS"  # most significant first: how windows sort
_DEFAULT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def check_key_text(text: str, what: str = "prefix", *, whole: bool = True) -> None:
    """Refuse characters S3 tools mangle and, in a whole key or prefix, `.`/`..` segments that
    look like paths."""
    if not _SAFE_TEXT.fullmatch(text):
        raise KeyTemplateError(f"{what} may contain only letters, digits, / and !_.*'()=-")
    if whole and any(part in (".", "..") for part in text.split("/")):
        raise KeyTemplateError(f"{what} may not contain . or .. segments")


@dataclass(frozen=True)
class _Token:
    """Literal text, a name field (`namespace`, `schedule`, `ext`), or one time directive."""

    kind: str  # "text", "field" or "time"
    value: str  # the text, the field name, or the directive letter
    field: str = ""  # for "time": window.start or window.end


@dataclass(frozen=True)
class KeyTemplate:
    """A parsed `keyTemplate`: `{namespace}/{schedule}/{window.start:%Y/%m/%d}/report.{ext}`."""

    text: str
    tokens: tuple[_Token, ...]

    @classmethod
    def parse(cls, text: str) -> KeyTemplate:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as error:
            raise KeyTemplateError(f"not a template: {error}") from None
        tokens: list[_Token] = []
        for literal, name, spec, conversion in parsed:
            if literal:
                check_key_text(literal, "the template's text", whole=False)
                tokens.append(_Token("text", literal))
            if name is None:
                continue
            if name not in _FIELDS:
                raise KeyTemplateError(
                    f"unknown field {{{name}}}; use only {', '.join(f'{{{f}}}' for f in _FIELDS)}"
                )
            if conversion:
                raise KeyTemplateError(f"{{{name}!{conversion}}}: conversions are not allowed")
            if name in _WINDOW_FIELDS:
                tokens.extend(_time_tokens(name, spec or _DEFAULT_TIME_FORMAT))
            elif spec:
                raise KeyTemplateError(f"{{{name}}} takes no format")
            else:
                tokens.append(_Token("field", name))
        used = {t.field or t.value for t in tokens if t.kind != "text"}
        missing = [f"{{{f}}}" for f in ("namespace", "schedule", "ext") if f not in used]
        if missing:
            # Without these, two schedules or two formats would write the same key, and
            # retention could not tell this schedule's reports from another's.
            raise KeyTemplateError(f"must contain {', '.join(missing)}")
        if not used & set(_WINDOW_FIELDS):
            raise KeyTemplateError("must contain {window.start} or {window.end}")
        if text.startswith("/"):
            raise KeyTemplateError("must not start with /")
        template = cls(text, tuple(tokens))
        sample = template.render("ns", "schedule", Window(_EPOCH, _EPOCH), "md")
        if "//" in sample:
            raise KeyTemplateError("must not produce empty path segments (//)")
        check_key_text(sample, "the template")
        return template

    def render(self, namespace: str, schedule: str, window: Window, ext: str) -> str:
        values = {"namespace": namespace, "schedule": schedule, "ext": ext}
        times = {"window.start": window.start, "window.end": window.end}
        parts = []
        for token in self.tokens:
            if token.kind == "text":
                parts.append(token.value)
            elif token.kind == "field":
                parts.append(values[token.value])
            else:
                parts.append(times[token.field].astimezone(UTC).strftime(f"%{token.value}"))
        return "".join(parts)

    def key(self, prefix: str, namespace: str, schedule: str, window: Window, ext: str) -> str:
        return _join(prefix, self.render(namespace, schedule, window, ext))

    def listing_prefix(self, prefix: str, namespace: str, schedule: str) -> str:
        """The longest fixed start of this schedule's keys: what retention lists."""
        values = {"namespace": namespace, "schedule": schedule}
        parts = []
        for token in self.tokens:
            if token.kind == "text":
                parts.append(token.value)
            elif token.kind == "field" and token.value in values:
                parts.append(values[token.value])
            else:
                break
        return _join(prefix, "".join(parts))

    def matcher(
        self, prefix: str, namespace: str, schedule: str, exts: Iterable[str]
    ) -> re.Pattern[str]:
        """Matches exactly the keys this template gives this schedule, for some window."""
        values = {"namespace": namespace, "schedule": schedule}
        ext_pattern = "|".join(re.escape(ext) for ext in exts)
        parts = [re.escape(prefix + "/") if prefix else ""]
        for index, token in enumerate(self.tokens):
            if token.kind == "text":
                parts.append(re.escape(token.value))
            elif token.kind == "field" and token.value in values:
                parts.append(re.escape(values[token.value]))
            elif token.kind == "field":
                parts.append(f"(?:{ext_pattern})")
            else:
                parts.append(f"(?P<t{index}>{_DIRECTIVES[token.value]})")
        return re.compile("".join(parts) + r"\Z")

    def window_of(self, match: re.Match[str]) -> tuple[str, ...]:
        """The window part of a matched key: equal for every document of one report."""
        return tuple(match.group(f"t{i}") for i, t in enumerate(self.tokens) if t.kind == "time")

    def sort_key(self, match: re.Match[str]) -> tuple[int, ...]:
        """Orders reports by window, from the directives of window.start (else window.end)."""
        field = next(f for f in _WINDOW_FIELDS if any(t.field == f for t in self.tokens))
        found: dict[str, int] = {}
        for index, token in enumerate(self.tokens):
            if token.field == field and token.value not in found:
                found[token.value] = int(match.group(f"t{index}"))
        return tuple(found.get(directive, 0) for directive in _SIGNIFICANCE)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _time_tokens(name: str, spec: str) -> list[_Token]:
    tokens: list[_Token] = []
    text = ""
    chars = iter(spec)
    for char in chars:
        if char != "%":
            text += char
            continue
        directive = next(chars, "")
        if directive == "%":
            raise KeyTemplateError(f"{{{name}:{spec}}}: % is not allowed in a key")
        if directive not in _DIRECTIVES:
            raise KeyTemplateError(
                f"{{{name}:{spec}}}: %{directive} is not allowed; use "
                + " ".join(f"%{d}" for d in _DIRECTIVES)
            )
        if text:
            check_key_text(text, f"{{{name}:…}}", whole=False)
            tokens.append(_Token("text", text))
            text = ""
        tokens.append(_Token("time", directive, name))
    if text:
        check_key_text(text, f"{{{name}:…}}", whole=False)
        tokens.append(_Token("text", text))
    if not any(token.kind == "time" for token in tokens):
        raise KeyTemplateError(f"{{{name}:{spec}}} needs at least one %-directive")
    return tokens


def _join(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def s3_location(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_location(location: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` location."""
    rest = location.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if rest == location or not bucket or not key:
        raise ValueError(f"{location!r} is not an s3://bucket/key location")
    return bucket, key
