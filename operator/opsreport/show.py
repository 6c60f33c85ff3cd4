"""`opsreport show`: read a stored report back, from wherever the operator stored it.

Without `--window` it reads the latest delivered report named in the schedule's status (the last
report, else the newest successful run in its history). With `--window START` it works out where
that window's report is from the spec: the ConfigMap's name and the S3 key are functions of the
window. S3 credentials are resolved as the operator does (the Secret the output names, read
through the kubeconfig, else the default AWS chain of the user running the command).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import webbrowser
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from opsreport import api
from opsreport.deliver.base import ReadError, ReadRequest
from opsreport.deliver.base import StoredReport as Report
from opsreport.deliver.registry import OUTPUTS
from opsreport.kube import KubeApi, KubeError, connect
from opsreport.kubeauth import KubeAuthError
from opsreport.model.base import SpecModel
from opsreport.model.spec import InvalidSpec, ReportScheduleSpec, parse_spec
from opsreport.model.status import HistoryEntry, LastReport, ReportScheduleStatus
from opsreport.render.documents import EXTENSIONS
from opsreport.scheduling import Window, calendar_window, parse_rfc3339

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# From a calendar window's start, an instant inside the period after it: calendar_window(at)
# then gives back the window itself, whatever the DST shifts and month lengths.
_INTO_NEXT_PERIOD = {
    "day": timedelta(hours=36),
    "week": timedelta(days=10),
    "month": timedelta(days=45),
}


class ShowError(Exception):
    """A one-line message for the user."""


@dataclass(frozen=True)
class Candidate:
    """One place a report may be: an output of the schedule, for a window."""

    kind: str  # a kind of deliver.registry.OUTPUTS
    window: Window
    location: str = ""  # as recorded in status; empty when worked out from the spec
    output: int | None = None  # the index in spec.outputs, when worked out from the spec


def run(args: argparse.Namespace) -> int:
    """`opsreport show`; its arguments are defined in cli.py."""
    if args.open and args.format not in (None, "html"):
        print("opsreport: --open shows the HTML report; drop --format", file=sys.stderr)
        return 2
    ext = "html" if args.open else args.format
    try:
        report = asyncio.run(
            _fetch(args.kubeconfig, args.namespace, args.schedule, args.window, ext)
        )
    except ShowError as error:
        print(f"opsreport: {error}", file=sys.stderr)
        return 1
    if args.open:
        print(open_in_browser(report), file=sys.stderr)
        return 0
    sys.stdout.write(report.content)
    return 0


def open_in_browser(report: Report) -> Path:
    # A private temp file: the report may say things about the cluster others should not read.
    handle, name = tempfile.mkstemp(prefix="opsreport-", suffix=".html")
    path = Path(name)
    with open(handle, "w", encoding="utf-8") as file:
        file.write(report.content)
    webbrowser.open(path.as_uri())
    return path


async def _fetch(
    kubeconfig: str | None,
    namespace: str | None,
    schedule: str,
    window: str | None,
    ext: str | None,
) -> Report:
    try:
        kube = await connect(kubeconfig)
    except KubeAuthError as error:
        raise ShowError(f"cannot load the kubeconfig: {error}") from None
    # As kubectl: the kubeconfig context's namespace, or the pod's when run in one.
    namespace = namespace or kube.source.namespace or "default"
    try:
        return await fetch_report(kube, namespace, schedule, window_start=window, ext=ext)
    finally:
        await kube.close()


async def fetch_report(
    kube: KubeApi,
    namespace: str,
    schedule: str,
    *,
    window_start: str | None = None,
    ext: str | None = None,
) -> Report:
    """The report of `schedule`'s latest delivered window, or of the window starting then."""
    for name in (namespace, schedule):
        if not _NAME.match(name) or len(name) > 253:
            raise ShowError(f"{name!r} is not a Kubernetes name")
    try:
        body = await kube.get(api.schedule_path(namespace, schedule))
    except KubeError as error:
        raise ShowError(f"reading {api.KIND} {namespace}/{schedule}: {error}") from None
    if body is None:
        raise ShowError(f"{api.KIND} {namespace}/{schedule} not found")
    try:
        spec = parse_spec(body.get("spec"))
    except InvalidSpec as error:
        raise ShowError(f"{api.KIND} {namespace}/{schedule}: {error}") from None
    status = ReportScheduleStatus.read(body.get("status"))
    if window_start is None:
        candidates = latest_candidates(status)
        if not candidates:
            raise ShowError(f"{namespace}/{schedule} has no delivered report yet")
    else:
        candidates = window_candidates(spec, status, _parse_start(window_start))
    ext = ext or ("md" if "markdown" in spec.formats else EXTENSIONS[spec.formats[0]])
    problems: list[str] = []
    for candidate in candidates:
        try:
            return await _read(kube, namespace, schedule, spec, candidate, ext)
        except ReadError as error:
            problems.append(str(error))
    raise ShowError("; ".join(problems) or f"{namespace}/{schedule} has no outputs")


