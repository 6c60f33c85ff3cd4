"""What every sink shares: the identity of a report and the result of storing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from opsreport.model.report import ReportData
from opsreport.render.report import Document
from opsreport.scheduling import Window


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


class Sink(Protocol):
    type: str

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult: ...


class DeliveryError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
