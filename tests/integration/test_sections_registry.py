"""The collection learns of a section only through the registry: a section added to it is run,
counted in the budget, listed in the report's queries, and answers for its own gaps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from opsreport.collect import queries
from opsreport.collect.measure import MetricFacts, collect_metrics
from opsreport.collect.prometheus import PrometheusClient, PrometheusSettings
from opsreport.collect.sections import REGISTRY, Plan, gap_sections, query_budget
from opsreport.collect.sections.base import Context, Section, fixed, named, scalar
from tests.integration.test_fixture_library import FIXTURES, WINDOW
from tests.support.engines import EngineServer, engine_available, serve_openmetrics

SANDBOXES = "sandbox memory"


async def _sandbox_memory(ctx: Context) -> None:
    """A small real section: the sandbox (pause) containers' memory, which no report shows."""
    selector = ctx.scope.matchers('image=~".*/pause:.*"')
    results = await ctx.run.instant(
        SANDBOXES,
        {
            "sandboxes.bytes": f"sum(max_over_time(container_memory_working_set_bytes{selector}"
            f"[{queries.duration(ctx.seconds)}]))"
        },
    )
    if results is not None and scalar(results["sandboxes.bytes"]) is None:
        ctx.run.gap(SANDBOXES, "no sandbox container series in scope")


EXTRA = Section(name=SANDBOXES, budget=fixed(1), gaps=named(SANDBOXES), figures=_sandbox_memory)
EXTENDED = (*REGISTRY, EXTRA)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    if not engine_available("prometheus"):
        pytest.fail("prometheus is not installed: run `make install`")
    tmp = tmp_path_factory.mktemp("registry")
    with serve_openmetrics("prometheus", FIXTURES / "kube-prometheus.om", tmp) as server:
        yield server


def _collect(url: str, *namespaces: str) -> tuple[MetricFacts, int]:
    async def collect() -> tuple[MetricFacts, int]:
        async with PrometheusClient(PrometheusSettings(url=url)) as client:
            facts = await collect_metrics(
                client, queries.Scope(namespaces), WINDOW, sections=EXTENDED
            )
            return facts, client.queries_sent

    return asyncio.run(collect())


def test_an_added_section_is_run_counted_and_listed(prometheus: EngineServer) -> None:
    facts, sent = _collect(prometheus.url, "shop")
    assert sent == query_budget(Plan(), EXTENDED) == query_budget(Plan()) + 1
    figures = [record.figure for record in facts.queries]
    # Its figures step runs after every registered section's, before the follow-ups.
    assert figures.index("sandboxes.bytes") == figures.index("previous") + 1
    assert not facts.gaps  # the fixture has sandbox rows in shop


def test_an_added_section_answers_for_its_own_gap(prometheus: EngineServer) -> None:
    facts, _ = _collect(prometheus.url, "nowhere")
    assert SANDBOXES in {gap.section for gap in facts.gaps}
    assert SANDBOXES in gap_sections(Plan(), EXTENDED)
    assert SANDBOXES not in gap_sections(Plan())
