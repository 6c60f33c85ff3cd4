"""Dependencies are pinned, and none is a version with a known vulnerability (when a vulnerability
database can be reached: see docs/operations.md#dependencies)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not pinned with =="
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_every_dependency_is_pinned() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pinned = pins()
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[; ]", requirement)[0]).lower()
        assert name in pinned, f"{requirement}: not pinned in constraints.txt"


@pytest.mark.skipif(
    importlib.util.find_spec("pip_audit") is None,
    reason="pip-audit is not installed: `pip install pip-audit` to check for vulnerable versions",
)
def test_no_pinned_version_has_a_known_vulnerability() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip_audit", "-r", str(CONSTRAINTS), "--no-deps", "--disable-pip"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    audited = len(pins()) - output.count("could not be audited")
    if "ConnectionError" in output or audited <= 0:
        pytest.skip("no vulnerability database is reachable from here; nothing was audited")
    assert result.returncode == 0, output
