"""The timeline: every event of every conversation, bounded in memory, and what it becomes.

``store.py`` keeps the events (``Timeline``, ``Event``); ``kinds.py`` names what they
record, whose view and which way; ``words.py`` says one in a sentence; ``budget.py`` gives
each kept field its byte budget; ``export.py`` writes JSON and the standalone HTML picture;
``replay.py`` and ``replay_code.py`` turn a recording into a pytest file.
"""
