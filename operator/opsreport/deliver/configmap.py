"""Reports as ConfigMaps in the schedule's namespace, one per window, owned by the schedule.

A ConfigMap holds at most 1 MiB. Past a safe threshold the documents are stored gzip-compressed in
`binaryData`; if even that does not fit, the output fails with ReportTooLarge and the user is told
to use S3. Splitting a report over several objects was rejected: readers (dashboards, kubectl)
would need our tool to reassemble it.

Optionally `keep: N` deletes the schedule's oldest reports beyond N (by window, only objects with
our labels), and `latest: true` keeps a copy of the newest report under `<schedule>-latest`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from opsreport import api
from opsreport.deliver.base import (
    DeliveryError,
    OutputKind,
    OutputResult,
    ReadError,
    ReadRequest,
    ReportIdentity,
    SecretUse,
    SinkContext,
    StoredReport,
)
from opsreport.kube import Json, KubeApi, KubeError
from opsreport.model.outputs import ConfigMapOutput
from opsreport.model.report import ReportData
from opsreport.render.documents import Document
from opsreport.scheduling import format_rfc3339, parse_rfc3339

logger = logging.getLogger(__name__)

MAX_CONFIGMAP_BYTES = 1024 * 1024
# Room for metadata, annotations and the base64 growth of binaryData.
SAFE_DATA_BYTES = 900 * 1024
_MAX_NAME = 253
_MAX_LABEL = 63
_WRITE_ATTEMPTS = 3
# On `<schedule>-latest` only: keeps it out of retention and out of per-window listings.
LABEL_LATEST = f"{api.GROUP}/latest"
WINDOW_LABEL_FORMAT = "%Y%m%dT%H%M%SZ"


def report_name(schedule: str, window_start: datetime) -> str:
    """`<schedule>-<yyyymmdd-hhmm>`, a DNS-1123 subdomain; long names get a hash suffix.

    Seconds are added only when the window does not start on a minute (run-now windows), so two
    run-now reports within one minute stay two reports.
    """
    stamp = window_start.strftime("%Y%m%d-%H%M" if window_start.second == 0 else "%Y%m%d-%H%M%S")
    name = f"{schedule}-{stamp}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    keep = _MAX_NAME - len(stamp) - len(digest) - 2
    return f"{schedule[:keep].rstrip('-.')}-{digest}-{stamp}"


def latest_name(schedule: str) -> str:
    """`<schedule>-latest`, shortened with a hash like report names when over 253 characters."""
    name = f"{schedule}-latest"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    keep = _MAX_NAME - len("-latest") - len(digest) - 1
    return f"{schedule[:keep].rstrip('-.')}-{digest}-latest"


def schedule_label(schedule: str) -> str:
    """The schedule's name as a label value (at most 63 characters; longer names get a hash)."""
    if len(schedule) <= _MAX_LABEL:
        return schedule
    digest = hashlib.sha256(schedule.encode()).hexdigest()[:10]
    return f"{schedule[: _MAX_LABEL - len(digest) - 1].rstrip('-.')}-{digest}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build_configmap(
    identity: ReportIdentity, documents: list[Document], generated_at: datetime
) -> Json:
    schedule = identity.schedule
    window = identity.window
    data = {doc.filename: doc.content for doc in documents}
    body: Json = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": report_name(schedule.name, window.start),
            "namespace": schedule.namespace,
            # Never the schedule's app.kubernetes.io/instance: Argo CD would prune the report.
            "labels": {
                api.LABEL_MANAGED_BY: api.MANAGED_BY,
                api.LABEL_SCHEDULE: schedule_label(schedule.name),
                api.LABEL_WINDOW_START: window.start.strftime(WINDOW_LABEL_FORMAT),
            },
            "annotations": {
                api.ANNOTATION_WINDOW: "/".join(map(format_rfc3339, (window.start, window.end))),
                api.ANNOTATION_GENERATED_AT: format_rfc3339(generated_at),
                api.ANNOTATION_FORMATS: ",".join(doc.format for doc in documents),
                api.ANNOTATION_SHA256: ",".join(
                    f"{doc.filename}={_sha256(doc.content)}" for doc in documents
                ),
            },
        },
    }
    if schedule.uid:
        body["metadata"]["ownerReferences"] = [
            {
                "apiVersion": api.API_VERSION,
                "kind": api.KIND,
                "name": schedule.name,
                "uid": schedule.uid,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    if sum(len(text.encode()) for text in data.values()) <= SAFE_DATA_BYTES:
        body["data"] = data
        return body
    binary = {
        f"{name}.gz": base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
        for name, text in data.items()
    }
    if sum(len(value) for value in binary.values()) > SAFE_DATA_BYTES:
        raise DeliveryError(
            "ReportTooLarge",
            f"the report is {sum(len(t.encode()) for t in data.values()):,} bytes and does not fit "
            "a ConfigMap even compressed; use an S3 output",
        )
    body["binaryData"] = binary
    return body


def build_latest(report_body: Json, schedule: str) -> Json:
    """The same keys and annotations (which say the window) under the stable name."""
    body = copy.deepcopy(report_body)
    meta = body["metadata"]
    meta["name"] = latest_name(schedule)
    meta["labels"].pop(api.LABEL_WINDOW_START, None)
    meta["labels"][LABEL_LATEST] = "true"
    return body


class ConfigMapSink:
    type = "configMap"

    def __init__(self, api_client: KubeApi, output: ConfigMapOutput | None = None) -> None:
        self._api = api_client
        self._output = output or ConfigMapOutput()

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult:
        del report  # the documents carry everything a ConfigMap stores
        try:
            body = build_configmap(identity, documents, generated_at)
        except DeliveryError as error:
            return OutputResult(self.type, "", ok=False, message=str(error), reason=error.reason)
        namespace = identity.schedule.namespace
        name = body["metadata"]["name"]
        location = f"configmap/{namespace}/{name}"
        size = sum(len(v) for v in (body.get("data") or body.get("binaryData") or {}).values())
        label = schedule_label(identity.schedule.name)
        try:
            written = await self._write(
                namespace, name, body, replace_if=lambda current: _is_ours(current, label)
            )
        except KubeError as error:
            return OutputResult(
                self.type, location, ok=False, message=str(error), reason="DeliveryFailed"
            )
        if not written:
            message = f"{location} exists and is not a report of this schedule; left alone"
            return OutputResult(
                self.type, location, ok=False, message=message, reason="DeliveryFailed"
            )
        # The report is stored: what follows is upkeep, and its failure must not make the run
        # retry (a rerun would only store the same report again). It is said in the status.
        notes: list[str] = []
        if self._output.latest:
            try:
                note = await self._update_latest(
                    namespace, build_latest(body, identity.schedule.name)
                )
            except KubeError as error:
                note = f"{latest_name(identity.schedule.name)} not updated: {error}"
            if note:
                notes.append(note)
        if self._output.keep is not None:
            try:
                deleted = await self._prune(namespace, identity.schedule.name, name)
            except KubeError as error:
                notes.append(f"retention failed: {error}")
            else:
                if deleted:
                    notes.append(f"retention deleted {', '.join(deleted)}")
        for note in notes:
            logger.warning("configMap output of %s/%s: %s", namespace, name, note)
        return OutputResult(self.type, location, ok=True, bytes=size, message="; ".join(notes))

    async def _update_latest(self, namespace: str, body: Json) -> str:
        """Replace `<schedule>-latest` unless it holds a newer window or is not ours (a note)."""
        ours = _window_start(body)
        foreign = False

        def older(current: Json) -> bool:
            nonlocal foreign
            foreign = not _is_ours(current, body["metadata"]["labels"][api.LABEL_SCHEDULE])
            # Only ever move forward: a late rerun of an old window leaves the newer one.
            theirs = _window_start(current)
            return not foreign and (theirs is None or ours is None or theirs <= ours)

        name = body["metadata"]["name"]
        await self._write(namespace, name, body, replace_if=older)
        return f"{name} exists and is not this schedule's; left alone" if foreign else ""

    async def _prune(self, namespace: str, schedule: str, keep_name: str) -> list[str]:
        """Delete this schedule's reports beyond `keep`, oldest windows first."""
        keep = self._output.keep
        assert keep is not None
        label = schedule_label(schedule)
        selector = (
            f"{api.LABEL_MANAGED_BY}={api.MANAGED_BY},{api.LABEL_SCHEDULE}={label},"
            f"{api.LABEL_WINDOW_START},!{LABEL_LATEST}"
        )
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        reports: list[Json] = []
        async for page in self._api.list_pages(path, label_selector=selector):
            for item in page:
                labels = (item.get("metadata") or {}).get("labels") or {}
                # The selector says the same; checked again because deleting is not undoable.
                if (
                    labels.get(api.LABEL_MANAGED_BY) == api.MANAGED_BY
                    and labels.get(api.LABEL_SCHEDULE) == label
                    and labels.get(api.LABEL_WINDOW_START)
                    and LABEL_LATEST not in labels
                    and item["metadata"].get("namespace", namespace) == namespace
                ):
                    reports.append(item)
        reports.sort(
            key=lambda item: (
                item["metadata"]["labels"][api.LABEL_WINDOW_START],
                item["metadata"]["name"],
            ),
            reverse=True,
        )
        deleted = []
        for item in reports[keep:]:
            meta = item["metadata"]
            if meta["name"] == keep_name:
                continue  # never the report just written, even when it is an old window
            options: Json = {"apiVersion": "v1", "kind": "DeleteOptions"}
            if meta.get("uid"):
                # Only the object we listed, not one created under its name since.
                options["preconditions"] = {"uid": meta["uid"]}
            try:
                await self._api.request("DELETE", f"{path}/{meta['name']}", body=options)
            except KubeError as error:
                if error.status not in (404, 409):  # gone, or replaced: either way not ours now
                    raise
                continue
            deleted.append(meta["name"])
        return deleted

    async def _write(
        self,
        namespace: str,
        name: str,
        body: Json,
        *,
        replace_if: Callable[[Json], bool] | None = None,
    ) -> bool:
        """Create, or replace whole (a rerun of the same window). False if `replace_if` says no."""
        collection = f"/api/v1/namespaces/{namespace}/configmaps"
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                await self._api.request("POST", collection, body=body)
                return True
            except KubeError as error:
                if error.status != 409:
                    raise
            current = await self._api.get(f"{collection}/{name}")
            if current is None:
                continue  # deleted in between: create it again
            if replace_if is not None and not replace_if(current):
                return False
            replacement = copy.deepcopy(body)
            replacement["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            try:
                await self._api.request("PUT", f"{collection}/{name}", body=replacement)
                return True
            except KubeError as error:
                # Someone wrote it since we read it: read it again, unless out of attempts.
                if error.status != 409 or attempt == _WRITE_ATTEMPTS - 1:
                    raise
        raise KubeError(409, f"configmap {namespace}/{name} kept changing while being written")


def _is_ours(current: Json, label: str) -> bool:
    """Whether an existing ConfigMap is one this schedule wrote: anything else is never replaced."""
    labels = (current.get("metadata") or {}).get("labels") or {}
    return bool(
        labels.get(api.LABEL_MANAGED_BY) == api.MANAGED_BY
        and labels.get(api.LABEL_SCHEDULE) == label
    )


def _window_start(body: Json) -> datetime | None:
    window = ((body.get("metadata") or {}).get("annotations") or {}).get(api.ANNOTATION_WINDOW)
    try:
        return parse_rfc3339(str(window).split("/")[0]) if window else None
    except ValueError:
        return None


async def read_report(kube: KubeApi, request: ReadRequest[ConfigMapOutput]) -> StoredReport:
    """A report's document, decompressed if it was stored in `binaryData`."""
    namespace, ext = request.namespace, request.ext
    name = report_name(request.schedule, request.window.start)
    if request.location:
        name = request.location.rsplit("/", 1)[-1]
    location = f"configmap/{namespace}/{name}"
    try:
        body = await kube.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    except KubeError as error:
        raise ReadError(f"{location}: {error}") from None
    if body is None:
        raise ReadError(f"{location} not found")
    filename = f"report.{ext}"
    data = body.get("data") or {}
    binary = body.get("binaryData") or {}
    if filename in data:
        return StoredReport(ext, str(data[filename]), location)
    if f"{filename}.gz" in binary:
        try:
            text = gzip.decompress(base64.b64decode(binary[f"{filename}.gz"])).decode("utf-8")
        except (binascii.Error, OSError, EOFError, UnicodeDecodeError) as error:
            raise ReadError(f"{location}: {filename}.gz is damaged: {error}") from None
        return StoredReport(ext, text, location)
    stored = sorted(k.removesuffix(".gz") for k in [*data, *binary])
    raise ReadError(f"{location} has no {filename}; it has {', '.join(stored) or 'nothing'}")


def _no_secrets(output: ConfigMapOutput) -> tuple[SecretUse, ...]:
    del output  # written with the operator's own service account
    return ()


def _build(output: ConfigMapOutput, context: SinkContext) -> ConfigMapSink:
    return ConfigMapSink(context.kube, output)


OUTPUT = OutputKind(
    kind=ConfigMapSink.type,
    spec=ConfigMapOutput,
    build=_build,
    secrets=_no_secrets,
    read=read_report,
)
