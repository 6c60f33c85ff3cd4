"""What every sink shares: the identity of a report and the result of storing it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from opsreport import api
from opsreport.model.report import ReportData
from opsreport.render.report import Document
from opsreport.scheduling import Window

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
