"""Recording: both sides of every connection, for any ASGI app.

``recorder.py`` is the middleware between uvicorn and the app; ``conversation.py`` records
one connection (its messages, its refusal or its ending, once); ``refusals.py`` answers and
records an HTTP request the Origin policy or the Host check refused; ``connections.py`` is
what ``pg.connections`` lists, and the one-time tickets that give the kernel's clients
their ids.
"""
