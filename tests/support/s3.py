"""A real, throwaway S3 store for tests: SeaweedFS ``weed mini`` with authentication on.

Each :class:`S3Server` runs one ``weed mini`` process on 127.0.0.1 in a fresh temp dir,
with random credentials from a generated identities file, so unsigned or wrongly signed
requests get 403 like on AWS. The S3 defaults that differ from AWS (auto-created buckets,
deleting non-empty buckets) are switched off.

The harness talks to the store with boto3, never with the operator's own S3 client, so a
bug in the operator's client cannot make the harness look healthy. Clients are built on a
botocore session pinned to ``config_file=/dev/null`` and ``credentials_file=/dev/null``
(the per-session form of ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE``) with the
profile lookup cut off, so a developer's ``~/.aws`` and ``AWS_PROFILE`` stay out without
touching ``os.environ``. :meth:`S3Server.aws_env` gives the same isolation to subprocesses.

Usage::

    with S3Server() as s3:
        s3.create_bucket("reports")
        s3.client().put_object(Bucket="reports", Key="k", Body=b"v")
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["REGION", "S3Server", "S3ServerError", "weed_available", "weed_binary"]

REGION = "us-east-1"

# HTTP port flags of `weed mini`; weed also binds each one's gRPC port at +10000.
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")
_GRPC_OFFSET = 10000
# Base ports and their +10000 twins both stay below Linux's ephemeral range (32768+),
# so the kernel cannot hand them to outgoing connections between our probe and weed's bind.
_PORT_RANGE = (11000, 22000)
_START_ATTEMPTS = 3
_POLL_INTERVAL = 0.05
# weed puts its gRPC unix sockets in /tmp whatever TMPDIR says; remove ours on stop.
_GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"
# Env vars weed reads as an extra identity or bucket list; the identities file must rule alone.
_WEED_ENV_DROP = ("AWS_", "S3_BUCKET")
# botocore session vars: (config key, env var, default, converter). No env var and no
# config key means neither AWS_PROFILE nor ~/.aws can leak into the harness's clients.
_ISOLATED_SESSION_VARS: dict[str, tuple[Any, Any, Any, Any]] = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
}


class S3ServerError(RuntimeError):
    """weed could not be found, started, or did not become ready."""


def weed_binary() -> Path | None:
    """The ``weed`` binary: next to the running interpreter (venv install), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def weed_available() -> bool:
    return weed_binary() is not None


def _port_free(port: int) -> bool:
    # No SO_REUSEADDR: a port in TIME_WAIT counts as taken, which errs on the safe side.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(rng: random.Random) -> dict[str, int]:
    """Free HTTP ports for every component whose gRPC twin (+10000) is free too."""
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    for component in _COMPONENTS:
        for _ in range(1000):
            port = rng.randrange(*_PORT_RANGE)
            pair = {port, port + _GRPC_OFFSET}
            if pair & taken or not all(_port_free(p) for p in pair):
                continue
            chosen[component] = port
            taken |= pair
            break
        else:
            raise S3ServerError(f"no free port pair for weed {component}")
    return chosen


