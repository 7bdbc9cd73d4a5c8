"""Notebook 08's exercise: a chat with rooms that works across two worker processes.

Unlike the other exercises, this one cannot run in process: the point is that memory is
not shared between workers. ``check("redis-rooms", room_chat)`` writes the handler to an
app file (as ``pg.export`` does), starts a private Redis server and two real uvicorn
workers on loopback, and connects the scripted clients to one worker or the other with the
real ``websockets`` client. Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from ..framework import InvalidRouteError, Router
from ..runtime.deploy.export import ExportedApp, ExportError, export_app
from ..runtime.deploy.redis_server import RedisNotInstalledError, RedisServer
from ..runtime.deploy.sources import Unrecoverable
from ..runtime.deploy.workers import Workers
from .conversation import Run
from .frameworks import WSPLAY, app_file_source, endpoint_of
from .harness import PEER_HEADER
from .registry import exercise
from .report import FAIL, PASS, StepResult
from .seen import Seen

# Which worker each scripted client talks to (0 is "worker 1").
PLACEMENT = {"alice": 0, "carol": 0, "bob": 1, "dave": 1}
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)$", re.MULTILINE)


@exercise(
    "redis-rooms",
    "08",
    "rooms across workers, with Redis",
    "/room/{room}/{user}",
    """
Serve /room/{room}/{user}: the chat with rooms of notebook 05, working when its users are
spread over several worker processes. Each room is a Redis channel (e.g. f"room:{room}").
When a user connects, subscribe to their room's channel and forward everything it brings
to them; then publish "<user> joined". Publish each text of theirs as "<user>: <text>", and
"<user> left" when they leave or vanish. Read the Redis address from
os.environ["REDIS_URL"]: the check starts its own Redis and two workers.
""",
)
def _redis_rooms(run: Run) -> None:
    with tempfile.TemporaryDirectory(prefix="wsplay-check-") as folder:
        app_file = _export(run, Path(folder) / "rooms_app.py")
        if app_file is None:
            return
        try:
            redis = RedisServer.launch()
        except (RedisNotInstalledError, RuntimeError) as error:
            run.report.steps.append(
                StepResult(FAIL, "start a Redis server", "Redis running", str(error), "")
            )
            return
        try:
            _with_workers(run, app_file, redis)
        finally:
            redis.stop()


def _export(run: Run, path: Path) -> Path | None:
    step = "write your handler and what it uses to an app file, as pg.export does"
    framework, pattern = run.report.framework, run.exercise.pattern
    try:
        if framework == WSPLAY:
            exported = export_app(run.harness.app, path, "wsplay")
        else:  # the handler and what it uses to a module, served by the framework's app
            exported = _export_foreign(run.harness.app, path, framework, pattern)
    except (ExportError, Unrecoverable, InvalidRouteError, TypeError, ValueError) as error:
        hint = (
            "Define the handler, and everything it uses, at the top level of notebook cells "
            "(not inside another function), run those cells, then this check."
        )
        run.report.steps.append(StepResult(FAIL, step, "an app file", str(error), hint))
        return None
    for skipped_pattern, name, why in exported.skipped:
        if skipped_pattern == pattern:
            hint = "Define it at the top level of a cell, run that cell, then this check."
            run.report.steps.append(StepResult(FAIL, step, "an app file", f"{name}: {why}", hint))
            return None
    run.report.steps.append(StepResult(PASS, step))
    return exported.path


def _export_foreign(app: Any, path: Path, framework: str, pattern: str) -> ExportedApp:
    """For a FastAPI or Starlette handler: its module (as ``pg.export`` writes one, the
    route decorator left out) beside ``path``, and at ``path`` that framework's app."""
    handler = endpoint_of(app, pattern)
    if handler is None:
        raise ValueError(f"the app has no WebSocket route {pattern}")
    router = Router()
    router.add_ws(pattern, handler)
    module = path.with_name(f"{path.stem}_handlers.py")
    exported = export_app(router, module, "wsplay")
    name = exported.routes[0][1]  # the handler's name in its module
    path.write_text(app_file_source(framework, module.stem, name, pattern), encoding="utf-8")
    exported.path = path
    return exported


def _with_workers(run: Run, app_file: Path, redis: RedisServer) -> None:
    step = "start two workers serving the app file, with REDIS_URL set"
    workers = Workers(app_file, 2, env={"REDIS_URL": redis.url})
    try:
        workers.start()
    except (ChildProcessError, TimeoutError) as error:
        got = _last_exception(str(error)) or str(error).splitlines()[0]
        hint = (
            "The workers could not load your app file: everything the handler uses must "
            "import in a fresh Python process."
        )
        run.report.steps.append(StepResult(FAIL, step, "two workers listening", got, hint))
        return
    try:
        placed = "; ".join(
            " and ".join(name for name, number in PLACEMENT.items() if number == index)
            + f" on worker {worker.number} (pid {worker.pid}, port {worker.port})"
            for index, worker in enumerate(workers)
        )
        run.report.steps.append(StepResult(PASS, f"{step}: {placed}"))
        conversation = _WorkersRun(run, workers)
        try:
            _rooms_script(conversation)
        finally:
            conversation.leave_all()
    finally:
        workers.stop()


