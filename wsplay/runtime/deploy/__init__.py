"""Out of the notebook: app files, worker processes and Redis.

``export.py`` chooses the notebook's handlers and ``app_file.py`` writes them as a runnable
file (with ``export_blacksheep.py``, ``sources.py`` and ``literals.py``); ``live.py`` turns
a handler's body typed in a cell into a route; ``workers.py`` and ``worker_main.py`` serve
a file in uvicorn processes; ``processes.py`` owns the processes wsplay starts;
``redis_server.py`` starts Redis.
"""
