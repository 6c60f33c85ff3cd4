"""One report through the whole pipeline, without kopf: real Prometheus, emulated API, ConfigMap."""

from __future__ import annotations

import base64
import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from opsreport.collect.prometheus import PrometheusSettings
from opsreport.collect.sections import Plan, query_budget
from opsreport.deliver.base import ScheduleIdentity
from opsreport.deliver.configmap import ConfigMapSink
from opsreport.kube import KubeApi
from opsreport.model.spec import parse_spec
from opsreport.pipeline import ReportRequest, Sources, run_report
from opsreport.render.documents import Document
from opsreport.scheduling import Window
from tests.integration.conftest import DAY, END, SCOPE, window_start_seen
from tests.support.kube_emulator import KubeApiServer
from tests.support.prometheus import PrometheusServer
from tests.support.scenario import Scenario

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json").read_text()
)
WINDOW = Window(END - DAY, END)
GENERATED = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)


def request(name: str, formats: list[str]) -> ReportRequest:
    spec = parse_spec(
        {
            "schedule": "0 12 * * *",
            "window": {"duration": "24h"},
            "formats": formats,
            "scope": {"namespaces": list(SCOPE)},
        }
    )
    return ReportRequest(ScheduleIdentity("shop", name, f"uid-{name}"), spec, WINDOW)


async def test_a_report_is_true_and_stored(
    prometheus: PrometheusServer, kube_api: KubeApi, kube_server: KubeApiServer, scenario: Scenario
) -> None:
    sources = Sources(kube=kube_api, prometheus=PrometheusSettings(url=prometheus.url))
    outcome = await run_report(
        request("pipeline", ["markdown", "html", "json"]),
        sources,
        [ConfigMapSink(kube_api)],
        lambda: GENERATED,
    )
    assert outcome.delivered
    (result,) = outcome.outputs
    assert result.location == "configmap/shop/pipeline-20261119-1200"

    stored = kube_server.get("v1", "configmaps", "shop", "pipeline-20261119-1200")
    assert stored is not None
    assert set(stored["data"]) == {"report.md", "report.html", "report.json"}
    assert stored["metadata"]["ownerReferences"][0]["uid"] == "uid-pipeline"
    report = json.loads(stored["data"]["report.json"])
    jsonschema.validate(report, SCHEMA)

    expected = scenario.expected(
        window_start_seen(prometheus, WINDOW.start), WINDOW.end, set(SCOPE)
    )
    assert report["restarts"]["total"] == expected.restarts_total
    assert report["availability"]["totalScrapes"] == expected.up_samples
    assert report["availability"]["percent"] == pytest.approx(100 * expected.availability_ratio)
    assert report["meta"]["promQueries"] == query_budget(Plan())
    # The weeks' restarts are exact counts per step: they add up to the window's.
    assert sum(week["restarts"] for week in report["weeks"]) == expected.restarts_total
    assert report["series"]["availability"], "the availability chart has its series"
    assert report["meta"]["apiRequests"] == 8 * len(SCOPE) + 1  # eight kinds a namespace, nodes
    assert report["dataGaps"] == []
    assert report["status"] in ("warning", "critical")  # the scenario has an OOMKill and a dip
    markdown = stored["data"]["report.md"]
    assert f"{expected.restarts_total}" in markdown
    assert "OOMKilled" in markdown


async def test_a_rerun_of_the_same_window_overwrites(
    prometheus: PrometheusServer, kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    sources = Sources(kube=kube_api, prometheus=PrometheusSettings(url=prometheus.url))
    for _ in range(2):
        outcome = await run_report(
            request("rerun", ["json"]), sources, [ConfigMapSink(kube_api)], lambda: GENERATED
        )
        assert outcome.delivered
    stored = kube_server.list(
        "v1", "configmaps", "shop", label_selector="opsreport.dev/schedule=rerun"
    )
    assert len(stored) == 1


async def test_large_reports_are_compressed_and_oversized_refused(
    kube_api: KubeApi, kube_server: KubeApiServer
) -> None:
    sink = ConfigMapSink(kube_api)
    req = request("big", ["markdown"])
    outcome = await run_report(req, Sources(kube=None, prometheus=None), [], lambda: GENERATED)
    big = Document("markdown", "| a | b |\n" * 400_000)  # 4 MB of compressible text
    result = await sink.deliver(req.identity, outcome.report, [big], GENERATED)
    assert result.ok
    stored = kube_server.get("v1", "configmaps", "shop", "big-20261119-1200")
    assert stored is not None
    packed = stored["binaryData"]["report.md.gz"]
    assert gzip.decompress(base64.b64decode(packed)).decode() == big.content

    noise = Document("html", base64.b85encode(os.urandom(3 * 1024 * 1024)).decode())
    refused = await sink.deliver(req.identity, outcome.report, [noise], GENERATED)
    assert not refused.ok
    assert refused.reason == "ReportTooLarge"


async def test_without_sources_the_report_says_what_is_missing(kube_api: KubeApi) -> None:
    outcome = await run_report(
        request("empty", ["json"]), Sources(kube=None, prometheus=None), [], lambda: GENERATED
    )
    report = json.loads(outcome.documents[0].content)
    assert report["availability"]["percent"] is None
    assert report["restarts"]["total"] is None
    assert {gap["section"] for gap in report["dataGaps"]} == {
        "availability",
        "restarts",
        "resources",
        "scaling",
        "workloads",
        "incidents",
        "alerts",
        "trends",
        "availability series",
        "pods",
        "events",
        "rollouts",
        "nodes",
    }
    # The weeks are there, every figure in them not available, with the reason.
    [week] = report["weeks"]
    assert week["restarts"] is None
    assert "restarts: not measured (see Data gaps)" in week["notes"]
    jsonschema.validate(report, SCHEMA)
    assert report["scaling"]["hpas"] is None
