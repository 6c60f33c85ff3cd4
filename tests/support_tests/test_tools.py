"""helm and kubectl from tests.support.tools are real, runnable binaries."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.tools import ToolUnavailable, helm_binary, kubectl_binary


def _get(tool: str) -> Path:
    try:
        return helm_binary() if tool == "helm" else kubectl_binary()
    except ToolUnavailable as exc:
        pytest.skip(f"{tool} binary unavailable: {exc}")


def _run(*cmd: str | Path, tmp_path: Path) -> str:
    # Keep helm's and kubectl's config/cache dirs out of the developer's home.
    env = {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_helm_version(tmp_path: Path) -> None:
    out = _run(_get("helm"), "version", "--short", tmp_path=tmp_path)
    assert out.startswith("v4."), out


def test_kubectl_version_client(tmp_path: Path) -> None:
    out = _run(_get("kubectl"), "version", "--client", tmp_path=tmp_path)
    assert "Client Version: v1.33." in out, out


def test_binaries_are_cached(tmp_path: Path) -> None:
    first = _get("helm")
    assert helm_binary() == first
    assert kubectl_binary().parent == first.parent


def test_tests_never_download(tmp_path: Path) -> None:
    """An empty cache is an install step not taken: said, not mended by a download at test time."""
    with pytest.raises(ToolUnavailable, match="make install"):
        helm_binary(tmp_path)
    assert list(tmp_path.iterdir()) == []
