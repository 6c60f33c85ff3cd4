"""Reports as objects in an S3-compatible store (AWS S3, MinIO, SeaweedFS, Ceph RGW).

One object per document, at a key rendered from `keyTemplate`; a rerun of a window writes the
same keys again, so it only ever overwrites itself. An object at that key that another window or
another writer put there is never overwritten: the output fails instead, so a template too coarse
for the schedule (a day folder for an hourly report) loses nothing. Retention deletes only keys
that match this schedule's own template, under its own prefix.

boto3 is blocking; each delivery runs it in one worker thread (`asyncio.to_thread`). It is chosen
over aiobotocore because aiobotocore pins botocore to a narrow range and shares aiohttp with
kopf, a second pin to keep in step. A report makes a handful of calls, so a thread costs nothing
that matters. boto3 gives the default credential chain (environment, web identity for IRSA,
container and instance roles) when no Secret is named.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import boto3.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from opsreport import __version__, api
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
from opsreport.kube import KubeApi
from opsreport.model.outputs import MAX_PRESIGN_SECONDS, S3Output
from opsreport.model.report import ReportData
from opsreport.model.s3keys import KeyTemplate, parse_location, s3_location
from opsreport.render.documents import EXTENSIONS, Document
from opsreport.scheduling import Clock, format_rfc3339
from opsreport.secrets import S3Credentials, SecretError, s3_credentials

logger = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024
# Metadata written with every object (sent as x-amz-meta-*); `show` and the overwrite guard read it.
META_SCHEDULE = "opsreport-schedule"
META_WINDOW = "opsreport-window"
META_SHA256 = "opsreport-sha256"
META_GENERATED_AT = "opsreport-generated-at"

# --------------------------------------------------------------------------------------------
# The store


class StoreError(Exception):
    """An S3 call failed; the message holds the S3 error code and HTTP status, never credentials."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


# What to do about the failures a user can fix.
_HINTS = {
    403: "check the credentials, and that they may use this bucket",
    "NoSuchBucket": "create the bucket; opsreport never creates one",
}


def _store_error(what: str, response: dict[str, Any]) -> StoreError:
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code") or "")
    text = str(response.get("Error", {}).get("Message") or "")
    if not code or code.isdigit():
        # HEAD answers carry no body: name the status instead of repeating its number.
        try:
            code = HTTPStatus(status).phrase.replace(" ", "")
        except ValueError:
            code = "Error"
    detail = f"{code} ({status})" + (f": {text}" if text and text != code else "")
    hint = _HINTS.get(code) or _HINTS.get(status)
    return StoreError(f"{what}: {detail}" + (f"; {hint}" if hint else ""), status=status, code=code)


@dataclass(frozen=True)
class StoredObject:
    key: str
    last_modified: datetime
    size: int


class ObjectStore:
    """The few S3 calls opsreport makes, typed. Blocking: call it from a worker thread."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def _call(self, what: str, method: str, **params: Any) -> Any:
        try:
            return getattr(self._client, method)(Bucket=self.bucket, **params)
        except ClientError as error:
            raise _store_error(what, error.response) from None
        except NoCredentialsError:
            raise StoreError(
                f"{what}: no AWS credentials; name a credentialsSecretRef or give the operator "
                "a role (IRSA) or AWS_* variables"
            ) from None
        except BotoCoreError as error:
            raise StoreError(f"{what}: {type(error).__name__}: {error}") from None

    def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: dict[str, str],
        encryption: dict[str, str],
    ) -> None:
        self._call(
            f"writing {s3_location(self.bucket, key)}",
            "put_object",
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=metadata,
            **encryption,
        )

    def metadata(self, key: str) -> dict[str, str] | None:
        """The object's user metadata, or None when there is no object at `key`."""
        try:
            head = self._call(f"reading {s3_location(self.bucket, key)}", "head_object", Key=key)
        except StoreError as error:
            if error.status == 404:
                return None
            raise
        return {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}

    def get(self, key: str) -> bytes:
        answer = self._call(f"reading {s3_location(self.bucket, key)}", "get_object", Key=key)
        body: bytes = answer["Body"].read()
        return body

    def list(self, prefix: str) -> Iterator[StoredObject]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": prefix}
            if token:
                params["ContinuationToken"] = token
            where = f"listing {s3_location(self.bucket, prefix)}"
            page = self._call(where, "list_objects_v2", **params)
            for item in page.get("Contents") or []:
                yield StoredObject(str(item["Key"]), item["LastModified"], int(item.get("Size", 0)))
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                return

    def delete(self, key: str) -> None:
        self._call(f"deleting {s3_location(self.bucket, key)}", "delete_object", Key=key)

    def presign(self, key: str, seconds: int) -> str:
        """A GET link for `key`; signing is local, nothing is sent."""
        try:
            url: str = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=min(seconds, MAX_PRESIGN_SECONDS),
            )
        except BotoCoreError as error:
            raise StoreError(f"presigning {s3_location(self.bucket, key)}: {error}") from None
        return url


