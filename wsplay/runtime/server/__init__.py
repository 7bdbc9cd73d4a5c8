"""The server: uvicorn on a thread of its own, its guards, and the GIL it shares.

``thread.py`` starts, unblocks and stops one server (``ServerThread``); ``protocols.py`` is
uvicorn's sans-I/O WebSocket protocol with the playground's guards (prompt answers, bounded
control frames, a reader that stops reading a peer that floods), checked against the
installed uvicorn by ``uvicorn_check.py``; ``protocol_state.py`` is the typed door between a
connection's protocol and its recorder (the ``ConnectionObserver`` the protocol reports to,
the ``ProtocolView`` the recorder reads it through); ``origins.py`` decides who may connect
(the Origin policy and the Host check, for WebSockets and plain HTTP); ``gil.py`` lets the
kernel's threads run while the server works flat out.
"""