def _rooms_script(run: _WorkersRun) -> None:
    across = (
        "alice is on worker 1 and bob on worker 2, and each worker has its own memory: a "
        "message kept in one worker never reaches the other. Publish every message to the "
        "room's Redis channel, and forward what the channel brings to each client."
    )
    join_fix = (
        "After accept(), subscribe to the room's channel (and wait for Redis to confirm: "
        'await pubsub.get_message(timeout=5)), then publish f"{user} joined". A message '
        "published before the subscription is not delivered to it."
    )
    relay_fix = 'Publish f"{user}: {text}" to the room\'s channel for each text received.'
    rooms_fix = (
        'Use one channel per room, e.g. f"room:{room}": a user hears only their own room\'s '
        "channel."
    )
    twice = (
        "That came twice: send to clients only what the channel brings, not also "
        "directly, or the sender's worker delivers it a second time."
    )
    left_fix = (
        'When the client leaves (WebSocketDisconnectError), in a `finally:`, publish f"{user} '
        "left\" to the room's channel."
    )
    leak = {"dave": rooms_fix}
    accept_fix = "Call `await websocket.accept()` first."
    relayed = "{name}: {text}"  # how a room passes a member's text on
    run.conversation()
    run.joins("alice", "a", ["alice"], join_fix, connect_fix=accept_fix)
    run.connect("bob", "/room/a/bob")
    run.expect_texts(
        ["bob"], ["bob joined"], "bob joins room a on worker 2: bob receives 'bob joined'", join_fix
    )
    run.expect_texts(
        ["alice"], ["bob joined"], "alice, on worker 1, receives 'bob joined' too", across
    )
    run.joins("dave", "b", ["dave"], join_fix)
    relay_across = f"{relay_fix} {across}"
    alone = " (nothing from room b)"
    run.says("alice", "hi", ["alice", "bob"], relay_across, relayed=relayed, note=alone, hints=leak)
    again = {"alice: hi": twice, **leak}
    run.says("bob", "hello", ["bob", "alice"], relay_across, relayed=relayed, hints=again)
    from_a = {"bob: hello": twice, "alice": rooms_fix, "bob": rooms_fix}
    in_b = " in room b"
    run.says("dave", "anyone?", ["dave"], relay_fix, relayed=relayed, where=in_b, hints=from_a)
    run.joins("carol", "a", ["carol", "alice", "bob"], join_fix, where=" on worker 1", hints=leak)
    run.leave("bob", "bob leaves", left_fix)
    run.expect_texts(
        ["alice", "carol"], ["bob left"], "alice and carol receive 'bob left'", left_fix
    )
    run.drop("carol")
    run.expect_text(
        "alice",
        "carol left",
        "carol's connection drops (1006): alice receives 'carol left'",
        left_fix,
        hints={"bob left": "'bob left' came twice: publish the departure once."},
    )
    run.leave("alice", "alice leaves", left_fix)
    run.leave("dave", "dave leaves", left_fix)


class _WorkersRun(Run):
    """A conversation whose clients are real ``websockets`` clients of the two workers."""

    def __init__(self, run: Run, workers: Workers) -> None:
        super().__init__(
            run.exercise, run.client, run.harness, run.capture, run.report, run.timeout
        )
        self.workers = workers
        self._read = [0 for _ in workers]  # how much of each worker's log was looked at

    def _session(self, path: str, headers: dict[str, str], subprotocols: list[str]) -> Any:
        # The kernel's own client (the one pg.connect gives), to the client's worker.
        worker = self.workers[PLACEMENT.get(headers[PEER_HEADER], 0)]
        return worker.connect_sync(
            path, headers=headers, subprotocols=subprotocols, timeout=self.timeout
        )

    def drop(self, name: str) -> None:
        """``name``'s connection ends with no close frame: its worker sees 1006."""
        client = self.clients.pop(name, None)
        if not self.failed and client is not None:
            client.session.drop()

    def _explain(self, seen: Seen, fix: str, *, expected_kind: str = "") -> str:
        logged = self._worker_errors()
        if logged:
            if "connecting to" in logged.lower() or "connection refused" in logged.lower():
                return (
                    f'{logged} Read the Redis address from os.environ["REDIS_URL"] (e.g. '
                    'redis.from_url(os.environ["REDIS_URL"], decode_responses=True)): the '
                    "check's Redis is not where your code looks."
                )
            return f"{logged} {fix}"
        if seen.kind == "timeout":
            return fix  # each step's fix says what silence means here
        return super()._explain(seen, fix, expected_kind=expected_kind)

    def _worker_errors(self) -> str:
        """The last exception each worker logged since the last look, in a sentence."""
        found = []
        for index, worker in enumerate(self.workers):
            text = worker.log()
            new, self._read[index] = text[self._read[index] :], len(text)
            error = _last_exception(new)
            if error:
                found.append(f"Worker {worker.number} logged {error}.")
        return " ".join(found)


def _last_exception(text: str) -> str:
    """'ConnectionError: Error 111 ...' from the last traceback in ``text``, or ''."""
    if "Traceback" not in text:
        return ""
    tail = text[text.rindex("Traceback") :]
    matches = _EXCEPTION_LINE.findall(tail)
    if not matches:
        return ""
    kind, message = matches[-1]
    return f"{kind}: {message.strip().rstrip('.')}"
