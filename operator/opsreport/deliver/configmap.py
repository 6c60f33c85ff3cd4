"""Reports as ConfigMaps in the schedule's namespace, one per window, owned by the schedule.

A ConfigMap holds at most 1 MiB. Past a safe threshold the documents are stored gzip-compressed in
`binaryData`; if even that does not fit, the output fails with ReportTooLarge and the user is told
to use S3. Splitting a report over several objects was rejected: readers (dashboards, kubectl)
would need our tool to reassemble it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from datetime import datetime

from opsreport import api
from opsreport.deliver.base import DeliveryError, OutputResult, ReportIdentity
from opsreport.kube import Json, KubeApi, KubeError
from opsreport.model.report import ReportData
from opsreport.render.report import Document
from opsreport.scheduling import format_rfc3339

MAX_CONFIGMAP_BYTES = 1024 * 1024
# Room for metadata, annotations and the base64 growth of binaryData.
SAFE_DATA_BYTES = 900 * 1024
_MAX_NAME = 253


def report_name(schedule: str, window_start: datetime) -> str:
    """`<schedule>-<yyyymmdd-hhmm>`, a DNS-1123 subdomain; long names get a hash suffix."""
    stamp = window_start.strftime("%Y%m%d-%H%M")
    name = f"{schedule}-{stamp}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    keep = _MAX_NAME - len(stamp) - len(digest) - 2
    return f"{schedule[:keep].rstrip('-.')}-{digest}-{stamp}"


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
                api.LABEL_SCHEDULE: schedule.name,
                api.LABEL_WINDOW_START: window.start.strftime("%Y%m%dT%H%M%SZ"),
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


class ConfigMapSink:
    type = "configMap"

    def __init__(self, api_client: KubeApi) -> None:
        self._api = api_client

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
        try:
            await self._write(namespace, name, body)
        except KubeError as error:
            return OutputResult(
                self.type, location, ok=False, message=str(error), reason="DeliveryFailed"
            )
        return OutputResult(self.type, location, ok=True, bytes=size)

    async def _write(self, namespace: str, name: str, body: Json) -> None:
        collection = f"/api/v1/namespaces/{namespace}/configmaps"
        try:
            await self._api.request("POST", collection, body=body)
            return
        except KubeError as error:
            if error.status != 409:
                raise
        # The same window was stored before (a rerun after a crash): replace it whole.
        current = await self._api.get(f"{collection}/{name}")
        if current is not None:
            body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        await self._api.request("PUT", f"{collection}/{name}", body=body)
