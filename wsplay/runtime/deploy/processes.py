"""Processes the notebook starts beside its kernel (a Redis server, app workers).

Each one is stopped for sure: by ``stop()``, by the ``with`` block it was made in, when
the kernel exits (atexit), and, on Linux, when the kernel dies without exiting (the child
asks the kernel to send it SIGTERM then, with util-linux's ``setpriv --pdeathsig``). Every
wait is bounded; a child that fails to start is reported with the end of its own log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"  # children listen on loopback only
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LOG_TAIL = 2000  # characters of a child's log quoted when it fails


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ChildProcess:
    """One child process with its output in a log file of its own."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cwd = cwd
        self.env = env
        self._directory = tempfile.mkdtemp(prefix="wsplay-")
        self.log_path = Path(self._directory, "output.log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def start(self) -> ChildProcess:
        command = self.command
        watch = shutil.which("setpriv")
        if watch and threading.current_thread() is threading.main_thread():
            # The signal comes when the thread that started the child ends: only the main
            # thread lives as long as the kernel.
            command = [watch, "--pdeathsig", "TERM", "--", *command]
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _children.add(self)
        return self

    def log(self, last: int | None = None) -> str:
        """The child's output so far (its last ``last`` characters)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-last:] if last else text

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Wait until ``ready()``; raise, with the log, if the child exits or is too slow."""
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return
            if not self.running:
                raise ChildProcessError(
                    f"{self.name} exited with code {self.returncode} before {what}. "
                    f"The end of its output:\n{self.log(LOG_TAIL).rstrip()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"{self.name} did not get to {what} within {timeout:g} s. "
                    f"The end of its output:\n{self.log(LOG_TAIL).rstrip()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns when the child is gone."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        _children.discard(self)

    def remove_log(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited ({self.returncode})"
        return f"<ChildProcess {self.name} pid {self.pid} {state}>"


_children: set[ChildProcess] = set()


@atexit.register
def _stop_children() -> None:
    for child in list(_children):
        with contextlib.suppress(Exception):
            child.stop(timeout=1)
            child.remove_log()


def child_environment(extra: dict[str, str] | None) -> dict[str, str]:
    """This process's environment with ``extra`` on top, and unbuffered Python output."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