def _parse_start(text: str) -> datetime:
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise ShowError(f"--window: {text!r} is not an RFC 3339 time") from None


def _window(entry: LastReport | HistoryEntry) -> Window | None:
    return entry.window.to_window() if entry.window is not None else None


def _delivered(entry: LastReport | HistoryEntry) -> list[Candidate]:
    window = _window(entry)
    if window is None:
        return []
    return [
        Candidate(output.type, window, output.location or "")
        for output in entry.outputs or []
        if output.result == "Delivered" and output.type in OUTPUTS
    ]


def latest_candidates(status: ReportScheduleStatus) -> list[Candidate]:
    """The last report's delivered outputs; if it failed, the newest successful run's."""
    found = _delivered(status.last_report) if status.last_report is not None else []
    if found:
        return found
    for entry in status.history or []:
        if entry.result in ("Succeeded", "Degraded"):
            found = _delivered(entry)
            if found:
                return found
    return []


def window_candidates(
    spec: ReportScheduleSpec, status: ReportScheduleStatus, start: datetime
) -> list[Candidate]:
    """Every output of the spec, for the window starting at `start`."""
    window = _full_window(spec, status, start)
    return [
        Candidate(output.kind, window, output=index) for index, output in enumerate(spec.outputs)
    ]


def _full_window(spec: ReportScheduleSpec, status: ReportScheduleStatus, start: datetime) -> Window:
    """The window starting at `start`: as recorded in status, else as the spec defines it."""
    recorded: list[LastReport | HistoryEntry] = [*(status.history or [])]
    if status.last_report is not None:
        recorded.insert(0, status.last_report)
    for entry in recorded:
        window = _window(entry)
        if window is not None and window.start == start:
            return window
    length = spec.window.length
    if length is not None:
        return Window(start, start + length)
    assert spec.window.calendar is not None
    window = calendar_window(
        start + _INTO_NEXT_PERIOD[spec.window.calendar], spec.window.calendar, spec.zone
    )
    if window.start != start:
        raise ShowError(
            f"--window: no {spec.window.calendar} window of this schedule starts at {start}"
        )
    return window


async def _read(
    kube: KubeApi,
    namespace: str,
    schedule: str,
    spec: ReportScheduleSpec,
    candidate: Candidate,
    ext: str,
) -> Report:
    """Read through the candidate's kind: the one output it names, else every output of the kind
    (the kind tells which of them wrote the recorded location)."""
    outputs: tuple[SpecModel, ...]
    if candidate.output is not None:
        outputs = (spec.outputs[candidate.output].config,)
    else:
        outputs = tuple(o.config for o in spec.outputs if o.kind == candidate.kind)
    request = ReadRequest(
        namespace, schedule, candidate.window, ext, outputs, location=candidate.location
    )
    return await OUTPUTS[candidate.kind].read(kube, request)
