"""The kernel client's two faces are written out, and cannot drift from each other or the core.

``Connection`` (awaitable) and ``BlockingConnection`` (plain calls) declare every method
with its types; here each method of either face must exist on the other and on the
client's core with the same parameters, and nothing else of the core is reachable.
"""

from __future__ import annotations

import inspect

import pytest

import wsplay
from tests.apps import echo
from tests.test_resilience import wait_until
from wsplay import Playground, Router
from wsplay.framework.close_codes import Close, ClosedBy
from wsplay.runtime.clients.faces import READABLE, BlockingConnection, Connection
from wsplay.runtime.clients.kernel import ClientCore


def public_methods(face: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(face).items()
        if callable(member) and not name.startswith("_")
    }


def test_the_twins_have_the_same_methods_with_the_cores_parameters() -> None:
    awaitable, blocking = public_methods(Connection), public_methods(BlockingConnection)
    assert set(awaitable) == {
        *("send", "send_text", "send_bytes", "send_json"),
        *("receive", "receive_text", "receive_bytes", "receive_json"),
        *("ping", "close", "drop"),
    }
    assert awaitable.keys() == blocking.keys()
    for name, signature in awaitable.items():
        assert inspect.iscoroutinefunction(vars(Connection)[name]), name
        assert not inspect.iscoroutinefunction(vars(BlockingConnection)[name]), name
        assert signature == blocking[name], name
        core = inspect.signature(getattr(ClientCore, name))
        assert list(signature.parameters.values()) == list(core.parameters.values()), name


@pytest.fixture
def pg():
    router = Router()
    router.add_ws("/echo", echo)
    playground = Playground(wsplay.Application(router=router)).start()
    yield playground
    playground.stop()


def test_a_connection_reads_what_it_declares_and_nothing_of_the_core(pg: Playground) -> None:
    conn = pg.connect_sync("/echo")
    try:
        conn.send_text("hi")
        assert conn.receive_text() == "hi"
        assert {name: getattr(conn, name) for name in ("id", "path", "closed")} == {
            "id": conn.id,
            "path": "/echo",
            "closed": False,
        }
        assert set(READABLE) <= set(dir(conn))
        for leaked in ("drain", "start", "timeline", "read_all", "after_stop", "ticket"):
            assert leaked not in dir(conn)
            with pytest.raises(AttributeError, match=f"has no attribute '{leaked}'"):
                getattr(conn, leaked)
    finally:
        conn.close()
    assert conn.closed and conn.close_code == 1000


def test_how_a_connection_ended_is_one_record_on_each_side(pg: Playground) -> None:
    conn = pg.connect_sync("/echo")
    server = pg.connections[-1]
    conn.close(4001, "bye")
    assert conn.ending == Close(4001, "bye", ClosedBy.CLIENT)
    assert conn.closed_by is ClosedBy.CLIENT
    wait_until(lambda: server.ending is not None)
    assert server.ending == Close(4001, "bye", ClosedBy.CLIENT)
    # Derived, never written apart from the record: a second source could disagree.
    with pytest.raises(AttributeError):
        server.closed_by = ClosedBy.SERVER  # type: ignore[misc]
    core = conn._target
    core.ended(ClosedBy.SERVER, 1011, "later")  # a later ending changes nothing
    assert conn.ending == Close(4001, "bye", ClosedBy.CLIENT)


def test_a_close_names_who_ended_it_with_the_type_or_not_at_all() -> None:
    assert Close(1000, "", "dropped").by is ClosedBy.DROPPED
    with pytest.raises(ValueError, match="nobody"):
        Close(1000, "", "nobody")
