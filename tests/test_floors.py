"""The floors pyproject.toml declares install and work: a venv at exactly those versions.

uv's ``--resolution lowest-direct`` installs every direct dependency at its lower bound (and
whatever those need); the test reads the bounds from pyproject.toml, checks they are what got
installed, then runs the framework tests there and drives a real kernel from that venv
through a playground's life: start with a keepalive, connect, echo, see the server's pings,
show the panel, stop. The same kernel script runs at the newest releases (this venv).
One venv build, with uv's and pip's caches: about half a minute when they are warm.
Without PyPI it fails and says so: a floor nobody installed is not a floor.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.venvs import INSTALL_TIMEOUT, ROOT, FreshVenv, run
from wsplay.runtime.server.uvicorn_check import OLDEST_UVICORN

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TEST_TOOLS = ("pytest", "pytest-asyncio")  # from the test extra: what runs the tests there

KERNEL_DRIVER = textwrap.dedent(
    """
    import json
    from jupyter_client.manager import start_new_kernel

    CELLS = [
        "import asyncio, threading, wsplay\\nfrom wsplay import WebSocket, ws",
        '''
    @ws("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        while True:
            await websocket.send_text("echo:" + await websocket.receive_text())
    ''',
        "pg = wsplay.start(ping_interval=0.2, ping_timeout=5)",
        '''
    conn = await pg.connect("/echo")
    await conn.send_text("hi")
    print(await conn.receive_text())
    for _ in range(100):  # the server's keepalive pings the kernel's client
        if any(e.direction == "out" for e in pg.timeline.events(kind="ping")):
            break
        await asyncio.sleep(0.05)
    print("pinged" if _ < 99 else "no ping")
    ''',
        "from IPython.display import display\\ndisplay(wsplay.panel())",
        '''
    pg.stop()
    print(pg.running, [t.name for t in threading.enumerate() if "server" in t.name])
    ''',
    ]
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    cells = []
    try:
        for code in CELLS:
            outputs = []
            reply = client.execute_interactive(code, timeout=60, output_hook=outputs.append)
            cells.append({
                "status": reply["content"]["status"],
                "text": "".join(
                    m["content"]["text"] for m in outputs
                    if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
                ),
                "shown": [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data"],
                "errors": [m["content"]["traceback"] for m in outputs if m["msg_type"] == "error"],
            })
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(cells))
    """
)


def floor(requirement: Requirement) -> Version:
    """The version after ``>=``: what pyproject promises works."""
    (bound,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return Version(bound)


def declared_floors() -> dict[str, Version]:
    tools = [Requirement(line) for line in PROJECT["optional-dependencies"]["test"]]
    wanted = [Requirement(line) for line in PROJECT["dependencies"]]
    wanted += [requirement for requirement in tools if requirement.name in TEST_TOOLS]
    return {requirement.name: floor(requirement) for requirement in wanted}


def install_at_the_floors(venv: FreshVenv) -> None:
    tools = [
        line for line in PROJECT["optional-dependencies"]["test"] if line.startswith(TEST_TOOLS)
    ]
    try:
        venv.pip("install", "uv")
        run(
            [
                str(venv.bin / "uv"),
                "pip",
                "install",
                "--python",
                str(venv.bin / "python"),
                "--resolution",
                "lowest-direct",
                str(ROOT),
                *tools,
            ],
            INSTALL_TIMEOUT,
            cwd=ROOT,
            env=venv.isolated_env(),
        )
    except AssertionError as failure:
        pytest.fail(
            "Could not install wsplay at its declared floors (this test needs PyPI; is the "
            f"network there?):\n{failure}"
        )


def installed_versions(venv: FreshVenv, names: list[str]) -> dict[str, Version]:
    code = f"import importlib.metadata as m; print(*[m.version(n) for n in {names!r}])"
    versions = venv.python("-c", code, cwd=ROOT).stdout.split()
    return {name: Version(version) for name, version in zip(names, versions, strict=True)}


def drive_a_kernel(python: Path, env: dict[str, str], tmp_path: Path) -> list[dict]:
    driver = tmp_path / "drive_kernel.py"
    driver.write_text(KERNEL_DRIVER)
    result = run([str(python), str(driver)], 180, cwd=tmp_path, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_the_playground_lived_and_ended(cells: list[dict], where: str) -> None:
    for cell in cells:
        assert cell["status"] == "ok", f"{where}: {cell['errors']}"
    assert cells[3]["text"].split() == ["echo:hi", "pinged"], where
    assert any("application/vnd.jupyter.widget-view+json" in data for data in cells[4]["shown"])
    assert cells[5]["text"].strip() == "False []", where


def test_the_declared_floors_install_and_run_the_framework_and_the_playground(
    tmp_path: Path,
) -> None:
    floors = declared_floors()
    assert floors["uvicorn"] == Version(OLDEST_UVICORN), "one floor: pyproject's is the check's"
    venv = FreshVenv.create(tmp_path)
    install_at_the_floors(venv)
    assert installed_versions(venv, list(floors)) == floors
    tests = venv.python(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_framework.py", cwd=ROOT
    )
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout
    cells = drive_a_kernel(venv.bin / "python", venv.isolated_env(), tmp_path)
    assert_the_playground_lived_and_ended(cells, "at the floors")

    newest = tmp_path / "newest"
    newest.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, on this venv's releases
    cells = drive_a_kernel(Path(sys.executable), env, newest)
    assert_the_playground_lived_and_ended(cells, "at the newest releases")
