"""wsplay's source names every close code it means: ``CloseCode.NORMAL_CLOSURE``, not 1000.

A bare 1000-1015 in code is a close code nobody named (issue 21). A count or a duration in
that range is written with an underscore (``1_000``), which passes. Read with ``tokenize``:
numbers in strings, comments and docstrings are words for the reader and stay as written.
Python 3.11 keeps a whole f-string as one STRING token, so the expressions inside one are
parsed here; 3.12's tokenizer yields their NUMBER tokens itself.

framework/close_codes.py is the one place that validates codes by number (its table, its
ranges): it is not checked. There is no other exception; were one ever needed, it would go
in ALLOWED with the reason it cannot name its code.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

from wsplay.framework.close_codes import CloseCode

PACKAGE = Path(__file__).resolve().parent.parent / "wsplay"
VALIDATES_CODES = PACKAGE / "framework" / "close_codes.py"
RAW = {str(code) for code in range(1000, 1016)}
# (path relative to wsplay/, line): why that line cannot name its code. Empty: none.
ALLOWED: dict[tuple[str, int], str] = {}


def _is_f_string(token: str) -> bool:
    prefix = token[: min(token.index(quote) for quote in "'\"" if quote in token)]
    return "f" in prefix.lower()


def _in_f_string(token: str) -> list[tuple[int, str]]:
    """(line within ``token``, text) of each bare close code in an f-string's expressions."""
    found = []
    for node in ast.walk(ast.parse(token, mode="eval")):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            text = ast.get_source_segment(token, node)
            if text in RAW:
                found.append((node.lineno, text))
    return found


def raw_close_codes(source: str) -> list[tuple[int, str]]:
    """(line, text) of each number in ``source`` written as a bare close code."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NUMBER and token.string in RAW:
            found.append((token.start[0], token.string))
        elif token.type == tokenize.STRING and _is_f_string(token.string):
            line = token.start[0]
            found += [(line + inner - 1, text) for inner, text in _in_f_string(token.string)]
    return found


def _fix(text: str) -> str:
    try:
        name = f"CloseCode.{CloseCode(int(text)).name}"
    except ValueError:  # 1004: reserved, no name
        return f"{text} is reserved and never meant: write the code meant, by its name"
    return f"use {name} ({name}.value where it is kept or sent: an ASGI message, the timeline)"


SOURCES = sorted(path for path in PACKAGE.rglob("*.py") if path != VALIDATES_CODES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_close_code_is_named(path: Path) -> None:
    where = path.relative_to(PACKAGE).as_posix()
    unnamed = [
        f"wsplay/{where}:{line}: {text} is a close code: {_fix(text)}; a count is written 1_000"
        for line, text in raw_close_codes(path.read_text(encoding="utf-8"))
        if (where, line) not in ALLOWED
    ]
    assert not unnamed, "\n".join(unnamed)


def test_the_check_finds_a_bare_close_code_and_nothing_else() -> None:
    source = (
        "await websocket.close(1011, 'boom')\n"
        "seconds = every / 1_000\n"
        'said = f"round trip {latency * 1000:.1f} ms"\n'
        'text = "closed with 1006"  # 1006: words, for the reader\n'
        "code = CloseCode.GOING_AWAY.value\n"
        'later = rf"""\n{x}\n{1008}"""\n'
    )
    assert raw_close_codes(source) == [(1, "1011"), (3, "1000"), (8, "1008")]
    assert _fix("1011").startswith("use CloseCode.INTERNAL_ERROR")
