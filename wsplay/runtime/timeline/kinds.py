"""The timeline's vocabulary: what an event records, whose view it is, which way it went.

StrEnums for readers and type checkers; the events themselves keep the plain values (the
constants below), see store.py.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an event records. The picture's filter lists these (sent with its rows)."""

    HANDSHAKE = "handshake"  # the client asked to connect (path, headers, subprotocols)
    ACCEPT = "accept"  # the server accepted (subprotocol, headers)
    REJECT = "reject"  # the server refused the handshake (HTTP 403)
    MESSAGE = "message"  # a data frame, in a Direction
    PING = "ping"  # a ping frame; preview: the round trip, when known
    PONG = "pong"  # a pong frame, the answer to a ping
    CLOSE = "close"  # the connection ended; ``by``: a ClosedBy
    ERROR = "error"  # a handler raised; traceback attached
    WARNING = "warning"  # a handler blocked the server's loop (by "wsplay": and was stopped)


class Side(StrEnum):
    """Whose view an event is: the server's (recorded at the ASGI app) or a client's."""

    SERVER = "server"
    CLIENT = "client"


class Direction(StrEnum):
    """Which way a frame went, whichever side recorded it."""

    IN = "in"  # client -> server
    OUT = "out"  # server -> client


# Events keep the plain values: a tuple of plain str, int and float is one the garbage
# collector stops tracking (see Timeline), an enum member would keep it tracked.
HANDSHAKE, ACCEPT, REJECT = Kind.HANDSHAKE.value, Kind.ACCEPT.value, Kind.REJECT.value
MESSAGE, PING, PONG = Kind.MESSAGE.value, Kind.PING.value, Kind.PONG.value
CLOSE, ERROR, WARNING = Kind.CLOSE.value, Kind.ERROR.value, Kind.WARNING.value
SERVER, CLIENT = Side.SERVER.value, Side.CLIENT.value
IN, OUT = Direction.IN.value, Direction.OUT.value
# Who asked for a server's CLOSE its handler did not make (Event.asked_by), and its words.
KERNEL = "kernel"  # a cell or the panel (pg.connections[i].close(), "Close from server")
STOPPING = "stop"  # the playground stopping or restarting
# The playground's gate (its Origin and Host check) refused a request before the app saw
# it: a REJECT, or a WARNING for plain HTTP, whose one header is the refused one.
GATE = "gate"
ASKED_BY_WORDS = {KERNEL: "from a cell or the panel", STOPPING: "the playground stopped"}
