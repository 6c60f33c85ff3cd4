"""Goldens fed by collection: scenario → real Prometheus (backfill) → the operator's collector →
every built-in template. Unlike tests/golden/*.md, nothing here is hand-written report data, so a
figure the collector names one way and a template looks up another shows in the output.

- daily: the demo scenario's last day (`Scenario.demo`, END of conftest), in Europe/Berlin;
- monthly: October 2026 in Europe/Berlin, a calendar month of 31 days and one hour (the fall-back
  hour), starting 22:00 UTC, whose ISO weeks W40 and W44 are cut by the window. Its scenario is
  the same demo with two months of quiet history at a 300 s step, for the previous month's trend.

After a deliberate change, rewrite the files and review the diff (`make golden` does both sets):

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/integration/test_golden_collected.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsreport.collect.prometheus import PrometheusSettings
from opsreport.deliver.base import ScheduleIdentity
from opsreport.kube import KubeApi, connect
from opsreport.model.figures import AVAILABILITY, RESCALES, RESTARTS
from opsreport.model.report import ReportData
from opsreport.model.spec import parse_spec
from opsreport.pipeline import ReportRequest, Sources, collect_report
from opsreport.render.documents import EXTENSIONS, render_documents
from opsreport.scheduling import Window, calendar_window
from tests.integration.conftest import DAY, END, SCOPE
from tests.support.kube_emulator import KubeApiServer, crd_from_file
from tests.support.prometheus import PrometheusServer, blocks_for, prometheus_available
from tests.support.scenario import Scenario
from tests.support.stack import CRD_FILE, seed_scenario

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "collected"
BERLIN = ZoneInfo("Europe/Berlin")
FORMATS = ("markdown", "html", "json")

# The monthly schedule fires at 07:00 on the 1st in Berlin; on 1 November it reports on October.
MONTH_FIRED = datetime(2026, 11, 1, 7, tzinfo=BERLIN)
MONTH_WINDOW = calendar_window(MONTH_FIRED, "month", BERLIN)
# This window and the previous one (same length, just before), with two days to spare for the
# range selectors reaching back from the previous window's start.
MONTH_HISTORY = 64 * 86400  # seconds
DAILY_WINDOW = Window(END - DAY, END)

TRAFFIC = {
    "requestsCounter": "http_requests_total",
    "latencyHistogram": "http_request_duration_seconds",
    "selector": {"job": "checkout"},
}


@dataclass(frozen=True)
class Case:
    name: str  # the golden files' stem
    template: str
    spec: dict[str, Any]
    window: Window

    @property
    def generated_at(self) -> datetime:
        return self.window.end + timedelta(minutes=5)  # the default settleSeconds (300)


DAILY = Case(
    "daily",
    "daily",
    {
        "title": "Shop daily",
        "schedule": "0 13 * * *",  # 12:00 UTC in November, the demo's END
        "timeZone": "Europe/Berlin",
        "window": {"duration": "24h"},
        "template": {"name": "daily"},
        "scope": {"namespaces": list(SCOPE)},
        "traffic": TRAFFIC,
        # p99 has no headline row of its own: the headline rows keep their trends from
        # model.figures, and the report still shows an objective and its error budget.
        "objectives": [{"name": "Checkout p99", "metric": "latencyP99", "target": "1"}],
    },
    DAILY_WINDOW,
)
MONTHLY = Case(
    "monthly",
    "monthly",
    {
        "title": "Shop monthly",
        "schedule": "0 7 1 * *",
        "timeZone": "Europe/Berlin",
        "window": {"calendar": "month"},
        "template": {"name": "monthly"},
        "scope": {"namespaces": list(SCOPE)},
        "traffic": TRAFFIC,
    },
    MONTH_WINDOW,
)


def golden_path(case: Case, fmt: str, engine: str = "prometheus") -> Path:
    """Prometheus' goldens are the reference; another engine's sit beside them, so their diff
    shows exactly where the engines differ (docs/collectors.md, "Engines differ")."""
    stem = case.name if engine == "prometheus" else f"{case.name}-{engine}"
    return GOLDEN / f"{stem}.{EXTENSIONS[fmt]}"


def _normalised(report: ReportData) -> ReportData:
    """What varies from run to run, and only that, set to fixed values.

    - `meta.collectSeconds` is wall-clock time;
    - `meta.operatorVersion` changes with every release, which would otherwise rewrite these
      files without a change in what they test.

    Everything else is fixed by the scenario (seeded), the window and `generated_at`.
    """
    report.meta.collect_seconds = 1.0
    report.meta.operator_version = "0.0.0"
    return report


async def _collect(case: Case, prometheus: PrometheusServer, kube: KubeApi) -> ReportData:
    """The operator's own collection (pipeline.collect_report), at a fixed time."""
    request = ReportRequest(
        ScheduleIdentity("shop", f"golden-{case.name}", "uid-golden"),
        parse_spec(case.spec),
        case.window,
    )
    sources = Sources(kube=kube, prometheus=PrometheusSettings(url=prometheus.url))
    return _normalised(await collect_report(request, sources, lambda: case.generated_at))


