"""`opsreport render` against the local stack, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from opsreport.cli import main
from tests.integration.conftest import DAY, END, SCOPE
from tests.support.kube_emulator import KubeApiServer
from tests.support.prometheus import PrometheusServer
from tests.support.scenario import Scenario


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's KUBECONFIG must not leak into renders that name no cluster."""
    monkeypatch.delenv("KUBECONFIG", raising=False)


def write_schedule(path: Path, **spec: object) -> Path:
    body = {
        "apiVersion": "opsreport.dev/v1alpha1",
        "kind": "ReportSchedule",
        "metadata": {"name": "cli", "namespace": "shop"},
        "spec": {
            "schedule": "0 12 * * *",
            "window": {"duration": "24h"},
            "formats": ["markdown", "html", "json"],
            "scope": {"namespaces": list(SCOPE)},
            **spec,
        },
    }
    path.write_text(yaml.safe_dump(body))
    return path


def test_render_writes_true_documents(
    prometheus: PrometheusServer, kube_server: KubeApiServer, scenario: Scenario, tmp_path: Path
) -> None:
    kubeconfig = kube_server.write_kubeconfig(tmp_path / "kubeconfig")
    schedule = write_schedule(tmp_path / "schedule.yaml")
    code = main(
        [
            "render",
            "-f",
            str(schedule),
            "--kubeconfig",
            str(kubeconfig),
            "--prometheus-url",
            prometheus.url,
            "--at",
            "2026-11-20T12:00:00Z",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    expected = scenario.expected(END - DAY, END, set(SCOPE))
    assert report["window"] == {
        "start": "2026-11-19T12:00:00Z",
        "end": "2026-11-20T12:00:00Z",
        "timeZone": "UTC",
    }
    assert report["restarts"]["total"] == expected.restarts_total
    assert report["pods"]["total"] > 0
    assert report["dataGaps"] == []


def test_a_calendar_window_is_the_period_before_at(tmp_path: Path) -> None:
    schedule = write_schedule(
        tmp_path / "s.yaml",
        window={"calendar": "month"},
        timeZone="Europe/Berlin",
        formats=["json"],
    )
    assert (
        main(["render", "-f", str(schedule), "--at", "2026-11-03T10:00:00Z", "-o", str(tmp_path)])
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["window"]["start"] == "2026-09-30T22:00:00Z"
    assert report["window"]["end"] == "2026-10-31T23:00:00Z"


@pytest.mark.parametrize(
    ("spec", "args", "message"),
    [
        ({"schedule": "61 * * * *"}, [], "spec.schedule"),
        ({"timeZone": "Nowhere/Land"}, [], "spec.timeZone"),
        ({"window": {"duration": "soon"}}, [], "spec.window.duration"),
        ({}, ["--at", "yesterday"], "--at"),
        (
            {"template": {"configMapRef": {"name": "mine", "key": "report.md.j2"}}},
            [],
            "spec.template.configMapRef",
        ),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spec: dict[str, object],
    args: list[str],
    message: str,
) -> None:
    schedule = write_schedule(tmp_path / "s.yaml", **spec)
    code = main(["render", "-f", str(schedule), "-o", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(tmp_path / "nope.yaml"), "-o", str(tmp_path)]) == 2
    assert "nope.yaml" in capsys.readouterr().err