def _kill(proc: subprocess.Popen[bytes], workdir: Path, ports: dict[str, int]) -> None:
    """SIGKILL weed and delete everything it wrote; data is throwaway, so no graceful stop."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)
    for component, port in ports.items():
        sock = Path(_GRPC_SOCKET.format(component=component, port=port + _GRPC_OFFSET))
        sock.unlink(missing_ok=True)


class S3Server:
    """One ``weed mini`` S3 store with auth on; start()/stop() or use it as a context manager."""

    def __init__(self, *, startup_timeout: float = 60.0) -> None:
        self.access_key: str = "AK" + secrets.token_hex(9).upper()
        self.secret_key: str = secrets.token_urlsafe(30)
        self.region: str = REGION
        self.startup_timeout = startup_timeout
        self._ports: dict[str, int] = {}
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        # Own RNG: tests that seed the global one (hypothesis) must not make xdist
        # workers pick the same ports.
        self._rng = random.SystemRandom()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if "s3" not in self._ports:
            raise S3ServerError("S3Server is not started")
        return f"http://127.0.0.1:{self._ports['s3']}"

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise S3ServerError("S3Server is not started")
        return self._workdir

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise S3ServerError("S3Server is not started")
        return self._proc.pid

    def start(self) -> S3Server:
        if self._proc is not None:
            raise S3ServerError("S3Server is already started")
        weed = weed_binary()
        if weed is None:
            raise S3ServerError("`weed` not found next to the interpreter or on PATH")
        deadline = time.monotonic() + self.startup_timeout
        last_error = ""
        for _ in range(_START_ATTEMPTS):
            self._launch(weed)
            try:
                self._wait_ready(deadline)
            except _ExitedEarly as exc:
                # Most likely another process took a port between probe and bind: retry.
                last_error = str(exc)
                self.stop()
                continue
            except BaseException:
                self.stop()
                raise
            return self
        raise S3ServerError(f"weed exited during startup {_START_ATTEMPTS} times:\n{last_error}")

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = None
        self._proc = None
        self._workdir = None
        self._ports = {}

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self, weed: Path) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="opsreport-s3-"))
        ports = _pick_ports(self._rng)
        for sub in ("data", "logs", "tmp"):
            (workdir / sub).mkdir()
        identities = {
            "identities": [
                {
                    "name": "opsreport-tests",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = workdir / "s3.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        cmd = [
            str(weed),
            f"-logdir={workdir / 'logs'}",
            "mini",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{component}.port={port}" for component, port in ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-s3.config={config}",
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            # Default locations are /tmp/seaweedfs-*-<port>.sock; keep them in our dir.
            f"-filer.localSocket={workdir / 'filer.sock'}",
            f"-s3.localSocket={workdir / 's3.sock'}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(_WEED_ENV_DROP)}
        env["TMPDIR"] = str(workdir / "tmp")
        with (workdir / "weed.log").open("wb") as log:
            proc = subprocess.Popen(
                cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self._proc, self._workdir, self._ports = proc, workdir, ports
        # Also kills weed if a test forgets stop() or the interpreter exits.
        self._finalizer = weakref.finalize(self, _kill, proc, workdir, dict(ports))

    def _wait_ready(self, deadline: float) -> None:
        """Poll /healthz, then a signed ListBuckets: only the latter proves auth is loaded."""
        assert self._proc is not None
        probe = self.client(max_attempts=1, timeout=2.0)
        healthy = False
        while True:
            if self._proc.poll() is not None:
                raise _ExitedEarly(self.log_tail())
            if not healthy:
                healthy = self._healthz()
            if healthy:
                try:
                    probe.list_buckets()
                except Exception as exc:  # any botocore error: not ready yet
                    last = repr(exc)
                else:
                    return
            else:
                last = "healthz not 200"
            if time.monotonic() > deadline:
                raise S3ServerError(
                    f"weed not ready after {self.startup_timeout}s ({last}):\n{self.log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def _healthz(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self._ports["s3"], timeout=1.0)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def log_tail(self, lines: int = 40) -> str:
        """The end of weed's stdout/stderr, for failure messages."""
        if self._workdir is None:
            return ""
        try:
            text = (self._workdir / "weed.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- clients -----------------------------------------------------------------------

    def client(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        max_attempts: int = 3,
        timeout: float = 30.0,
    ) -> BaseClient:
        """A boto3 S3 client for this store; override the keys to test auth failures."""
        import boto3.session
        import botocore.session
        from botocore.config import Config

        isolated = botocore.session.Session(session_vars=_ISOLATED_SESSION_VARS)
        session = boto3.session.Session(botocore_session=isolated)
        return session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key if access_key is None else access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                connect_timeout=timeout,
                read_timeout=timeout,
            ),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def aws_env(self) -> dict[str, str]:
        """Environment for a subprocess (e.g. the operator) that should use this store."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


class _ExitedEarly(S3ServerError):
    """weed died before becoming ready (usually a port lost to another process)."""
