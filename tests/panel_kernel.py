"""What the panel's kernel tests share: helpers that wait the way a front end would.

The log and the timeline are appended in the page, so their waits look at what was pushed
to the page (``pushed``, and the rows the page holds).
"""

HELPERS = '''
import threading, time, wsplay
from wsplay import WebSocket, WebSocketDisconnectError, ws

def wait_for(widget, trait, predicate, timeout=10):
    """Wait until predicate(widget.<trait>) holds, as a front end would see it change."""
    done = threading.Event()
    def check(_=None):
        if predicate(getattr(widget, trait)):
            done.set()
    widget.observe(check, names=trait)
    try:
        check()
        assert done.wait(timeout), f"{trait} never matched: {getattr(widget, trait)!r}"
    finally:
        widget.unobserve(check, names=trait)

def wait_log(view, predicate, timeout=10):
    """Wait until predicate(the text of the rows the page's log holds) holds."""
    wait_for(view.log_view, "pushed", lambda _: predicate(view.log_view.text()), timeout)

def server_close(connection, timeout=10):
    """The server's close event of ``connection``, once recorded (it ends on the loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in pg.timeline.events(connection, kind="close"):
            if event.side == "server":
                return event
        time.sleep(0.02)
    raise AssertionError(f"#{connection} never closed on the server's side")

def wait_rows(predicate, timeout=10, panel=None):
    """Wait until predicate(the rows the page's timeline holds) holds."""
    timeline = (panel or p).timeline
    wait_for(timeline, "pushed", lambda _: predicate(list(timeline.rows)), timeout)

'''

# An echo of text and bytes, and a chat room that broadcasts to everyone in it.
HANDLERS = """
@ws("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if "text" in message and message["text"] is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])

room = set()

@ws("/chat")
async def chat(websocket: WebSocket):
    await websocket.accept()
    room.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for peer in list(room):
                await peer.send_text(text)
    except WebSocketDisconnectError:
        pass
    finally:
        room.discard(websocket)

"""
