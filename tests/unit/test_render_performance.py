"""What makes rendering fast changes no content: the JSON holds what json.dumps would, built-in
templates compile once, and only users' templates pay for the sandbox's budget."""

from __future__ import annotations

import json
import math

import pytest

from opsreport.model.report import ReportData
from opsreport.render.documents import CustomTemplate, RenderError, render_documents, report_json
from opsreport.render.environment import builtin_templates_dir, environment, warm
from opsreport.render.sandbox import Limits
from tests.golden.scenario import full_report, sparse_report


def dumped(report: ReportData) -> str:
    return json.dumps(report.to_json_dict(), indent=2) + "\n"


def parsed(text: str) -> object:
    return json.loads(text, parse_constant=str)  # NaN as "NaN": comparable, unlike float("nan")


def test_json_holds_what_json_dumps_writes_for_awkward_values() -> None:
    report = full_report()
    # Characters to escape (non-ASCII, an astral one, DEL, controls) and extreme floats.
    report.title = 'Shöp — daily 😀 \x7f\x01\t\n\u2028 \\ " 0.00001 1e-7'
    report.status_reasons = ['"x": 2.5e-7', "0.00004,", "e-5", " 1e-9"]
    cpu = report.resources.workloads[0].cpu
    cpu.avg, cpu.p95, cpu.max = 4e-5, -2.5e-7, 1.0000000000000001e-9
    memory = report.resources.workloads[1].memory
    memory.avg, memory.max = 1e16, 1.5e-300
    report.availability.percent = math.nan
    report.resources.workloads[2].cpu.avg = math.inf
    report.restarts.by_reason["Ünknown"] = 1
    for case in (report, full_report(), sparse_report()):
        text = report_json(case)
        assert text.isascii()
        assert text.endswith("}\n")
        assert parsed(text) == parsed(dumped(case))
    # The golden documents are byte for byte what json.dumps writes.
    assert report_json(full_report()) == dumped(full_report())


def test_json_falls_back_to_json_dumps_for_text_pydantic_cannot_write() -> None:
    report = full_report()
    report.title = "broken \ud800 escape"  # a lone surrogate, as json.loads can produce
    assert report_json(report) == dumped(report)


def test_warm_compiles_every_builtin_template_once() -> None:
    names = sorted(
        path.relative_to(builtin_templates_dir()).as_posix()
        for path in builtin_templates_dir().rglob("*.j2")
    )
    assert warm() == len(names)
    env = environment()
    assert all(env.get_template(name) is env.get_template(name) for name in names)


def test_builtin_templates_skip_the_step_budget_but_not_the_output_cap() -> None:
    # One step would stop any template that runs under the budget.
    one_step = Limits(seconds=5, max_steps=1)
    documents = render_documents(full_report(), "monthly", ("markdown", "html"), limits=one_step)
    assert [d.format for d in documents] == ["markdown", "html"]
    with pytest.raises(RenderError, match="the output is larger than"):
        render_documents(full_report(), "daily", ("html",), limits=Limits(output_bytes=10_000))


def test_a_user_template_runs_the_builtin_it_extends_under_its_own_budget() -> None:
    custom = CustomTemplate("team", "team.md.j2", '{% extends "daily/report.md.j2" %}')
    with pytest.raises(RenderError, match="executed more than 50 steps"):
        render_documents(
            full_report(), "daily", ("markdown",), custom=custom, limits=Limits(max_steps=50)
        )
