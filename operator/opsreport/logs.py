"""Log lines that say which schedule and which run they are about.

A report run sets a context (namespace, name, run id) in a contextvar; asyncio copies it into
every task the run starts, so the collectors', sinks' and kopf's own lines of that run all carry
it. A filter on the root handlers copies it onto each record:

- JSON (kopf's formatter): the fields `run_id` and `schedule`, and kopf's own `object`
  reference, so our lines and kopf's parse alike;
- plain: a `[namespace/name run=<id>]` prefix.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from opsreport import api


@dataclass(frozen=True)
class RunContext:
    namespace: str
    name: str
    run_id: str


_current: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "opsreport_run", default=None
)


def new_run_id() -> str:
    """Short and random: unique enough to grep one run out of a day of logs."""
    return secrets.token_hex(4)


@contextlib.contextmanager
def run_context(namespace: str, name: str, run_id: str) -> Iterator[RunContext]:
    context = RunContext(namespace, name, run_id)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


class RunContextFilter(logging.Filter):
    """Adds the current run's schedule and id to every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is None:
            return True
        record.run_id = context.run_id
        record.schedule = f"{context.namespace}/{context.name}"
        if not hasattr(record, "k8s_ref"):
            # kopf's JSON formatter writes this as `object`, as on its own per-object lines.
            record.k8s_ref = {
                "apiVersion": api.API_VERSION,
                "kind": api.KIND,
                "namespace": context.namespace,
                "name": context.name,
            }
        return True


PLAIN_FORMAT = "[%(asctime)s] %(name)-20.20s [%(levelname)-8.8s] %(message)s"


class PlainFormatter(logging.Formatter):
    """kopf's plain layout with `[namespace/name run=<id>] ` before the message when known."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        prefix = _prefix(record)
        if not prefix:
            return super().formatMessage(record)
        original = record.message
        record.message = f"{prefix} {original}"
        try:
            return super().formatMessage(record)
        finally:
            record.message = original


def _prefix(record: logging.LogRecord) -> str:
    ref = getattr(record, "k8s_ref", None)
    where = getattr(record, "schedule", None)
    if where is None and isinstance(ref, dict) and ref.get("name"):
        where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else ref["name"]
    if where is None:
        return ""
    run_id = getattr(record, "run_id", None)
    return f"[{where} run={run_id}]" if run_id else f"[{where}]"


# At DEBUG these log request headers: botocore the SigV4 Authorization header and any
# x-amz-security-token (a secret). --verbose is for the operator's own story, never theirs.
QUIET_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3", "httpcore", "hpack")


def install(log_format: str) -> None:
    """After kopf.configure(): add the run context to every root handler's records."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RunContextFilter) for f in handler.filters):
            handler.addFilter(RunContextFilter())
        if log_format != "json":
            handler.setFormatter(PlainFormatter())