def _check_golden(case: Case, report: ReportData, engine: str = "prometheus") -> None:
    documents = render_documents(report, case.template, FORMATS)
    for document in documents:
        path = golden_path(case, document.format, engine)
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document.content, encoding="utf-8")
        assert path.exists(), f"{path.name} is missing: run with UPDATE_GOLDEN=1"
        assert document.content == path.read_text(encoding="utf-8"), (
            f"collected/{path.name} differs: if the change is intended, run with UPDATE_GOLDEN=1"
            " and review the diff"
        )


# ------------------------------------------------------------------ the month's own stack


@pytest.fixture(scope="module")
def month_scenario() -> Scenario:
    return Scenario.demo(MONTH_WINDOW.end, history_seconds=MONTH_HISTORY, step_seconds=300)


@pytest.fixture(scope="module")
def month_prometheus(
    month_scenario: Scenario,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusServer]:
    if not prometheus_available():
        pytest.skip("prometheus/promtool are not installed (make install)")
    cache = getattr(request.config, "cache", None)
    cache_dir = Path(cache.mkdir("opsreport-blocks")) if cache else tmp_path_factory.mktemp("b")
    # On a cache miss, once per run: about 27 s to generate (1.4 GB of text) and backfill two
    # months at 300 s on two busy cores; collecting the month takes about 1 s.
    with PrometheusServer(blocks_for(month_scenario, cache_dir)) as server:
        yield server


@pytest.fixture(scope="module")
def month_kube_server(month_scenario: Scenario) -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        server.apply_crd(crd_from_file(CRD_FILE))
        seed_scenario(server, month_scenario.kube_objects())
        yield server


@pytest.fixture
async def month_kube(month_kube_server: KubeApiServer, tmp_path: Path) -> AsyncIterator[KubeApi]:
    api = await connect(str(month_kube_server.write_kubeconfig(tmp_path / "kubeconfig")))
    yield api
    await api.close()


# ------------------------------------------------------------------ the goldens


def test_the_month_is_october_in_berlin() -> None:
    # 1 October 00:00 CEST is 22:00 UTC on 30 September; 1 November 00:00 CET is 23:00 UTC.
    october = Window(datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))
    assert october == MONTH_WINDOW
    assert MONTH_WINDOW.seconds == 31 * 86400 + 3600


async def test_daily_golden_from_collection(
    prometheus: PrometheusServer, kube_api: KubeApi
) -> None:
    _check_golden(DAILY, await _collect(DAILY, prometheus, kube_api), prometheus.kind)


async def test_monthly_golden_from_collection(
    month_prometheus: PrometheusServer, month_kube: KubeApi
) -> None:
    _check_golden(MONTHLY, await _collect(MONTHLY, month_prometheus, month_kube))


