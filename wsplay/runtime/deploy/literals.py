"""Names and literals for the code wsplay writes (``to_test``, ``export``).

Nothing recorded from the wire or registered by a learner is pasted into generated code:
text goes in as a literal (``repr``), and a name wsplay makes is built of ``[a-z0-9_]``
only, after a prefix of letters. A recorded path that closes a docstring and calls
``__import__("os")`` is then text in the file, never code; one with ``²`` or a
backslash is never a SyntaxError.
"""

from __future__ import annotations

import keyword
import re


def string_literal(text: str) -> str:
    """``text`` as a Python string literal, in double quotes when that needs no escape
    (as ruff formats it): ``repr``, so any text, newlines and quotes included, reads back
    as itself and can never end the literal early."""
    literal = repr(str(text))
    if literal.startswith("'") and '"' not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def docstring_literal(text: str) -> str:
    """``text`` as a docstring: in triple quotes when ``repr`` leaves it as it is and it
    has no double quote, else as ``string_literal`` writes it."""
    plain = text and repr(text)[1:-1] == text and '"' not in text
    return f'"""{text}"""' if plain else string_literal(text)


def name_part(text: str, limit: int = 40) -> str:
    """A piece of a Python name made from ``text``: ``[a-z0-9_]`` only, at most ``limit``
    characters, no leading or trailing ``_`` ("" if nothing is left). Put it after a
    prefix of letters (``ws3_``, ``test_``): it may start with a digit."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:limit].strip("_")


def is_name(text: object) -> bool:
    """Whether ``text`` can stand as a name in generated code (not a keyword)."""
    return isinstance(text, str) and text.isidentifier() and not keyword.iskeyword(text)


def is_dotted_name(text: object) -> bool:
    """``os.path``-like: each part a name."""
    return isinstance(text, str) and all(is_name(part) for part in text.split("."))
