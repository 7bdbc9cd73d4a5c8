"""A real ipykernel for tests, driven with jupyter_client as a notebook front end would.

with Kernel() as kernel:
    kernel.run("import wsplay; pg = wsplay.start()")
    port = kernel.value("pg.port")
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

CELL_TIMEOUT = 30.0


class CellError(AssertionError):
    """A cell raised; the message carries the kernel's traceback."""


@dataclass
class CellResult:
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    comm_messages: list[dict[str, Any]] = field(default_factory=list)


class Kernel:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        """``env``: the kernel's whole environment (a benchmark points PYTHONPATH elsewhere)."""
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(**({} if env is None else {"env": env}))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.stray_output: list[dict[str, Any]] = []  # output of other cells, e.g. threads
        self._unread: list[dict[str, Any]] = []  # iopub messages read ahead by is_running()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def submit(self, code: str) -> str:
        """Start a cell without waiting for it (see ``wait``)."""
        return self.client.execute(code, store_history=False)

    def wait(self, msg_id: str, timeout: float = CELL_TIMEOUT, check: bool = True) -> CellResult:
        """Collect a cell's output until the kernel is idle again for it."""
        result = CellResult()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"The cell did not finish within {timeout} s")
            try:
                message = self._next_iopub(remaining)
            except queue.Empty:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "comm_msg":  # widget updates, whichever thread sent them
                result.comm_messages.append(content)
            if message["parent_header"].get("msg_id") != msg_id:
                self.stray_output.append(message)
                continue
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind == "error":
                result.error = "\n".join(content["traceback"])
            elif kind in ("display_data", "execute_result"):
                result.outputs.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if check and result.error:
            raise CellError(result.error)
        return result

    def _next_iopub(self, timeout: float) -> dict[str, Any]:
        if self._unread:
            return self._unread.pop(0)
        return self.client.get_iopub_msg(timeout=timeout)

    def is_running(self, msg_id: str) -> bool:
        """True while the cell ``msg_id`` has not finished (the kernel is not idle for it)."""
        while True:
            try:
                message = self.client.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                break
            self._unread.append(message)
        return not any(
            message["parent_header"].get("msg_id") == msg_id
            and message["msg_type"] == "status"
            and message["content"]["execution_state"] == "idle"
            for message in self._unread
        )

    def run(self, code: str, timeout: float = CELL_TIMEOUT, check: bool = True) -> CellResult:
        return self.wait(self.submit(code), timeout, check)

    def value(self, expression: str) -> Any:
        """Evaluate ``expression`` in the kernel and bring back its value as JSON."""
        out = self.run(f"import json as _json; print(_json.dumps({expression}))").stdout
        return json.loads(out.strip().splitlines()[-1])

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=False)
        else:
            # The kernel exited by itself: still close the manager's sockets and zmq
            # context, or a later garbage collection blocks in the context's term().
            self.manager.cleanup_resources()
