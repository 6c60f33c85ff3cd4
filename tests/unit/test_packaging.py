"""The wheel the image installs carries everything the tests exercised from the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # The same command as the Dockerfile's build stage.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr.strip()[-300:]}")
    (built,) = out.glob("opsreport-*.whl")
    return zipfile.ZipFile(built)


def test_every_module_is_packaged(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    source = REPO / "operator"
    modules = {
        str(p.relative_to(source))
        for p in (source / "opsreport").rglob("*.py")
        if "builtin_templates" not in p.parts and "crds" not in p.parts
    }
    assert modules <= names, sorted(modules - names)
    assert "opsreport/py.typed" in names


def test_templates_and_crds_are_baked_in(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    templates = {
        f"opsreport/builtin_templates/{p.relative_to(REPO / 'templates')}"
        for p in (REPO / "templates").rglob("*")
        if p.is_file()
    }
    assert templates
    assert templates <= names, sorted(templates - names)
    crd = "opsreport/crds/reportschedules.opsreport.dev.yaml"
    assert crd in names
    assert wheel.read(crd) == (REPO / "deploy" / "crds" / crd.rsplit("/", 1)[-1]).read_bytes()


def test_the_console_script_is_declared(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    assert "opsreport = opsreport.cli:main" in wheel.read(entry_points).decode()
