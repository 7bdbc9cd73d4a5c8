"""Out of the notebook: app files, worker processes and Redis.

``export.py`` (with ``export_blacksheep.py``, ``sources.py`` and ``literals.py``) writes
the notebook's handlers as a runnable file; ``live.py`` turns a handler's body typed in a
cell into a route; ``workers.py`` and ``worker_main.py`` serve a file in uvicorn processes;
``processes.py`` owns the processes wsplay starts; ``redis_server.py`` starts Redis.
"""
