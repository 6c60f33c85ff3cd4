"""A Python with the operator's runtime dependencies only, as the container image installs them.

The development venv also holds the test tools, and kopf imports kubernetes_asyncio (~45 MiB
of generated models) whenever it is installed; the operator's memory is measured without it,
as it ships. The venv is made once per pyproject.toml and constraints.txt, and runs the source
tree through PYTHONPATH, so code changes need no reinstall.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

from bench.history import log

REPO = Path(__file__).resolve().parent.parent


def runtime_python(cache_dir: Path) -> Path:
    pyproject = (REPO / "pyproject.toml").read_bytes()
    constraints = (REPO / "constraints.txt").read_bytes()
    key = hashlib.sha256(pyproject + constraints).hexdigest()[:12]
    venv = cache_dir / f"runtime-venv-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    if ready.exists():
        return python
    log(f"making a venv with the runtime dependencies only in {venv}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    dependencies = tomllib.loads(pyproject.decode())["project"]["dependencies"]
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "-c",
            str(REPO / "constraints.txt"),
            *dependencies,
        ],
        check=True,
    )
    ready.touch()
    return python
