"""The kernel's clients: one core (the real ``websockets`` client) with its faces.

``kernel.py`` holds the core (the real ``websockets`` client); ``faces.py`` its two public
faces, ``Connection`` and ``BlockingConnection``, each method written out; ``wire.py``
reads each message as its frames on the wire; ``why.py`` says why a handshake was refused
or got no answer, from what the server side saw.
"""
