"""FastAPI and Starlette apps in a real kernel, as a notebook uses them: re-running the cell
that registers a WebSocket path makes the new code live, an app swapped in with
``wsplay.start(app=...)`` gets its startup (a failing one is an error in that cell), and
``%wsplay routes`` and the panel list the app's routes, the WebSocket ones marked.

This process connects with the real ``websockets`` client over 127.0.0.1.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from tests.kernel import Kernel

TIMEOUT = 10


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel() as kernel:
        kernel.run(
            "import warnings, wsplay\n"
            "from fastapi import FastAPI, WebSocket\n"
            "from starlette.applications import Starlette\n"
            "from starlette.routing import WebSocketRoute\n"
            "%load_ext wsplay\n"
            "pg = wsplay.start()"
        )
        yield kernel


def cell(kernel: Kernel, code: str, check: bool = True):
    return kernel.run(textwrap.dedent(code), check=check)


def first_message(kernel: Kernel, path: str) -> str:
    with connect(kernel.value("pg.url") + path, open_timeout=TIMEOUT) as client:
        return client.recv(timeout=TIMEOUT)


def notices(kernel: Kernel, words: str) -> int:
    return kernel.value(
        f"len([e for e in pg.timeline.events(kind='warning') if {words!r} in e.preview])"
    )


FASTAPI_HELLO = """
@app.websocket("/hello")
async def hello(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text({text!r})
"""


def test_rerunning_a_fastapi_cell_makes_its_new_code_live(kernel: Kernel) -> None:
    cell(kernel, "app = FastAPI()\npg = wsplay.start(app=app)")
    cell(kernel, FASTAPI_HELLO.format(text="v1"))
    assert first_message(kernel, "/hello") == "v1"
    rerun = cell(kernel, FASTAPI_HELLO.format(text="v2"))  # fixed by the learner, re-run
    assert "wsplay: /hello was registered again on the FastAPI app `app`" in rerun.stderr
    assert first_message(kernel, "/hello") == "v2"
    assert cell(kernel, FASTAPI_HELLO.format(text="v3")).stderr == ""  # said once
    assert first_message(kernel, "/hello") == "v3"
    assert kernel.value("pg.routes") == ["/hello"]
    assert notices(kernel, "/hello was registered again") == 1  # on the timeline too
    hooks = "len(get_ipython().events.callbacks['post_run_cell'])"
    before = kernel.value(hooks)
    for _ in range(3):
        cell(kernel, "pg = wsplay.start(app=FastAPI())")
    assert kernel.value(hooks) == before  # swapping apps leaves no hook behind


STARLETTE_HELLO = """
async def hello(websocket):
    await websocket.accept()
    await websocket.send_text({text!r})
    await websocket.close()

{register}
"""


def test_rerunning_a_starlette_cell_makes_its_new_code_live(kernel: Kernel) -> None:
    cell(kernel, "app = Starlette()\npg = wsplay.start(app=app)")
    add = 'app.router.add_websocket_route("/hello", hello)'  # Starlette 1.x: on the router
    append = 'app.router.routes.append(WebSocketRoute("/hello", hello))'
    cell(kernel, STARLETTE_HELLO.format(text="v1", register=add))
    assert first_message(kernel, "/hello") == "v1"
    cell(kernel, STARLETTE_HELLO.format(text="v2", register=add))
    assert first_message(kernel, "/hello") == "v2"
    cell(kernel, STARLETTE_HELLO.format(text="v3", register=append))
    assert first_message(kernel, "/hello") == "v3"
    assert kernel.value("pg.routes") == ["/hello"]


def test_an_app_swapped_in_from_a_cell_starts_and_a_failing_one_is_an_error_there(
    kernel: Kernel,
) -> None:
    cell(
        kernel,
        """
        events = []
        served = FastAPI()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)

            @served.on_event("startup")
            async def open_the_database():
                events.append("startup")

            @served.on_event("shutdown")
            async def close_the_database():
                events.append("shutdown")

        @served.websocket("/db")
        async def db(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text(",".join(events))

        pg = wsplay.start()
        pg = wsplay.start(app=served)
        """,
    )
    assert first_message(kernel, "/db") == "startup"
    failed = cell(
        kernel,
        """
        broken = FastAPI()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)

            @broken.on_event("startup")
            async def no_database():
                raise ConnectionRefusedError("the database is not running")

        wsplay.start(app=broken)
        """,
        check=False,
    )
    assert "LifespanError" in failed.error
    assert "The startup of the FastAPI app `broken` failed" in failed.error
    assert "keeps serving the FastAPI app `served`" in failed.error
    assert first_message(kernel, "/db") == "startup"  # the app before still serves
    cell(kernel, "wsplay.start(app=FastAPI())")
    assert kernel.value("events") == ["startup", "shutdown"]


def test_wsplay_routes_and_the_panel_mark_the_websocket_routes(kernel: Kernel) -> None:
    cell(
        kernel,
        """
        app = FastAPI()
        from fastapi import APIRouter
        rooms = APIRouter(prefix="/rooms")

        @rooms.websocket("/{room}")
        async def room(websocket: WebSocket, room: str):
            await websocket.accept()

        @app.get("/")
        def index():
            return {}

        app.include_router(rooms, prefix="/v1")
        pg = wsplay.start(app=app)
        """,
    )
    listed = cell(kernel, "%wsplay routes").stdout.splitlines()
    assert listed[0].split() == ["WebSocket", "/v1/rooms/{room}", "(room)"]
    assert ["HTTP", "GET", "/", "(index)"] in [line.replace(",", " ").split() for line in listed]
    cell(kernel, "p = wsplay.panel(); p.refresh()")
    # The route list: HTML here, a widget with rows where main's route_list.py draws it.
    listed_in_panel = "repr(getattr(p.routes, 'value', None) or p.routes.routes)"
    assert "/v1/rooms/{room}" in kernel.value(listed_in_panel)
    others = kernel.value("p.other_routes.value")
    assert "5 HTTP routes (not WebSocket" in others  # FastAPI's 4 docs pages, and /
    assert "GET         /  (index)" in others and "/v1/rooms" not in others
