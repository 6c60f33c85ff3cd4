"""A kind registered in a test, and nowhere else, is parsed, built, checked and read back: the
spec, service, checks and show learn of output kinds only through the registries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import Field

from opsreport import api
from opsreport.checks import Reference, references
from opsreport.config import OperatorConfig
from opsreport.deliver.base import (
    OutputKind,
    OutputResult,
    ReadError,
    ReadRequest,
    ReportIdentity,
    ScheduleIdentity,
    SecretUse,
    SinkContext,
    StoredReport,
)
from opsreport.deliver.registry import OUTPUTS
from opsreport.kube import KubeApi
from opsreport.model.base import SpecModel
from opsreport.model.outputs import OUTPUT_SPECS, OutputSpec
from opsreport.model.report import ReportData
from opsreport.model.spec import InvalidSpec, SecretKeySelector, parse_spec
from opsreport.model.status import ReportScheduleStatus
from opsreport.render.documents import EXTENSIONS, Document
from opsreport.scheduling import format_rfc3339
from opsreport.service import Operator
from opsreport.show import Candidate, fetch_report, latest_candidates, window_candidates
from tests.integration.conftest_s3 import DAY_ONE, GENERATED, NAMESPACE, create_schedule, unique
from tests.support.kube_emulator import KubeApiServer

# ------------------------------------------------------------------ the test kind: a shelf


class ShelfOutput(SpecModel):
    shelf: str = Field(min_length=1, max_length=63)
    token_secret_ref: SecretKeySelector | None = None


SHELVES: dict[str, str] = {}  # the store: location.ext -> document


def shelf_location(output: ShelfOutput, schedule: str, start: datetime) -> str:
    return f"shelf/{output.shelf}/{schedule}/{format_rfc3339(start)}"


class ShelfSink:
    type = "shelf"

    def __init__(self, output: ShelfOutput) -> None:
        self._output = output

    async def deliver(
        self,
        identity: ReportIdentity,
        report: ReportData,
        documents: list[Document],
        generated_at: datetime,
    ) -> OutputResult:
        location = shelf_location(self._output, identity.schedule.name, identity.window.start)
        for document in documents:
            SHELVES[f"{location}.{EXTENSIONS[document.format]}"] = document.content
        return OutputResult(self.type, location, ok=True)


async def read_shelf(kube: KubeApi, request: ReadRequest[ShelfOutput]) -> StoredReport:
    location = request.location or shelf_location(
        request.outputs[0], request.schedule, request.window.start
    )
    try:
        return StoredReport(request.ext, SHELVES[f"{location}.{request.ext}"], location)
    except KeyError:
        raise ReadError(f"{location}.{request.ext} is not on the shelf") from None


def shelf_secrets(output: ShelfOutput) -> tuple[SecretUse, ...]:
    ref = output.token_secret_ref
    return () if ref is None else (SecretUse("tokenSecretRef", ref.name, (ref.key,)),)


def build_shelf(output: ShelfOutput, context: SinkContext) -> ShelfSink:
    del context  # a shelf needs no client
    return ShelfSink(output)


SHELF = OutputKind(
    kind="shelf",
    spec=ShelfOutput,
    build=build_shelf,
    secrets=shelf_secrets,
    read=read_shelf,
)


@pytest.fixture
def shelf_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(OUTPUT_SPECS, SHELF.kind, SHELF.spec)
    monkeypatch.setitem(OUTPUTS, SHELF.kind, SHELF)
    yield
    SHELVES.clear()


SHELF_ITEM = {"shelf": {"shelf": "top", "tokenSecretRef": {"name": "shelf-token"}}}


def spec_with(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "schedule": "@daily",
        "window": {"duration": "24h"},
        "formats": ["markdown", "html"],
        "outputs": list(outputs),
    }


# ------------------------------------------------------------------ the spec


def test_an_unregistered_kind_is_refused() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec_with(SHELF_ITEM))
    assert caught.value.field == "spec.outputs[0].shelf"


@pytest.mark.usefixtures("shelf_registered")
def test_the_spec_takes_a_registered_kind_and_judges_its_fields() -> None:
    parsed = parse_spec(spec_with({"configMap": {}}, SHELF_ITEM))
    assert parsed.outputs[1] == OutputSpec(
        "shelf", ShelfOutput(shelf="top", token_secret_ref=SecretKeySelector(name="shelf-token"))
    )
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec_with({"shelf": {"shelf": ""}}))
    assert caught.value.field == "spec.outputs[0].shelf.shelf"
    with pytest.raises(InvalidSpec, match="exactly one kind: configMap, s3 or shelf"):
        parse_spec(spec_with({"configMap": {}, **SHELF_ITEM}))


# ------------------------------------------------------------------ checks, service, show


@pytest.mark.usefixtures("shelf_registered")
def test_checks_find_the_secrets_a_registered_kind_names() -> None:
    parsed = parse_spec(spec_with({"configMap": {}}, SHELF_ITEM))
    assert references(parsed) == [
        Reference("spec.outputs[1].shelf.tokenSecretRef", "Secret", "shelf-token", ("token",))
    ]


@pytest.mark.usefixtures("shelf_registered")
async def test_a_registered_kind_is_built_delivered_and_shown(
    kube_server: KubeApiServer, kube_api: KubeApi
) -> None:
    name = unique("shelved")
    raw = spec_with(SHELF_ITEM)
    create_schedule(kube_server, name, raw)
    operator = Operator(OperatorConfig(), kube_api, lambda: GENERATED, asyncio.Semaphore(1))
    (sink,) = operator.sinks_for(parse_spec(raw))
    identity = ReportIdentity(ScheduleIdentity(NAMESPACE, name), DAY_ONE)
    documents = [Document("markdown", "# Shelved\n"), Document("html", "<h1>Shelved</h1>\n")]
    report: Any = None  # the shelf, like every sink, stores the documents
    result = await sink.deliver(identity, report, documents, GENERATED)
    assert (result.type, result.ok) == ("shelf", True)

    window = {"start": format_rfc3339(DAY_ONE.start), "end": format_rfc3339(DAY_ONE.end)}
    delivered = {"type": "shelf", "location": result.location, "result": "Delivered"}
    status = {"lastReport": {"window": window, "outputs": [delivered]}}
    typed = ReportScheduleStatus.read(status)
    assert latest_candidates(typed) == [Candidate("shelf", DAY_ONE, result.location)]
    assert window_candidates(parse_spec(raw), typed, DAY_ONE.start) == [
        Candidate("shelf", DAY_ONE, output=0)
    ]
    kube_server.patch_object(
        api.API_VERSION, api.PLURAL, NAMESPACE, name, {"status": status}, subresource="status"
    )
    latest = await fetch_report(kube_api, NAMESPACE, name)
    assert (latest.content, latest.location) == ("# Shelved\n", result.location)
    start = format_rfc3339(DAY_ONE.start)
    by_window = await fetch_report(kube_api, NAMESPACE, name, window_start=start, ext="html")
    assert by_window.content == "<h1>Shelved</h1>\n"
