"""`opsreport validate`: the CRD's schema, then parse_spec; `file:path: message` per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import opsreport
from opsreport.cli import main
from opsreport.validate import load_crd, to_json_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

GOOD: dict[str, Any] = {
    "apiVersion": "opsreport.dev/v1alpha1",
    "kind": "ReportSchedule",
    "metadata": {"name": "shop-daily", "namespace": "shop"},
    "spec": {"schedule": "0 7 * * *", "timeZone": "Europe/Berlin", "window": {"duration": "24h"}},
}


def schedule(**spec: Any) -> dict[str, Any]:
    return {**GOOD, "spec": {**GOOD["spec"], **spec}}


def write(path: Path, *docs: Any) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["validate", *args])
    return code, capsys.readouterr().out.splitlines()


def test_a_valid_schedule_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "-f", str(write(tmp_path / "s.yaml", GOOD)))
    assert (code, out) == (0, [])


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        # Caught by the CRD's schema, as the API server would.
        ({"formats": ["pdf"]}, "spec.formats[0]", "'pdf' is not one of"),
        ({"window": {"calendar": "fortnight"}}, "spec.window.calendar", "is not one of"),
        ({"window": {"duration": "1x"}}, "spec.window.duration", "does not match"),
        ({"title": "x" * 257}, "spec.title", "is too long"),
        ({"colour": "red"}, "spec.colour", "unknown field"),
        ({"outputs": [{"ftp": {}}]}, "spec.outputs[0].ftp", "unknown field"),
        ({"scope": {"namespaces": ["Shop"]}}, "spec.scope.namespaces[0]", "does not match"),
        ({"suspend": "yes"}, "spec.suspend", "is not of type 'boolean'"),
        # Only parse_spec knows these.
        ({"schedule": "0 25 * * *"}, "spec.schedule", "Bad hour"),
        ({"timeZone": "Mars/Olympus"}, "spec.timeZone", "not a known IANA time zone"),
        ({"window": {"duration": "400d"}}, "spec.window.duration", "at most 366d"),
        (
            {"window": {"duration": "24h", "calendar": "day"}},
            "spec.window",
            "exactly one of duration or calendar",
        ),
    ],
)
def test_problems_name_file_and_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spec: dict[str, Any],
    path: str,
    message: str,
) -> None:
    file = write(tmp_path / "bad.yaml", schedule(**spec))
    code, out = run(capsys, "-f", str(file))
    assert code == 1
    assert len(out) == 1, out
    assert out[0].startswith(f"{file}:{path}: ")
    assert message in out[0]


def test_a_missing_field_is_named_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = schedule()
    del body["spec"]["schedule"]
    file = write(tmp_path / "s.yaml", body)
    assert run(capsys, str(file)) == (1, [f"{file}:spec.schedule: required"])


def test_every_problem_is_reported_not_just_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(
        tmp_path / "s.yaml",
        schedule(schedule="0 25 * * *", timeZone="Mars/Olympus", formats=["pdf"]),
    )
    code, out = run(capsys, str(file))
    assert code == 1
    assert [line.split(": ")[0] for line in out] == [
        f"{file}:spec.formats[0]",
        f"{file}:spec.schedule",
        f"{file}:spec.timeZone",
    ]


def test_other_kinds_are_ignored_and_names_tell_schedules_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    bad = schedule(schedule="nope")
    bad["metadata"] = {"name": "broken"}
    file = write(tmp_path / "all.yaml", configmap, GOOD, bad, None)
    code, out = run(capsys, str(file))
    assert code == 1
    assert len(out) == 1
    assert out[0].startswith(f"{file}:spec.schedule: ")
    assert out[0].endswith("(ReportSchedule broken)")


def test_wrong_api_version_and_missing_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(
        tmp_path / "s.yaml",
        {**GOOD, "apiVersion": "opsreport.dev/v1"},
        {**GOOD, "metadata": {"namespace": "shop"}},
    )
    code, out = run(capsys, str(file))
    assert code == 1
    assert out == [
        f"{file}:apiVersion: 'opsreport.dev/v1' is not opsreport.dev/v1alpha1"
        " (ReportSchedule shop-daily)",
        f"{file}:metadata.name: required",  # no name to tell it apart by
    ]


def test_directories_are_searched_for_yaml_and_yml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nested" / ".hidden").mkdir(parents=True)
    write(tmp_path / "a.yaml", GOOD)
    bad = write(tmp_path / "nested" / "b.yml", schedule(timeZone="Nowhere/Special"))
    write(tmp_path / "nested" / ".hidden" / "c.yaml", schedule(timeZone="Nowhere/Special"))
    write(tmp_path / "notes.txt", schedule(timeZone="Nowhere/Special"))
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert out == [f"{bad}:spec.timeZone: 'Nowhere/Special' is not a known IANA time zone"]


def test_unparseable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: ReportSchedule\nspec: [\n")
    # A Helm template mentions no ReportSchedule: not ours to judge.
    (tmp_path / "deployment.yaml").write_text("{{- if .Values.x }}\nkind: Deployment\n")
    code, out = run(capsys, str(tmp_path), str(tmp_path / "missing.yaml"))
    assert code == 1
    assert out[0].startswith(f"{broken}:line 3: not YAML: ")
    assert out[1].startswith(f"{tmp_path / 'missing.yaml'}:(file): cannot read: ")
    assert len(out) == 2


def test_file_flag_and_positional_arguments_combine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path / "a.yaml", GOOD)
    second = write(tmp_path / "b.yaml", schedule(schedule="@fortnightly"))
    code, out = run(capsys, "-f", str(first), "--file", str(first), str(second))
    assert code == 1
    assert [line.split(":")[0] for line in out] == [str(second)]


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    assert "name at least one FILE or DIR" in capsys.readouterr().err


def test_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "4 ReportSchedule(s)" in captured.err
    assert captured.err.rstrip().endswith(": valid")


def test_examples_cover_the_documented_shapes() -> None:
    specs = {
        path.name: doc["spec"]
        for path in EXAMPLES.glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "ReportSchedule"
    }
    assert specs["daily.yaml"]["window"] == {"duration": "24h"}
    assert specs["monthly.yaml"]["window"] == {"calendar": "month"}
    assert specs["monthly.yaml"]["template"] == {"name": "monthly"}
    assert specs["selector.yaml"]["scope"]["selector"]["matchExpressions"]


def test_the_crd_is_packaged_from_deploy_crds() -> None:
    packaged = Path(opsreport.__file__).parent / "crds"
    assert packaged.is_symlink()
    assert packaged.resolve() == (ROOT / "deploy" / "crds").resolve()
    assert load_crd() == yaml.safe_load(
        (ROOT / "deploy" / "crds" / "reportschedules.opsreport.dev.yaml").read_text()
    )


def test_schema_translation_keeps_the_apis_meaning() -> None:
    schema = to_json_schema(load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    status = schema["properties"]["status"]["properties"]
    assert status["nextScheduleTime"]["type"] == ["string", "null"]
    assert schema["properties"]["spec"]["additionalProperties"] is False
    # An object the CRD leaves open (metadata) stays open; one it declares is closed.
    assert "additionalProperties" not in schema["properties"]["metadata"]
    outputs = schema["properties"]["spec"]["properties"]["outputs"]["items"]["properties"]
    assert outputs["configMap"]["additionalProperties"] is False


def test_pre_commit_hook_runs_validate() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "opsreport-validate"
    assert hook["entry"] == "opsreport validate"
    assert hook["language"] == "python"
    assert "yaml" in hook["types"]