# ------------------------------------------------------------------ the Trend column, by hand


def _key_metric_rows(report: ReportData, template: str) -> tuple[str, str]:
    markdown, html = render_documents(report, template, ("markdown", "html"))
    return markdown.content, html.content


def _row(name: str, target: str, actual: str, status: str, trend: str) -> tuple[str, str]:
    """A key metric's row as Markdown and as HTML show it."""
    return (
        f"| {name} | {target} | {actual} | {status} | {trend} |",
        f'<tr><td>{name}</td><td>{target}</td><td class="num">{actual}</td>'
        f'<td class="center">{status}</td><td>{trend}</td></tr>',
    )


async def test_the_daily_trend_column_tells_the_demo_story(
    prometheus: PrometheusServer, kube_api: KubeApi
) -> None:
    report = await _collect(DAILY, prometheus, kube_api)
    trends = {t.figure: t for t in report.trends}
    # Scenario.demo's docstring and story, in scope (shop, payments):
    # - checkout rescales 4 times the previous day and 7 times the last day;
    # - restarts, previous day: checkout-A OOMKilled (-30 h), api's first loop of 4 (-40 h),
    #   ledger Error (-36 h) = 6; last day: checkout-A OOMKilled (-6 h 10 m), frontend Error
    #   (-16 h), api's second loop of 6, ledger's backup Completed (-20 h) = 9;
    # - availability: the last day lost more scrapes (checkout's 10 min dip, a 15 min scrape
    #   gap) than the previous day (ledger's 6 min dip), so it went down.
    assert (trends[RESCALES].previous, trends[RESCALES].current) == (4, 7)
    assert (trends[RESTARTS].previous, trends[RESTARTS].current) == (6, 9)
    assert trends[AVAILABILITY].direction == "down"
    markdown, html = _key_metric_rows(report, "daily")
    for row in (
        _row("Autoscaler rescales", "—", "7", "—", "↑ +3"),
        _row("Container restarts", "—", "9", "—", "↑ +3"),
    ):
        assert row[0] in markdown
        assert row[1] in html
    assert "| Availability | ≥ 99.9% | 99.805% | ⚠️ | ↓ −" in markdown
    assert '<td class="center">⚠️</td><td>↓ −' in html


async def test_the_monthly_trend_column_compares_with_a_quiet_month(
    month_prometheus: PrometheusServer, month_kube: KubeApi
) -> None:
    report = await _collect(MONTHLY, month_prometheus, month_kube)
    trends = {t.figure: t for t in report.trends}
    # The long demo is quiet before its last nine days: the previous month had no restart, no
    # rescale and no failed scrape. October holds the whole story: the 11 rescales of the
    # docstring's last two days, and 19 restarts (frontend's replaced pod 3, the other 1,
    # checkout-A's 2 OOMKills, checkout-B's Error 5 days before the end 1, api's two loops
    # 4 + 6, ledger 1, its backup 1).
    assert (trends[RESCALES].previous, trends[RESCALES].current) == (0, 11)
    assert (trends[RESTARTS].previous, trends[RESTARTS].current) == (0, 19)
    assert trends[AVAILABILITY].previous == 100
    assert trends[AVAILABILITY].direction == "down"
    markdown, html = _key_metric_rows(report, "monthly")
    for row in (
        _row("Autoscaler rescales", "—", "11", "—", "↑ +11"),
        _row("Container restarts", "—", "19", "—", "↑ +19"),
    ):
        assert row[0] in markdown
        assert row[1] in html
    assert "| Availability | ≥ 99.9% | 99.979% | ✅ | ↓ −" in markdown


def test_no_stray_collected_golden_files() -> None:
    expected = {golden_path(case, fmt).name for case in (DAILY, MONTHLY) for fmt in FORMATS}
    expected |= {golden_path(DAILY, fmt, "victoriametrics").name for fmt in FORMATS}
    assert {p.name for p in GOLDEN.iterdir()} == expected
