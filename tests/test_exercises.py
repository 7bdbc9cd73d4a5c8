"""The exercises' checker: it passes each reference solution, and tells a learner exactly
what to fix in a wrong one, without ever raising because of their handler.

The reference solutions are the files in notebooks/solutions/, as a learner would load them.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import pytest

from wsplay import (
    Application,
    Router,
    WebSocket,
    WebSocketDisconnectError,
)
from wsplay.exercises import EXERCISES, check, describe
from wsplay.framework.routing import default_router

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "notebooks" / "solutions"

# exercise -> (solution file, handler name)
REFERENCE = {
    "greet": ("01_greet.py", "greet"),
    "chat-v1": ("02_chat_v1.py", "chat_v1"),
    "calculator": ("03_calculator.py", "calc"),
    "goodbye": ("04_goodbye.py", "talk"),
    "rooms": ("05_rooms.py", "room_chat"),
    "login": ("06_login.py", "private"),
    "feed": ("07_feed.py", "feed"),
    "redis-rooms": ("08_redis_rooms.py", "room_chat"),  # two real workers and a real Redis
}


def load_solution(file_name: str) -> ModuleType:
    """Import a solution file; it registers on the default router, so undo that after."""
    before = {route.pattern.text for route in default_router}
    spec = importlib.util.spec_from_file_location(
        f"solution_{file_name[:-3]}", SOLUTIONS / file_name
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        for route in list(default_router):
            if route.pattern.text not in before:
                default_router.remove_ws(route.pattern.text)
    return module


def failing_lines(report) -> list[str]:
    return [line for line in str(report).splitlines() if line.startswith("✗")]


def first_failure(report) -> str:
    lines = failing_lines(report)
    assert lines, f"expected a failing step in:\n{report}"
    return lines[0]


# --- every exercise: the reference passes ---------------------------------------------------
def test_every_exercise_has_a_reference_solution() -> None:
    assert set(REFERENCE) == set(EXERCISES)
    assert [EXERCISES[name].notebook for name in EXERCISES] == [
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "07",
        "08",
    ]


@pytest.mark.parametrize("exercise", list(REFERENCE))
def test_the_reference_solution_passes(exercise: str) -> None:
    file_name, handler = REFERENCE[exercise]
    report = check(exercise, getattr(load_solution(file_name), handler))
    assert report.passed, str(report)
    assert report.steps and not failing_lines(report)
    assert str(report).startswith(f"Exercise {exercise!r}")
    assert "passed" in str(report).splitlines()[0]


@pytest.mark.parametrize("exercise", list(REFERENCE))
def test_the_check_passes_again_with_the_same_handler(exercise: str) -> None:
    """A learner re-runs the check: leftovers of the first run must not break the second."""
    file_name, handler = REFERENCE[exercise]
    solution = getattr(load_solution(file_name), handler)
    assert check(exercise, solution).passed
    assert check(exercise, solution).passed


def test_a_solution_served_by_an_application_or_router_passes() -> None:
    greet = load_solution("01_greet.py").greet
    router = Router()
    router.add_ws("/greet/{name}", greet)
    assert check("greet", router).passed
    assert check("greet", Application(router=router)).passed


def test_describe_says_what_an_exercise_asks() -> None:
    text = describe("greet")
    assert "/greet/{name}" in text and "Hello, {name}!" in text
    assert "notebook 01" in text


# --- 01 greet -------------------------------------------------------------------------------
async def greet_without_comma(websocket: WebSocket, name: str):
    await websocket.accept()
    await websocket.send_text(f"Hello {name}")


async def greet_stub(websocket: WebSocket, name: str): ...


async def greet_wrong_parameter(websocket: WebSocket, who: str):
    await websocket.accept()
    await websocket.send_text(f"Hello, {who}!")


async def greet_before_accept(websocket: WebSocket, name: str):
    await websocket.send_text(f"Hello, {name}!")


async def greet_returns_early(websocket: WebSocket, name: str):
    await websocket.accept()


def greet_not_async(websocket: WebSocket, name: str):
    pass


def test_greet_shows_the_text_expected_and_the_text_received() -> None:
    report = check("greet", greet_without_comma)
    assert not report.passed
    line = first_failure(report)
    assert "expected text 'Hello, Ada!', got text 'Hello Ada'" in line
    assert 'send_text(f"Hello, {name}!")' in line


def test_greet_without_accept_reports_the_refused_handshake_and_why() -> None:
    line = first_failure(check("greet", greet_stub))
    assert "got the handshake refused (HTTP 403)" in line
    assert "returned without calling `await websocket.accept()`" in line

    line = first_failure(check("greet", greet_before_accept))
    assert "InvalidWebSocketStateError" in line
    assert "must call `await websocket.accept()` before it sends" in line
    assert "greet_before_accept()" in line  # where, in the learner's code


def test_greet_with_a_parameter_not_named_as_the_route_says_which_name() -> None:
    line = first_failure(check("greet", greet_wrong_parameter))
    hint = line.split("Hint: ", 1)[1]
    assert hint.startswith("Name greet_wrong_parameter()'s parameter `name`, as the route ")
    assert "takes `who`, which the route does not give" in hint


def test_greet_that_returns_before_sending_says_so() -> None:
    line = first_failure(check("greet", greet_returns_early))
    assert "got a close 1000 (Normal Closure)" in line
    assert "returned" in line and "before sending" in line


def test_greet_not_async_is_reported_with_the_first_line_to_write() -> None:
    report = check("greet", greet_not_async)
    assert not report.passed
    line = first_failure(report)
    assert "InvalidRouteError" in line and "is not `async def`" in line
    assert "`async def greet_not_async(websocket: WebSocket, name: str):`" in line


def test_greet_on_another_route_lists_the_routes_the_app_has() -> None:
    router = Router()
    router.add_ws("/hello/{name}", greet_without_comma)
    line = first_failure(check("greet", router))
    assert "No WebSocket route matches /greet/Ada" in line
    assert "Known routes: /hello/{name}" in line


@pytest.mark.parametrize("solution", [None, "greet", 42])
def test_something_that_is_not_a_handler_is_reported(solution: object) -> None:
    report = check("greet", solution)
    assert not report.passed
    assert "pass the handler function itself" in first_failure(report)


def test_an_unknown_exercise_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="There is no exercise 'nope'; the exercises are"):
        check("nope", greet_stub)


def test_a_hanging_handler_is_reported_within_the_timeout() -> None:
    async def greet_waits_forever(websocket: WebSocket, name: str):
        await websocket.accept()
        await asyncio.Event().wait()

    started = time.monotonic()
    report = check("greet", greet_waits_forever, timeout=0.5)
    assert time.monotonic() - started < 10
    line = first_failure(report)
    assert "got nothing within 0.5 s" in line
    assert "Your handler sent nothing back" in line


def test_a_handler_that_blocks_the_event_loop_is_reported_not_raised() -> None:
    async def greet_sleeps(websocket: WebSocket, name: str):
        await websocket.accept()
        time.sleep(1.5)  # noqa: ASYNC251 - the mistake under test: it blocks the loop

    started = time.monotonic()
    line = first_failure(check("greet", greet_sleeps, timeout=0.2))
    assert time.monotonic() - started < 15
    assert "got nothing within 0.2 s" in line
    assert "blocked by a call that is not awaited (e.g. time.sleep)" in line


def test_a_handler_that_exits_is_reported_not_raised() -> None:
    async def greet_exits(websocket: WebSocket, name: str):
        raise SystemExit(3)

    line = first_failure(check("greet", greet_exits))
    assert "your handler raised SystemExit(3), which would stop the whole server" in line


# --- 02 chat-v1 -----------------------------------------------------------------------------
async def chat_accepts_first_offered(websocket: WebSocket):
    offered = websocket.subprotocols
    await websocket.accept(subprotocol=offered[0] if offered else None)


async def chat_refuses_instead_of_closing(websocket: WebSocket):
    if "chat.v1" not in websocket.subprotocols:
        await websocket.close(4003, "chat.v1 required")
        return
    await websocket.accept(subprotocol="chat.v1")


async def chat_always_v1(websocket: WebSocket):
    await websocket.accept(subprotocol="chat.v1")


async def chat_closes_without_reason(websocket: WebSocket):
    if "chat.v1" not in websocket.subprotocols:
        await websocket.accept()
        await websocket.close(4003)
        return
    await websocket.accept(subprotocol="chat.v1")


def test_chat_choosing_the_clients_first_choice_is_caught() -> None:
    line = first_failure(check("chat-v1", chat_accepts_first_offered))
    assert "offering ['chat.v2', 'chat.v1']" in line
    assert "expected the connection accepted with subprotocol 'chat.v1'" in line
    assert "got the connection accepted with subprotocol 'chat.v2'" in line


def test_chat_refusing_the_handshake_is_told_to_accept_then_close() -> None:
    line = first_failure(check("chat-v1", chat_refuses_instead_of_closing))
    assert "got the handshake refused (HTTP 403)" in line
    assert "A close before accept() refuses the handshake" in line
    assert 'close(4003, "chat.v1 required")' in line


def test_chat_accepting_a_subprotocol_not_offered_shows_the_error() -> None:
    line = first_failure(check("chat-v1", chat_always_v1))
    assert "Cannot accept with subprotocol 'chat.v1': the client did not offer it" in line
    assert "chat_always_v1()" in line


def test_chat_closing_without_a_reason_is_caught() -> None:
    line = first_failure(check("chat-v1", chat_closes_without_reason))
    assert "expected a close 4003 (Application) with a reason" in line
    assert "got a close 4003 (Application) with no reason" in line


# --- 03 calculator --------------------------------------------------------------------------
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


async def calc_answers_text(websocket: WebSocket):
    await websocket.accept()
    while True:
        request = await websocket.receive_json()
        await websocket.send_text(str({"result": OPS[request["op"]](request["a"], request["b"])}))


async def calc_crashes_on_errors(websocket: WebSocket):
    await websocket.accept()
    while True:
        request = await websocket.receive_json()
        await websocket.send_json({"result": OPS[request["op"]](request["a"], request["b"])})


async def calc_text_frames_only(websocket: WebSocket):
    await websocket.accept()
    while True:
        request = await websocket.receive_json()
        try:
            answer = {"result": OPS[request["op"]](request["a"], request["b"])}
        except (KeyError, ZeroDivisionError) as error:
            answer = {"error": str(error)}
        await websocket.send_json(answer)


async def calc_answers_binary_in_text(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        request = json.loads(message.get("text") or message.get("bytes"))
        try:
            answer = {"result": OPS[request["op"]](request["a"], request["b"])}
        except (KeyError, ZeroDivisionError) as error:
            answer = {"error": str(error)}
        await websocket.send_json(answer)


def test_calculator_answering_python_repr_is_told_to_send_json() -> None:
    line = first_failure(check("calculator", calc_answers_text))
    assert 'expected JSON {"result": 5} in a text frame' in line
    assert "got text \"{'result': 5}\", which is not JSON" in line
    assert "send_json" in line


def test_calculator_crashing_on_division_by_zero_shows_the_crash_and_the_fix() -> None:
    report = check("calculator", calc_crashes_on_errors)
    line = first_failure(report)
    assert '{"op": "div", "a": 1, "b": 0} → an error' in line
    assert "got a close 1011 (Internal Error) with reason 'division by zero'" in line
    assert "Your handler raised ZeroDivisionError: division by zero" in line
    assert 'Answer `{"error": "..."}` instead of raising' in line
    # the arithmetic conversation still ran and passed
    assert '✓ {"op": "div", "a": 7, "b": 2} → {"result": 3.5}' in str(report)


def test_calculator_reading_text_only_is_told_about_binary_frames() -> None:
    line = first_failure(check("calculator", calc_text_frames_only))
    assert "in a binary frame" in line
    assert "receive_text() expected a text frame but the client sent a binary frame" in line
    assert "mode=MessageMode.BYTES" in line


def test_calculator_answering_a_binary_request_in_text_is_caught() -> None:
    line = first_failure(check("calculator", calc_answers_binary_in_text))
    assert "got text '{\"result\":42}'" in line
    assert "This needs a binary frame, not a text frame" in line


# --- 04 goodbye -----------------------------------------------------------------------------
async def talk_plain_echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())


async def talk_keeps_going_after_disconnect(websocket: WebSocket):
    await websocket.accept()
    while True:
        try:
            message = await websocket.receive()
        except WebSocketDisconnectError:
            continue
        if message.get("text") is None:
            await websocket.close(1003)
            return
        if message["text"] == "bye":
            await websocket.close(4000, "goodbye")
            return
        await websocket.send_text(message["text"])


async def talk_wrong_reason(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message.get("text") is None:
            await websocket.close(1003)
            return
        if message["text"] == "bye":
            await websocket.close(4000, "bye")
            return
        await websocket.send_text(message["text"])


async def talk_sleeps_after_disconnect(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message.get("text") is None:
                await websocket.close(1003)
                return
            if message["text"] == "bye":
                await websocket.close(4000, "goodbye")
                return
            await websocket.send_text(message["text"])
    except WebSocketDisconnectError:
        await asyncio.Event().wait()


def test_goodbye_plain_echo_is_told_to_close_with_4000_and_1003() -> None:
    report = check("goodbye", talk_plain_echo)
    lines = failing_lines(report)
    assert "expected a close 4000 (Application) with reason 'goodbye', got text 'bye'" in lines[0]
    assert 'close(4000, "goodbye")' in lines[0]
    assert "expected a close 1003 (Unsupported Data), got a close 1011 (Internal Error)" in lines[1]
    assert "`await websocket.close(1003, ...)`" in lines[1]


def test_goodbye_receiving_after_the_client_left_is_caught() -> None:
    line = first_failure(check("goodbye", talk_keeps_going_after_disconnect))
    assert "client closes with 1000; the handler ends quietly" in line
    assert "InvalidWebSocketStateError" in line
    assert "Stop (return) when WebSocketDisconnectError arrives" in line


def test_goodbye_with_the_wrong_reason_shows_both_reasons() -> None:
    line = first_failure(check("goodbye", talk_wrong_reason))
    assert "expected a close 4000 (Application) with reason 'goodbye'" in line
    assert "got a close 4000 (Application) with reason 'bye'" in line


def test_goodbye_handler_that_never_ends_is_reported() -> None:
    line = first_failure(check("goodbye", talk_sleeps_after_disconnect, timeout=0.3))
    assert "it was still running 0.3 s after client left" in line
    assert "except WebSocketDisconnectError: return" in line


# --- 05 rooms -------------------------------------------------------------------------------
def make_one_room_for_all():
    members: dict[str, WebSocket] = {}

    async def handler(websocket: WebSocket, room: str, user: str):
        await websocket.accept()
        members[user] = websocket
        for peer in list(members.values()):
            await peer.send_text(f"{user} joined")
        try:
            while True:
                text = await websocket.receive_text()
                for peer in list(members.values()):
                    await peer.send_text(f"{user}: {text}")
        except WebSocketDisconnectError:
            pass
        finally:
            members.pop(user, None)

    return handler


def make_naive_broadcast():
    rooms: dict[str, dict[str, WebSocket]] = {}

    async def handler(websocket: WebSocket, room: str, user: str):
        await websocket.accept()
        members = rooms.setdefault(room, {})
        members[user] = websocket
        for peer in list(members.values()):
            await peer.send_text(f"{user} joined")
        try:
            while True:
                text = await websocket.receive_text()
                for peer in list(members.values()):
                    await peer.send_text(f"{user}: {text}")  # a vanished peer raises here
        finally:
            members.pop(user, None)
            for peer in list(members.values()):
                await peer.send_text(f"{user} left")

    return handler


def make_announces_twice():
    rooms: dict[str, dict[str, WebSocket]] = {}

    async def handler(websocket: WebSocket, room: str, user: str):
        await websocket.accept()
        members = rooms.setdefault(room, {})
        members[user] = websocket

        async def broadcast(text: str) -> None:
            for name, peer in list(members.items()):
                try:
                    await peer.send_text(text)
                except WebSocketDisconnectError:
                    members.pop(name, None)
                    await broadcast(f"{name} left")

        await broadcast(f"{user} joined")
        try:
            while True:
                await broadcast(f"{user}: {await websocket.receive_text()}")
        except WebSocketDisconnectError:
            pass
        finally:
            members.pop(user, None)
            await broadcast(f"{user} left")  # even when a broadcast already said so

    return handler


def test_rooms_without_separate_rooms_is_told_to_keep_one_dict_per_room() -> None:
    line = first_failure(check("rooms", make_one_room_for_all()))
    assert "expected text 'dave: hello b', got text 'alice joined'" in line
    assert "Keep one dict of members per room" in line


def test_rooms_with_a_broadcast_that_breaks_on_a_vanished_member_is_caught() -> None:
    report = check("rooms", make_naive_broadcast(), timeout=1)
    line = first_failure(report)
    assert line.startswith("✗ carol vanishes as alice says 'anyone?'")
    assert "expected alice receives 'alice: anyone?' and 'carol left' (any order)" in line
    assert "raises WebSocketDisconnectError in the *sender's* handler" in line
    assert "✓ carol joins room a: carol, alice and bob receive 'carol joined'" in str(report)


def test_rooms_announcing_a_departure_twice_is_caught() -> None:
    line = first_failure(check("rooms", make_announces_twice()))
    assert "expected text 'alice left', got text 'carol left'" in line
    assert "'carol left' came twice" in line


# --- the report -----------------------------------------------------------------------------
def test_the_report_has_one_line_per_step_and_an_html_table() -> None:
    report = check("calculator", calc_crashes_on_errors)
    lines = str(report).splitlines()
    assert len(lines) == 1 + len(report.steps)
    assert {line[0] for line in lines[1:]} <= {"✓", "✗", "–"}
    assert any(line.startswith("– ") and "not run" in line for line in lines)
    assert repr(report) == str(report)
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(report.steps)
    assert "✗" in page and "division by zero" in page
    assert "&quot;error&quot;" in page  # escaped


def test_a_passing_report_has_no_failures() -> None:
    report = check("greet", load_solution("01_greet.py").greet)
    assert report.passed and report.failures == []
    assert all(step.status == "pass" for step in report.steps)


def test_the_checker_keeps_the_handlers_errors_out_of_the_log(caplog) -> None:
    with caplog.at_level("DEBUG", logger="wsplay"):
        check("calculator", calc_crashes_on_errors)
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def _wsplay_imports(module: str) -> set[str]:
    """The wsplay modules outside the exercises package that ``wsplay/exercises/<module>.py``
    imports (``framework``, ``testing``, ``runtime``...)."""
    source = (ROOT / "wsplay" / "exercises" / f"{module}.py").read_text()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 2:
            found.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
            names = (
                [node.module]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
            )
            assert not any(name and name.startswith("wsplay") for name in names)
    return found


def test_exercises_import_only_the_framework_and_the_test_client() -> None:
    """The in-process checker needs no server; the exercise of notebook 08 (a module of its
    own) needs the runtime: real workers and a real Redis."""
    package = ROOT / "wsplay" / "exercises"
    modules = sorted(path.stem for path in package.glob("*.py"))
    for module in modules:
        allowed = {"framework", "testing"} | ({"runtime"} if module == "redis_rooms" else set())
        assert _wsplay_imports(module) <= allowed, module
    assert "runtime" in _wsplay_imports("redis_rooms")
    assert "testing" in _wsplay_imports("checking")


def test_no_module_of_the_exercises_is_over_400_lines() -> None:
    for path in (ROOT / "wsplay" / "exercises").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name


async def calculator_echoing_a(websocket: WebSocket):
    """Reads and answers as asked, but computes the wrong value."""
    await websocket.accept()
    while True:
        request = await websocket.receive_json()
        await websocket.send_json({"result": request["a"]})


def test_an_answer_of_the_right_shape_names_the_wrong_value_not_how_to_read() -> None:
    report = check("calculator", calculator_echoing_a)
    hint = first_failure(report).split("Hint: ", 1)[1]
    assert hint == (
        "Check how the handler computes `result` from the request: the answer has the right "
        "keys, but `result` should be 5, not 2."
    )
    total, skipped = len(report.steps), sum(step.status == "skip" for step in report.steps)
    headline = str(report).splitlines()[0]
    assert f"3 of {total} steps passed ({skipped} not run after a ✗)" in headline
