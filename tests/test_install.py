"""What ``pip install wsplay`` brings: a working panel in a kernel, with no extras.

The first test builds a fresh virtualenv, installs this repository without extras (as a
learner's ``%pip install wsplay`` would), starts a real kernel from that venv with
jupyter_client and builds and displays the panel there. The others make the widgets'
imports fail in a real interpreter (``sys.modules[name] = None`` is how Python itself marks
a module as missing) and read the message a learner would get.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import wsplay
from tests.venvs import ROOT, FreshVenv

PANEL_CELL = """
import sys, ipykernel, wsplay
from IPython.display import display
p = wsplay.panel()
display(p)
print(sys.executable, ipykernel.__version__, type(p).__name__)
p.playground.stop()
"""

# Runs each cell of a JSON list (argv[1]) in one real kernel, as a notebook would, and
# prints each cell's status, displays, printed text and traceback as one JSON line.
KERNEL_DRIVER = textwrap.dedent(
    """
    import json, sys
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    cells = []
    try:
        for code in json.loads(sys.argv[1]):
            outputs = []
            reply = client.execute_interactive(
                code, timeout=120, output_hook=lambda msg: outputs.append(msg)
            )
            cells.append({
                "status": reply["content"]["status"],
                "shown": [m["content"]["data"] for m in outputs
                          if m["msg_type"] == "display_data"],
                "text": "".join(m["content"]["text"] for m in outputs
                                if m["msg_type"] == "stream"),
                "errors": [m["content"] for m in outputs if m["msg_type"] == "error"],
            })
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(cells))
    """
)


def _first_code_cell(notebook: str) -> str:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    return "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])


def test_a_plain_pip_install_gives_a_panel_that_shows_in_a_kernel(tmp_path: Path) -> None:
    """Also: notebook 08's first cell, in the same kernel (redis is no dependency), stops
    with the one line that installs it, rather than failing cells further down."""
    venv = FreshVenv.create(tmp_path)
    venv.pip("install", ".")  # no extras
    driver = tmp_path / "drive_kernel.py"
    driver.write_text(KERNEL_DRIVER)
    cells = json.dumps([PANEL_CELL, _first_code_cell("08-scaling.ipynb")])
    result = venv.python(str(driver), cells, cwd=tmp_path)
    panel, scaling = json.loads(result.stdout.strip().splitlines()[-1])
    assert panel["status"] == "ok", panel["errors"]
    kernel_python, kernel_version, kind = panel["text"].split()
    assert Path(kernel_python).parent == venv.bin, "the kernel ran in the fresh venv"
    assert tuple(int(part) for part in kernel_version.split(".")[:2]) >= wsplay.KERNEL_FLOOR
    assert kind == "Panel"
    assert any("application/vnd.jupyter.widget-view+json" in data for data in panel["shown"])

    assert scaling["status"] == "error"
    [error] = scaling["errors"]
    assert error["ename"] == "ModuleNotFoundError"
    assert '%pip install "wsplay[redis]"' in error["evalue"], error["evalue"]
    assert "restart the kernel" in error["evalue"]


def _run_without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    script = f"import sys\nsys.modules[{module!r}] = None\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


@pytest.mark.parametrize("module", ["anywidget", "ipywidgets"])
def test_without_the_widgets_the_panel_says_which_pip_line_brings_them(module: str) -> None:
    result = _run_without(module, "import wsplay\nwsplay.panel()")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: wsplay's widgets need the ")
    assert module in last and wsplay.INSTALL_LINE in last and "restart the kernel" in last


def test_without_the_widgets_the_magic_says_the_same() -> None:
    code = textwrap.dedent(
        """
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "wsplay")
        try:
            shell.run_line_magic("wsplay", "")
        except ModuleNotFoundError as error:
            print("said:", error)
        """
    )
    result = _run_without("anywidget", code)
    assert result.returncode == 0, result.stderr
    assert "said: wsplay's widgets need the anywidget package" in result.stdout
    assert wsplay.INSTALL_LINE in result.stdout


def test_a_kernel_older_than_7_1_is_told_to_upgrade_and_restart() -> None:
    # Stands in for a kernel started before pip upgraded ipykernel: only its version is read.
    code = textwrap.dedent(
        """
        import sys, types, warnings
        sys.modules["ipykernel"] = types.SimpleNamespace(__version__="7.0.1")
        import wsplay
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wsplay._ui()
        print(caught[0].message)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "This kernel runs ipykernel 7.0.1" in result.stdout
    assert "%pip install --upgrade 'ipykernel>=7.1'" in result.stdout
