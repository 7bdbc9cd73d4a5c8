"""Any ASGI app as a guest of the playground: FastAPI, Starlette, BlackSheep, wsplay.

``routes.py`` lists an app's routes; ``lifespan.py`` runs its startup and shutdown when it
is swapped in and out; ``redefinition.py`` keeps one route per re-registered path;
``guest.py`` is the app as the recorder calls it.
"""
