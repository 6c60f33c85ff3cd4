"""Users' templates: they extend the built-ins, and a hostile one gets a clear error, no access."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from opsreport.model.spec import InvalidSpec, parse_spec
from opsreport.render.documents import CustomTemplate, RenderError, render_documents
from opsreport.render.sandbox import Limits
from tests.golden.scenario import full_report

FAST = Limits(seconds=3, max_steps=200_000)


def render(source: str, key: str = "team.md.j2", limits: Limits = FAST) -> str:
    fmt = "html" if ".html" in key else "markdown"
    (document,) = render_documents(
        full_report(),
        "daily",
        (fmt,),
        custom=CustomTemplate(config_map="team", key=key, source=source),
        limits=limits,
    )
    return document.content


def failure(source: str, key: str = "team.md.j2", limits: Limits = FAST) -> str:
    with pytest.raises(RenderError) as caught:
        render(source, key, limits)
    return str(caught.value)


def test_a_custom_template_sees_the_context_and_filters() -> None:
    text = render(
        "{{ report.title }}: {{ report.availability.percent | percent(2) }} · {{ status_label }}"
        " · {{ recommendations | length }} · {{ report.window.end | local(tz) }}"
    )
    assert text == "Shop daily: 99.5% · Objectives missed · 7 · 2026-11-22 07:00 CET"


def test_a_custom_template_extends_a_builtin_and_overrides_a_block() -> None:
    text = render(
        '{% extends "daily/report.md.j2" %}\n'
        "{% block kpis %}## Our KPIs\n\nOrders: {{ report.kpis[0].value | number }}\n\n"
        "{% endblock %}\n"
        "{% block sources %}{% endblock %}"
    )
    assert "## Our KPIs\n\nOrders: 8,412" in text
    assert "## Infrastructure health" in text
    assert "## Sources" not in text


def test_html_keys_are_autoescaped_and_markdown_keys_are_not() -> None:
    assert render("{{ '<b>' }}", "team.html.j2") == "&lt;b&gt;"
    assert render("{{ '<b>' }}", "team.md.j2") == "<b>"


def test_the_custom_template_replaces_only_its_own_format() -> None:
    documents = render_documents(
        full_report(),
        "daily",
        ("markdown", "html", "json"),
        custom=CustomTemplate(config_map="team", key="report.md.j2", source="custom"),
    )
    assert documents[0].content == "custom"
    assert documents[1].content.startswith("<!DOCTYPE html>")
    assert documents[2].content.startswith("{")


def test_a_template_for_a_format_not_produced_is_an_error() -> None:
    with pytest.raises(RenderError, match=r"renders html, which spec\.formats does not list"):
        render_documents(
            full_report(),
            "daily",
            ("markdown",),
            custom=CustomTemplate(config_map="team", key="report.html.j2", source="x"),
        )


def test_syntax_errors_name_template_and_line() -> None:
    message = failure("line one\n{% if %}\n")
    assert message.startswith("configmap/team/team.md.j2:2: ")
    assert "Expected an expression" in message


def test_undefined_names_name_template_and_line() -> None:
    message = failure("one\ntwo\n{{ report.nonexistent.field }}\n")
    assert message.startswith("configmap/team/team.md.j2:3: ")
    assert "nonexistent" in message


def test_errors_inside_a_builtin_it_extends_name_the_builtin() -> None:
    # A block the user defines runs in the built-in's layout; the error is still theirs.
    message = failure('{% extends "daily/report.md.j2" %}{% block kpis %}{{ 1 / 0 }}{% endblock %}')
    assert message.startswith("configmap/team/team.md.j2:1: ZeroDivisionError")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ report.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ report.model_config.__class__ }}",
    ],
)
def test_private_attributes_are_refused(source: str) -> None:
    assert "is unsafe" in failure(source)


def test_there_is_no_os_or_import() -> None:
    assert "'os' is undefined" in failure("{{ os.system('id') }}")
    assert "__import__" in failure("{{ __import__('os') }}")
    assert "TemplateNotFound" in failure('{% include "../../../etc/passwd" %}') or "passwd" in (
        failure('{% include "../../../etc/passwd" %}')
    )


def test_the_report_cannot_be_changed_by_a_template() -> None:
    assert "is unsafe" in failure("{{ report.restarts.top.append(1) }}")
    assert "is unsafe" in failure("{{ report.restarts.by_reason.update({'x': 1}) }}")


def test_an_endless_loop_is_stopped_by_the_step_cap() -> None:
    started = time.monotonic()
    message = failure(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert "executed more than 200,000 steps" in message
    assert message.startswith("configmap/team/team.md.j2:1: ")
    assert time.monotonic() - started < 3


def test_a_slow_template_is_stopped_by_the_clock_and_its_thread_ends() -> None:
    slow = Limits(seconds=0.5, max_steps=10**12)
    started = time.monotonic()
    message = failure(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        limits=slow,
    )
    assert "took longer than 0.5 s" in message
    assert time.monotonic() - started < 2.5
    deadline = time.monotonic() + 5
    while any(t.name == "opsreport-render" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the render thread kept running"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ '%1000000000d' % 1 }}",
        "{{ '%1000000000d'|format(1) }}",
        "{{ ('x' * 1000000).join(range(100000)) }}",
        "{{ ('x' * 1000000)|replace('x', 'xxxx') }}",
        "{{ 'x'|indent(1000000000) }}",
        "{{ range(10)|batch(1000000000, 'x')|list }}",
        "{{ lipsum(1000000) }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}",
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s }}{% endmacro %}{{ d('x', 40)|length }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_huge_values_are_refused_before_they_are_built(source: str) -> None:
    started = time.monotonic()
    message = failure(source)
    assert any(
        words in message for words in ("exceeds the limit", "is not allowed", "too large a number")
    ), message
    assert time.monotonic() - started < 2


def test_output_is_capped() -> None:
    source = "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}"
    assert "the output is larger than 5 MiB" in failure(source)
    small = Limits(output_bytes=1000)
    assert "larger than 0 MiB" in failure("{{ 'z' * 2000 }}", limits=small)


def test_endless_recursion_is_an_error_not_a_crash() -> None:
    message = failure("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert "recursion too deep" in message


def test_an_oversized_template_is_refused() -> None:
    assert "larger than 256 KiB" in failure("x" * (256 * 1024 + 1))


def test_builtin_reports_render_well_inside_the_limits() -> None:
    # Built-ins run outside the budget themselves; a user's template that extends one runs it
    # under the user's budget, where it must fit easily.
    tight = Limits(seconds=5, max_steps=50_000)
    for template in ("daily", "monthly"):
        for key in ("team.md.j2", "team.html.j2"):
            extends = f'{{% extends "{template}/report.{key.split(".")[1]}.j2" %}}'
            assert render(extends, key, limits=tight).strip()


def test_the_spec_names_the_template_and_bounds_top_n() -> None:
    spec = parse_spec(
        {
            "schedule": "@daily",
            "window": {"duration": "24h"},
            "template": {"configMapRef": {"name": "team", "key": "report.md.j2"}, "topN": 25},
        }
    )
    assert spec.template.config_map_ref is not None
    assert (spec.template.config_map_ref.name, spec.template.top_n) == ("team", 25)
    assert parse_spec({"schedule": "@daily", "window": {"duration": "24h"}}).template.top_n == 10
    for bad, field in (
        ({"topN": 0}, "spec.template.topN"),
        ({"topN": 101}, "spec.template.topN"),
        ({"configMapRef": {"name": "team", "key": "report.txt"}}, "spec.template.configMapRef.key"),
        ({"configMapRef": {"name": "Team", "key": "r.md.j2"}}, "spec.template.configMapRef.name"),
    ):
        with pytest.raises(InvalidSpec) as caught:
            parse_spec({"schedule": "@daily", "window": {"duration": "24h"}, "template": bad})
        assert caught.value.field == field


def test_the_documented_example_renders() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "custom-template"
    (configmap,) = [
        doc
        for doc in yaml.safe_load_all((root / "configmap.yaml").read_text())
        if doc["kind"] == "ConfigMap"
    ]
    (schedule,) = yaml.safe_load_all((root / "schedule.yaml").read_text())
    ref = parse_spec(schedule["spec"]).template.config_map_ref
    assert ref is not None
    assert ref.name == configmap["metadata"]["name"]
    text = render(configmap["data"][ref.key], ref.key)
    assert (
        "## In one minute\n\n❌ **Objectives missed** for shop, payments, Saturday 21 November."
        in text
    )
    assert "- Availability: 99.5% (target ≥ 99.9%)" in text
    assert "First thing to do: **Raise the CPU request" in text
    assert "## Infrastructure health" in text
    assert "## Sources" not in text
