"""What every server the test stack starts as a child process shares: its working directory, its
log, and a stop that always ends the process and cleans up."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx


class ServedProcess:
    """A server on 127.0.0.1 in a temporary directory of its own; subclasses start it."""

    LOG_NAME = "server.log"  # in the working directory

    def __init__(self) -> None:
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> Self:
        raise NotImplementedError

    def _spawn_until_ready(
        self,
        argv: Sequence[str],
        url: str,
        ready: Callable[[httpx.Response], bool],
        timeout: float,
    ) -> bool | None:
        """Start `argv`, its output in the log, and poll `url` until `ready` says so.

        True: ready. False: the process exited first (a port taken between choosing and
        binding, say); try again. None: not ready by the deadline; the process is ended.
        """
        assert self._tmp is not None
        assert self._client is not None
        log = (self._tmp / self.LOG_NAME).open("ab")
        try:
            self._proc = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                if ready(self._client.get(url, timeout=1.0)):
                    return True
            except httpx.TransportError:
                pass
            # Polling interval for a condition we cannot be notified about.
            time.sleep(0.05)
        self._terminate()
        return None

    def log_tail(self, lines: int = 30) -> str:
        if self._tmp is None:
            return ""
        log = self._tmp / self.LOG_NAME
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        self._terminate()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
