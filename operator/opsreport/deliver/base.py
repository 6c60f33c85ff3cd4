"""What every sink shares: the identity of a report, the result of storing it, and the shape of
an output kind (`OutputKind`), which `deliver.registry` lists."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from opsreport import api
from opsreport.config import OperatorConfig
from opsreport.kube import KubeApi
from opsreport.model.base import SpecModel
from opsreport.model.report import ReportData
from opsreport.render.documents import Document
from opsreport.scheduling import Clock, Window

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleIdentity:
    namespace: str
    name: str
    uid: str | None = None


@dataclass(frozen=True)
class ReportIdentity:
    """A report is identified by its schedule and window: storing it again overwrites it."""

    schedule: ScheduleIdentity
    window: Window


@dataclass(frozen=True)
class OutputResult:
    type: str
    location: str
    ok: bool
    message: str = ""
    bytes: int = 0
    reason: str = ""
    # A link a person can open (an S3 presigned URL), and when it stops working.
    url: str = ""
    url_expires_at: datetime | None = None


class Sink(Protocol):
    type: str

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult: ...


class GuardedSink:
    """A sink whose unexpected exceptions become a failed result, so one output's bug can never
    stop the others (the pipeline gathers every sink at once) nor lose the run's status."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self.type = sink.type

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult:
        try:
            return await self._sink.deliver(identity, report, documents, generated_at)
        except Exception as error:
            # Status and Events get the type only: an arbitrary exception's text is not known to be
            # free of secrets. The log keeps the traceback, to find the bug.
            logger.error("%s output failed unexpectedly", self.type, exc_info=True)
            return OutputResult(
                self.type,
                "",
                ok=False,
                message=f"unexpected error: {type(error).__name__}",
                reason=api.REASON_DELIVERY_FAILED,
            )


class DeliveryError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# An output kind: everything the rest of the operator needs to know about one


@dataclass(frozen=True)
class SinkContext:
    """What building a sink may use besides its spec: the operator's clients and settings."""

    kube: KubeApi
    clock: Clock
    settings: OperatorConfig


@dataclass(frozen=True)
class SecretUse:
    """A Secret an output reads, from the schedule's namespace, and the keys it needs there."""

    field: str  # below the output, e.g. `credentialsSecretRef`
    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class StoredReport:
    ext: str
    content: str
    location: str


class ReadError(Exception):
    """A stored report cannot be read back; a one-line message for the user."""


C = TypeVar("C", bound=SpecModel)


@dataclass(frozen=True)
class ReadRequest(Generic[C]):
    """Where to look for one report of a schedule."""

    namespace: str
    schedule: str
    window: Window
    ext: str
    # The spec's outputs of this kind: the one to read when `location` is empty, else those that
    # may have written `location` (the spec may have changed since).
    outputs: tuple[C, ...]
    location: str = ""  # as recorded in status; empty when worked out from the spec


@dataclass(frozen=True)
class OutputKind(Generic[C]):
    """One kind of `spec.outputs[]`, in the module that implements it."""

    kind: str  # the key in spec.outputs[] and the `type` in status
    spec: type[C]  # its model in opsreport.model.outputs
    build: Callable[[C, SinkContext], Sink]
    # Secrets it reads: checked before runs (checks.py), their values kept out of what it writes.
    secrets: Callable[[C], tuple[SecretUse, ...]]
    # `opsreport show`: the report at a location in status, or worked out from the spec.
    read: Callable[[KubeApi, ReadRequest[C]], Awaitable[StoredReport]]
