"""The exercises, written for FastAPI: each FastAPI reference solution (notebooks/solutions/
fastapi/) passes, each wrong one below gets the advice that fixes it in FastAPI's words, and
a handler for Starlette runs on Starlette. As a FastAPI learner would, the handlers are
passed to ``check`` as functions, not as an app.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as redis
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect

from tests.kernel import Kernel
from tests.test_exercises import ROOT, SOLUTIONS, failing_lines, first_failure, load_solution
from wsplay.exercises import EXERCISES, check
from wsplay.exercises.frameworks import FASTAPI, WSPLAY, framework_of
from wsplay.exercises.words import STARLETTE_WORDS

# exercise -> (solution file in notebooks/solutions/fastapi/, handler name)
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

app = FastAPI()  # the learner's app: its handlers are checked one by one
TOKENS = {"t-ada": "ada", "t-bob": "bob"}


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


# --- 02 chat-v1 -----------------------------------------------------------------------------
async def chat_accepts_first_offered(websocket: WebSocket):
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol=offered[0] if offered else None)


async def chat_refuses_instead_of_closing(websocket: WebSocket):
    if "chat.v1" not in websocket.scope["subprotocols"]:
        await websocket.close(4003, "chat.v1 required")
        return
    await websocket.accept(subprotocol="chat.v1")


async def chat_closes_without_reason(websocket: WebSocket):
    if "chat.v1" not in websocket.scope["subprotocols"]:
        await websocket.accept()
        await websocket.close(4003)
        return
    await websocket.accept(subprotocol="chat.v1")


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
        if message["type"] == "websocket.disconnect":
            return
        request = json.loads(message.get("text") or message.get("bytes"))
        try:
            answer = {"result": OPS[request["op"]](request["a"], request["b"])}
        except (KeyError, ZeroDivisionError) as error:
            answer = {"error": str(error)}
        await websocket.send_json(answer)


# --- 04 goodbye -----------------------------------------------------------------------------
async def talk_plain_echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())


async def talk_keeps_going_after_disconnect(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            continue  # ... and receives again from a client that has gone
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
        if message["type"] == "websocket.disconnect":
            return
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
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(4000, "goodbye")
                return
            await websocket.send_text(text)
    except WebSocketDisconnect:
        await asyncio.Event().wait()
    except KeyError:
        await websocket.close(1003)


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
        except WebSocketDisconnect:
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


# --- 06 login -------------------------------------------------------------------------------
async def login_query_only(websocket: WebSocket, token: str = ""):
    await websocket.accept()
    user = TOKENS.get(token)
    if user is None:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {user}")


async def login_without_origin_check(websocket: WebSocket):
    await websocket.accept()
    token = websocket.query_params.get("token") or websocket.cookies.get("session")
    if token is None:
        try:
            token = (await asyncio.wait_for(websocket.receive_json(), 1)).get("token")
        except TimeoutError:
            await websocket.close(4001, "log in first")
            return
    if token not in TOKENS:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {TOKENS[token]}")


async def login_reads_an_authorization_header(websocket: WebSocket):
    await websocket.accept()
    user = TOKENS.get(websocket.headers.get("authorization", "").removeprefix("Bearer "))
    if user is None:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {user}")


# --- 07 feed --------------------------------------------------------------------------------
everyone: set[WebSocket] = set()


async def feed_unguarded(websocket: WebSocket):
    await websocket.accept()
    everyone.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for peer in list(everyone):
                await peer.send_text(text)  # waits for ever on a client that stopped reading
    except WebSocketDisconnect:
        pass
    finally:
        everyone.discard(websocket)


members: set[WebSocket] = set()


async def feed_never_forgets(websocket: WebSocket):
    await websocket.accept()
    members.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            if len(text.encode()) > 65_536:
                await websocket.close(1009, "too big")
                return
            for peer in list(members):
                try:
                    await asyncio.wait_for(peer.send_text(text), 1)
                except TimeoutError:
                    await peer.close(1008, "too slow")  # ... but stays in members
    except WebSocketDisconnect:
        pass


listeners: set[WebSocket] = set()


async def feed_without_a_size_limit(websocket: WebSocket):
    await websocket.accept()
    listeners.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for peer in list(listeners):
                try:
                    await asyncio.wait_for(peer.send_text(text), 1)
                except TimeoutError:
                    listeners.discard(peer)
                    await peer.close(1008, "too slow")
    except WebSocketDisconnect:
        pass
    finally:
        listeners.discard(websocket)


# --- every exercise: the FastAPI reference passes, on FastAPI -------------------------------
def fastapi_solution(exercise: str) -> tuple[Callable[..., Any], FastAPI]:
    """The reference handler, and the FastAPI app its module serves it on."""
    file_name, handler = REFERENCE[exercise]
    module = load_solution(f"fastapi/{file_name}")
    return getattr(module, handler), module.app


def test_every_exercise_has_a_fastapi_reference_solution() -> None:
    assert set(REFERENCE) == set(EXERCISES)
    for file_name, _ in REFERENCE.values():
        assert "from fastapi import" in (SOLUTIONS / "fastapi" / file_name).read_text()


@pytest.mark.parametrize("exercise", list(REFERENCE))
def test_the_fastapi_reference_solution_passes(exercise: str) -> None:
    """Passed as the handler function, as a learner would, and as the app that serves it."""
    for solution in fastapi_solution(exercise):
        report = check(exercise, solution)
        assert report.passed, str(report)
        assert report.framework == FASTAPI
        assert str(report).startswith(f"Exercise {exercise!r} (")
        assert ", on FastAPI): passed" in str(report).splitlines()[0]


def test_a_wsplay_handler_still_runs_on_wsplay_beside_fastapi() -> None:
    greet = load_solution("01_greet.py").greet
    assert framework_of(greet) == WSPLAY
    report = check("greet", greet)
    assert report.passed and "on FastAPI" not in str(report)


# --- the wrong ones: the advice, in FastAPI's words ------------------------------------------
WRONG: list[tuple[str, Callable[..., Any], str, list[str]]] = [
    # (exercise, handler, the failing step it shows first, what that line says)
    (
        "greet",
        greet_without_comma,
        "client receives 'Hello, Ada!'",
        ["expected text 'Hello, Ada!', got text 'Hello Ada'", 'send_text(f"Hello, {name}!")'],
    ),
    (
        "greet",
        greet_stub,
        "client connects to /greet/Ada",
        [
            "got the handshake refused (HTTP 500)",
            "returned without calling `await websocket.accept()`",
            "@app.websocket('/greet/{name}')",
        ],
    ),
    (
        "greet",
        greet_wrong_parameter,
        "client connects to /greet/Ada",
        [
            "FastAPI refused the connection (close 1008)",
            "could not fill the parameter `who` (query: Field required)",
            "passes its values to the parameters named `name`",
        ],
    ),
    (
        "greet",
        greet_before_accept,
        "client connects to /greet/Ada",
        ["RuntimeError: Expected ASGI message", "greet_before_accept()", "accept()` first"],
    ),
    (
        "greet",
        greet_returns_early,
        "client receives 'Hello, Ada!'",
        ["got a close 1000 (Normal Closure)", "returned (the server then closes with 1000)"],
    ),
    (
        "chat-v1",
        chat_accepts_first_offered,
        "client connects to /chat, offering ['chat.v2', 'chat.v1']",
        [
            "got the connection accepted with subprotocol 'chat.v2'",
            'when "chat.v1" is in websocket.scope["subprotocols"]',
        ],
    ),
    (
        "chat-v1",
        chat_refuses_instead_of_closing,
        "client connects to /chat",
        ["got the handshake refused (HTTP 403)", "A close before accept() refuses the handshake"],
    ),
    (
        "chat-v1",
        chat_closes_without_reason,
        "then closed with 4003 and a reason",
        ["got a close 4003 (Application) with no reason"],
    ),
    (
        "calculator",
        calc_answers_text,
        '{"op": "add", "a": 2, "b": 3} → {"result": 5}',
        ["got text \"{'result': 5}\", which is not JSON", "send_json"],
    ),
    (
        "calculator",
        calc_crashes_on_errors,
        '{"op": "div", "a": 1, "b": 0} → an error',
        [
            "got a close 1011 (Internal Error)",
            "Your handler raised ZeroDivisionError: division by zero",
            'Answer `{"error": "..."}` instead of raising',
        ],
    ),
    (
        "calculator",
        calc_text_frames_only,
        '{"op": "mul", "a": 6, "b": 7} in a binary frame',
        [
            "KeyError: 'text' (line",
            "calc_text_frames_only(): `request = await websocket.receive_json()`",
            'is "websocket.disconnect" when the client has left',
            'send_json(answer, mode="binary")` (or `await websocket.send_bytes(json.dumps(',
        ],
    ),
    (
        "calculator",
        calc_answers_binary_in_text,
        '{"op": "mul", "a": 6, "b": 7} in a binary frame',
        ["got text '{\"result\":42}'", "This needs a binary frame, not a text frame"],
    ),
    (
        "goodbye",
        talk_plain_echo,
        "'bye' → a close 4000 with reason 'goodbye'",
        ["got text 'bye'", 'close(4000, "goodbye")'],
    ),
    (
        "goodbye",
        talk_keeps_going_after_disconnect,
        "client closes with 1000; the handler ends quietly",
        [
            'Cannot call "receive" once a disconnect message has been received',
            "The client has gone: the handler can neither send nor receive any more",
            "Stop (return) when WebSocketDisconnect arrives",
        ],
    ),
    (
        "goodbye",
        talk_wrong_reason,
        "'bye' → a close 4000 with reason 'goodbye'",
        ["got a close 4000 (Application) with reason 'bye'"],
    ),
    (
        "goodbye",
        talk_sleeps_after_disconnect,
        "client closes with 1000; the handler ends quietly",
        [
            "still running 0.5 s after client left (does it catch WebSocketDisconnect and",
            "except WebSocketDisconnect: return",
        ],
    ),
    (
        "rooms",
        make_one_room_for_all(),
        "dave says 'hello b'",
        ["got text 'alice joined'", "Keep one dict of members per room"],
    ),
    (
        "rooms",
        make_naive_broadcast(),
        "carol vanishes as alice says 'anyone?'",
        ["raises WebSocketDisconnect in the *sender's* handler"],
    ),
    (
        "login",
        login_query_only,
        "a token in the cookie: 'welcome bob'",
        ["got a close 4001", 'websocket.cookies.get("session")'],
    ),
    (
        "login",
        login_without_origin_check,
        "a page of https://evil.example, with bob's cookie",
        [
            "got the connection accepted",
            '`origin = websocket.headers.get("origin")`',
            "is not 'http://localhost:8888'",
            "cross-site WebSocket hijacking",
        ],
    ),
    (
        "login",
        login_reads_an_authorization_header,
        "a token in the query: 'welcome ada'",
        ['`token = websocket.query_params.get("token")`'],
    ),
    (
        "feed",
        feed_unguarded,
        ("carol stops reading; bob says 'still there?'", "carol is closed with 1008"),
        ["got nothing within", "asyncio.wait_for(peer.send_text(text), 1)"],
    ),
    (
        "feed",
        feed_never_forgets,
        ("alice says 'after carol'", "alice says 'and again'"),
        ['RuntimeError: Cannot call "send" once a close ...)', "remove her from the set"],
    ),
    (
        "feed",
        feed_without_a_size_limit,
        "bob sends 70,000 characters: bob is closed with 1009",
        ["len(text.encode()) > 65536"],
    ),
]
TIMEOUTS = {talk_sleeps_after_disconnect: 0.5}


@pytest.mark.parametrize(
    ("exercise", "handler", "step", "said"),
    WRONG,
    ids=[
        f"{exercise}-{handler.__name__}-{number}"
        for number, (exercise, handler, *_) in enumerate(WRONG)
    ],
)
def test_a_wrong_fastapi_handler_gets_the_fix_in_fastapis_words(
    exercise: str, handler: Callable[..., Any], step: str | tuple[str, ...], said: list[str]
) -> None:
    report = check(
        exercise, handler, **({"timeout": TIMEOUTS[handler]} if handler in TIMEOUTS else {})
    )
    assert report.framework == FASTAPI and not report.passed
    line = first_failure(report)
    if exercise == "goodbye" and "quietly" in str(step):  # after the close 1003 step's ✗
        line = next(line for line in failing_lines(report) if str(step) in line)
    assert line.startswith(
        tuple(f"✗ {start}" for start in ([step] if isinstance(step, str) else step))
    ), line
    for text in said:
        assert text in line, f"{text!r} not in {line!r}"
    wsplay_only = [
        phrase
        for phrase, replacement in STARLETTE_WORDS
        if phrase in str(report).replace(replacement, "")
    ]
    assert not wsplay_only, f"wsplay's words {wsplay_only} in a FastAPI report:\n{report}"


# --- 08 redis-rooms: a FastAPI handler exported and served by two FastAPI workers ----------
hub = redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
# As in tests/test_exercise_redis_rooms.py, the wrong handler differs from the solution in how
# it uses Redis, not in how it relays a channel to its client: it uses the solution's forward.
forward = load_solution("fastapi/08_redis_rooms.py").forward


@app.websocket("/room/{room}/{user}")
async def rooms_one_channel(websocket: WebSocket, room: str, user: str):
    await websocket.accept()
    async with hub.pubsub() as pubsub:
        await pubsub.subscribe("chat")  # one channel for every room
        await pubsub.get_message(timeout=5)
        relay = asyncio.create_task(forward(pubsub, websocket))
        await hub.publish("chat", f"{user} joined")
        try:
            while True:
                await hub.publish("chat", f"{user}: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            pass
        finally:
            relay.cancel()
            await hub.publish("chat", f"{user} left")


def test_a_fastapi_handler_with_one_channel_for_every_room_is_told_to_use_one_per_room() -> None:
    report = check("redis-rooms", rooms_one_channel)
    assert report.framework == FASTAPI
    assert "✓ start two workers serving the app file" in str(report)
    line = first_failure(report)
    assert "alice says 'hi'" in line and "'dave joined'" in line
    assert "one channel per room" in line


# --- which framework runs the handler --------------------------------------------------------
async def greet_with_a_dependency(
    websocket: WebSocket, name: str, prefix: str = Depends(lambda: "Hello")
):
    await websocket.accept()
    await websocket.send_text(f"{prefix}, {name}!")


def test_fastapi_parameters_are_filled_by_fastapi() -> None:
    """Route parameters, a Depends: only FastAPI fills them."""
    assert framework_of(greet_with_a_dependency) == FASTAPI
    assert check("greet", greet_with_a_dependency).passed


def test_a_fastapi_handler_where_fastapi_is_missing_is_told_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # `import fastapi` now fails
    report = check("greet", greet_with_a_dependency)
    assert len(report.steps) == 1
    line = first_failure(report)
    assert line.startswith("✗ serve your handler on /greet/{name}: expected FastAPI installed")
    assert "written for FastAPI, which is not installed here: run `%pip install fastapi`" in line


def test_a_starlette_handler_runs_on_starlette_and_fastapi_stays_unimported() -> None:
    """In a fresh interpreter: a handler for Starlette (path parameters from
    websocket.path_params) runs on Starlette, without importing FastAPI; one for wsplay
    imports neither."""
    script = textwrap.dedent(
        """
        import sys
        from starlette.websockets import WebSocket, WebSocketDisconnect
        from wsplay.exercises import check

        async def greet(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text(f"Hello, {websocket.path_params['name']}!")

        report = check("greet", greet)
        assert report.passed, str(report)
        assert report.framework == "Starlette", report.framework
        assert "on Starlette" in str(report).splitlines()[0]
        assert "fastapi" not in sys.modules

        async def talk(websocket: WebSocket):
            await websocket.accept()
            while True:
                await websocket.send_text(await websocket.receive_text())

        lines = str(check("goodbye", talk)).splitlines()
        line = [line for line in lines if line.startswith("✗")][1]
        assert "KeyError: 'text'" in line and "MessageMode" not in line, line
        print("ok")
        """
    )
    wsplay_only = textwrap.dedent(
        """
        import sys
        from wsplay import WebSocket
        from wsplay.exercises import check

        async def greet(websocket: WebSocket, name: str):
            await websocket.accept()
            await websocket.send_text(f"Hello, {name}!")

        assert check("greet", greet).passed
        assert not {"fastapi", "starlette"} & set(sys.modules), sorted(sys.modules)
        print("ok")
        """
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for code in (script, wsplay_only):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
        )
        assert done.stdout.strip() == "ok", done.stdout + done.stderr
    assert framework_of(talk_plain_echo) == FASTAPI  # this module uses FastAPI


LOGIN_CELL = """
@app.websocket("/private")
async def private(websocket: WebSocket):
    origin = websocket.headers.get("origin")
    if origin is not None and origin != "http://localhost:8888":
        await websocket.close()
        return
    await websocket.accept()
    token = websocket.query_params.get("token") or websocket.cookies.get("session")
    if token is None:
        try:
            token = (await asyncio.wait_for(websocket.receive_json(), 1)).get("token")
        except TimeoutError:
            await websocket.close(4001, "log in first")
            return
    if token not in {"t-ada": "ada", "t-bob": "bob"}:
        await websocket.close(4001, "unknown token")
        return
    await websocket.send_text(f"welcome {token[2:]}")
"""


def test_fastapi_handlers_typed_in_notebook_cells_are_checked_on_fastapi() -> None:
    """The learner's path, in a real kernel: the issue's login handler (it reads
    websocket.query_params) and the Redis rooms of notebook 08, each under
    ``@app.websocket``, typed in cells and checked as functions."""
    solution = (SOLUTIONS / "fastapi" / "08_redis_rooms.py").read_text()
    imports, _, rest = solution.partition("app = FastAPI()")
    with Kernel() as kernel:
        kernel.run(imports + "\nimport asyncio")
        kernel.run("app = FastAPI()" + rest)  # the handlers in a later cell than the imports
        kernel.run(LOGIN_CELL)
        shown = kernel.run(
            "from wsplay.exercises import check\n"
            'print(check("login", private))\n'
            'print(check("redis-rooms", room_chat))'
        ).stdout
    login, rooms = shown.split("Exercise 'redis-rooms'")
    assert "(who is connecting?, on FastAPI): passed" in login.splitlines()[0], shown
    assert ", on FastAPI): passed, 19/19 steps" in rooms.splitlines()[0], shown
