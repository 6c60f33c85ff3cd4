"""Golden files: every built-in template and format for the fixed scenarios, byte for byte.

A change to a report's output is a reviewed change to a file under tests/golden/. After changing a
template on purpose, regenerate and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_render_golden.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from opsreport.model.report import ReportData
from opsreport.render.documents import EXTENSIONS, render_documents
from tests.golden.scenario import full_report, sparse_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SCENARIOS: dict[str, Callable[[], ReportData]] = {"full": full_report, "sparse": sparse_report}
CASES = [
    (scenario, template, fmt)
    for scenario in SCENARIOS
    for template in ("daily", "monthly")
    for fmt in ("markdown", "html", "json")
    if not (fmt == "json" and template == "monthly")  # JSON is the data, whatever the template
]


def golden_path(scenario: str, template: str, fmt: str) -> Path:
    name = scenario if fmt == "json" else f"{scenario}-{template}"
    return GOLDEN / f"{name}.{EXTENSIONS[fmt]}"


@pytest.mark.parametrize(("scenario", "template", "fmt"), CASES)
def test_output_matches_the_golden_file(scenario: str, template: str, fmt: str) -> None:
    (document,) = render_documents(SCENARIOS[scenario](), template, (fmt,))
    path = golden_path(scenario, template, fmt)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(document.content, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: run with UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert document.content == expected, (
        f"{path.name} differs: if the change is intended, run with UPDATE_GOLDEN=1 and review"
        " the diff"
    )


def test_rendering_is_deterministic() -> None:
    first = render_documents(full_report(), "monthly", ("markdown", "html", "json"))
    second = render_documents(full_report(), "monthly", ("markdown", "html", "json"))
    assert first == second


def test_no_stray_golden_files() -> None:
    expected = {golden_path(*case).name for case in CASES}
    present = {p.name for p in GOLDEN.iterdir() if p.suffix in (".md", ".html", ".json")}
    assert present == expected