def open_store(output: S3Output, credentials: S3Credentials | None) -> ObjectStore:
    """A client for `output`: static credentials when given, else the default AWS chain."""
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id if credentials else None,
        aws_secret_access_key=credentials.secret_access_key if credentials else None,
        aws_session_token=credentials.session_token if credentials else None,
        region_name=output.region,
    )
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if output.force_path_style else "auto"},
        # A couple of retries with backoff for throttling, 5xx and dropped connections, within
        # one attempt; the run-level retry (status.pendingRun) covers longer outages.
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
        # Checksums only where S3 requires them: older MinIO, Ceph and SeaweedFS reject
        # botocore's default trailing CRC32 on every PUT.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra=f"opsreport/{__version__}",
    )
    try:
        client = session.client("s3", endpoint_url=output.endpoint, config=config)
    except (BotoCoreError, ValueError) as error:
        raise StoreError(f"cannot make an S3 client: {error}") from None
    return ObjectStore(client, output.bucket)


async def resolve_credentials(
    kube: KubeApi | None, namespace: str, output: S3Output
) -> S3Credentials | None:
    """From the Secret in the schedule's namespace, or None for the default AWS chain."""
    ref = output.credentials_secret_ref
    if ref is None:
        return None
    if kube is None:
        raise SecretError(f"cannot read Secret {namespace}/{ref.name} without a Kubernetes API")
    return await s3_credentials(kube, namespace, ref)


# --------------------------------------------------------------------------------------------
# The sink


def _encryption(output: S3Output) -> dict[str, str]:
    sse = output.server_side_encryption
    if sse is None:
        return {}
    params: dict[str, str] = {"ServerSideEncryption": sse.type}
    if sse.kms_key_id:
        params["SSEKMSKeyId"] = sse.kms_key_id
    return params


StoreFactory = Callable[[S3Output, S3Credentials | None], ObjectStore]


@dataclass
class _Delivered:
    bytes: int
    url: str = ""
    url_expires_at: datetime | None = None
    notes: tuple[str, ...] = ()


class S3Sink:
    type = "s3"

    def __init__(
        self,
        output: S3Output,
        kube: KubeApi | None,
        clock: Clock,
        *,
        store_factory: StoreFactory = open_store,
    ) -> None:
        self._output = output
        self._kube = kube
        self._clock = clock
        self._open_store = store_factory

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult:
        del report  # the documents carry everything stored
        output = self._output
        schedule = identity.schedule
        template = KeyTemplate.parse(output.key_template)  # judged when the spec was parsed
        keys = [
            template.key(
                output.prefix,
                schedule.namespace,
                schedule.name,
                identity.window,
                EXTENSIONS[doc.format],
            )
            for doc in documents
        ]
        if not documents:
            return OutputResult(
                self.type, "", ok=False, message="no documents", reason=api.REASON_DELIVERY_FAILED
            )
        location = s3_location(output.bucket, keys[0])
        credentials: S3Credentials | None = None
        try:
            credentials = await resolve_credentials(self._kube, schedule.namespace, output)
            done = await asyncio.to_thread(
                self._deliver,
                identity,
                list(zip(documents, keys, strict=True)),
                credentials,
                generated_at,
            )
        except (SecretError, StoreError, DeliveryError) as error:
            message = credentials.redact(str(error)) if credentials else str(error)
            logger.warning("s3 output of %s failed: %s", schedule.name, message)
            return OutputResult(
                self.type, location, ok=False, message=message, reason=api.REASON_DELIVERY_FAILED
            )
        message = "; ".join(done.notes)
        if credentials:
            message = credentials.redact(message)
        return OutputResult(
            self.type,
            location,
            ok=True,
            message=message,
            bytes=done.bytes,
            url=done.url,
            url_expires_at=done.url_expires_at,
        )

    def _deliver(
        self,
        identity: ReportIdentity,
        items: list[tuple[Document, str]],
        credentials: S3Credentials | None,
        generated_at: datetime,
    ) -> _Delivered:
        """Blocking: runs in a worker thread."""
        output = self._output
        schedule = identity.schedule
        store = self._open_store(output, credentials)
        owner = f"{schedule.namespace}/{schedule.name}"
        window = "/".join(map(format_rfc3339, (identity.window.start, identity.window.end)))
        size = 0
        for document, key in items:
            if len(key.encode()) > MAX_KEY_BYTES:
                raise DeliveryError(
                    api.REASON_DELIVERY_FAILED, f"the key {key[:80]}… is over {MAX_KEY_BYTES} bytes"
                )
            current = store.metadata(key)
            if current is not None and (
                current.get(META_SCHEDULE) != owner or current.get(META_WINDOW) != window
            ):
                # Never overwrite what another window or writer stored there.
                theirs = current.get(META_WINDOW) or "an object opsreport did not write"
                raise DeliveryError(
                    api.REASON_DELIVERY_FAILED,
                    f"{s3_location(output.bucket, key)} already holds {theirs}; make keyTemplate "
                    "tell windows apart (e.g. add %H%M to window.start)",
                )
            body = document.content.encode()
            store.put(
                key,
                body,
                content_type=document.content_type,
                metadata={
                    META_SCHEDULE: owner,
                    META_WINDOW: window,
                    META_SHA256: hashlib.sha256(body).hexdigest(),
                    META_GENERATED_AT: format_rfc3339(generated_at),
                },
                encryption=_encryption(output),
            )
            size += len(body)
        done = _Delivered(bytes=size)
        if output.keep is not None or output.max_age_days is not None:
            try:
                deleted = self._prune(store, identity, items[0][1])
            except StoreError as error:
                # The report is stored; a retention failure must not make the run retry.
                done.notes += (f"retention failed: {error}",)
            else:
                if deleted:
                    done.notes += (f"retention deleted {deleted} object(s)",)
        if output.presign_seconds:
            seconds = min(output.presign_seconds, MAX_PRESIGN_SECONDS)
            try:
                done.url = store.presign(items[0][1], seconds)
            except StoreError as error:
                done.notes += (f"no link: {error}",)
            else:
                done.url_expires_at = self._clock() + timedelta(seconds=seconds)
        return done

    def _prune(self, store: ObjectStore, identity: ReportIdentity, current_key: str) -> int:
        """Delete this schedule's reports beyond `keep` or older than `maxAgeDays`."""
        output = self._output
        schedule = identity.schedule
        template = KeyTemplate.parse(output.key_template)
        pattern = template.matcher(
            output.prefix, schedule.namespace, schedule.name, EXTENSIONS.values()
        )
        current = pattern.match(current_key)
        assert current is not None  # a rendered key always matches its own template
        reports: dict[tuple[str, ...], list[StoredObject]] = {}
        order: dict[tuple[str, ...], tuple[tuple[int, ...], datetime]] = {}
        listing = template.listing_prefix(output.prefix, schedule.namespace, schedule.name)
        for stored in store.list(listing):
            match = pattern.match(stored.key)
            if match is None:
                continue  # not one of this schedule's reports: never touched
            window = template.window_of(match)
            reports.setdefault(window, []).append(stored)
            newest = max(stored.last_modified, order.get(window, ((), stored.last_modified))[1])
            order[window] = (template.sort_key(match), newest)
        newest_first = sorted(reports, key=lambda w: order[w], reverse=True)
        doomed: set[tuple[str, ...]] = set()
        if output.keep is not None:
            doomed.update(newest_first[output.keep :])
        if output.max_age_days is not None:
            cutoff = self._clock() - timedelta(days=output.max_age_days)
            doomed.update(w for w in newest_first if order[w][1] < cutoff)
        doomed.discard(template.window_of(current))  # never the report just written
        deleted = 0
        for window in sorted(doomed):
            for stored in reports[window]:
                store.delete(stored.key)
                deleted += 1
        return deleted


# --------------------------------------------------------------------------------------------
# Reading back, and the output kind


def _output_for(request: ReadRequest[S3Output]) -> S3Output:
    if not request.location:
        return request.outputs[0]
    # From status: the output that wrote to that bucket (the spec may have changed since).
    try:
        bucket = parse_location(request.location)[0]
    except ValueError as error:  # a location in status that is not s3://bucket/key
        raise ReadError(str(error)) from None
    for found in request.outputs:
        if found.bucket == bucket:
            return found
    raise ReadError(f"the schedule has no s3 output for bucket {bucket} any more")


async def read_report(kube: KubeApi, request: ReadRequest[S3Output]) -> StoredReport:
    """The report's document at the key its output's template gives the window, read with the
    credentials the operator would use."""
    output = _output_for(request)
    template = KeyTemplate.parse(output.key_template)
    key = template.key(
        output.prefix, request.namespace, request.schedule, request.window, request.ext
    )
    location = s3_location(output.bucket, key)
    credentials = None
    try:
        credentials = await resolve_credentials(kube, request.namespace, output)
        content = await asyncio.to_thread(lambda: open_store(output, credentials).get(key))
    except (SecretError, StoreError) as error:
        message = credentials.redact(str(error)) if credentials else str(error)
        raise ReadError(message) from None
    try:
        return StoredReport(request.ext, content.decode("utf-8"), location)
    except UnicodeDecodeError:
        raise ReadError(f"{location} is not UTF-8 text") from None


def _secrets(output: S3Output) -> tuple[SecretUse, ...]:
    ref = output.credentials_secret_ref
    if ref is None:
        return ()  # the default AWS chain (IRSA, instance role)
    # The session token is optional, so it is not required of the Secret.
    return (
        SecretUse(
            "credentialsSecretRef", ref.name, (ref.access_key_id_key, ref.secret_access_key_key)
        ),
    )


def _build(output: S3Output, context: SinkContext) -> S3Sink:
    return S3Sink(output, context.kube, context.clock)


OUTPUT = OutputKind(
    kind=S3Sink.type, spec=S3Output, build=_build, secrets=_secrets, read=read_report
)
