"""``make test`` installs the system programs the suite needs, or stops with one line.

Chromium and redis-server cannot be uninstalled from this machine to try it, so the runs
below hide them instead: PATH holds only what each case needs, and Playwright looks for its
own browsers in an empty folder, with downloads sent to a closed port on 127.0.0.1 (so they
fail the same way everywhere). The "not root" case runs as the real user nobody. The "root"
case uses a stand-in ``apt-get`` (a shell script that records its arguments and creates the
programs), the one mock here: a real install cannot be shown for a package that is already
installed, and removing Chromium to show it is not an option on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import system_packages
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
SETPRIV = shutil.which("setpriv")
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin")
NOBODY = 65534


def test_this_machine_has_what_the_suite_needs() -> None:
    # make test ran the set-up before collecting this test; it must have left nothing out.
    assert system_packages.missing() == [], "run: make test (it installs them)"


def _bare_path(tmp_path: Path, programs: list[str]) -> Path:
    """A PATH folder with only ``programs`` (linked from the real PATH)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in programs:
        real = shutil.which(program)
        assert real, f"{program} is needed to run this test"
        (folder / program).symlink_to(real)
    return folder


def _env(tmp_path: Path, path: Path) -> dict[str, str]:
    browsers = tmp_path / "no-browsers"
    browsers.mkdir()
    return {
        "PATH": str(path),
        "HOME": str(tmp_path),
        "PLAYWRIGHT_BROWSERS_PATH": str(browsers),
        "PLAYWRIGHT_DOWNLOAD_HOST": f"http://127.0.0.1:{free_port()}",
        "PYTHONPATH": str(ROOT),
    }


def _as_nobody(command: list[str]) -> list[str]:
    return [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


@pytest.mark.skipif(
    os.geteuid() != 0 or not SETPRIV or not SYSTEM_PYTHON,
    reason="needs root and setpriv to become the user nobody, and Debian's python3",
)
def test_make_test_without_root_stops_before_the_suite_with_the_command_to_run() -> None:
    # pytest's tmp_path sits in a folder only root may enter.
    with tempfile.TemporaryDirectory(prefix="wsplay-nobody-") as folder:
        os.chmod(folder, 0o777)
        _make_test_as_nobody(Path(folder))


def _make_test_as_nobody(tmp_path: Path) -> None:
    path = _bare_path(tmp_path, ["apt-get", "id"])
    # nobody cannot run the venv's Python (it lives under /root), so make runs the check
    # with Debian's python3, where Playwright is not installed either; -o: the venv counts
    # as set up.
    venv = Path(sys.prefix)
    bin_ = tmp_path / "venv-bin"
    bin_.mkdir()
    (bin_ / "python").symlink_to(SYSTEM_PYTHON)
    command = [
        *(MAKE, "-C", str(ROOT), f"VENV={venv}", f"BIN={bin_}"),
        *("-o", f"{venv}/.installed-test", "test"),
    ]
    result = subprocess.run(
        _as_nobody(command), env=_env(tmp_path, path), capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    last = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert last == [
        "Missing chromium, redis-server: run  sudo apt-get update && sudo apt-get install -y "
        "chromium redis-server  then make test again."
    ], result.stderr
    assert "-m playwright install chromium" in result.stdout  # a download was tried first
    assert "ruff check" not in result.stdout and "-m pytest" not in result.stdout  # stopped


APT_STAND_IN = """#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = install ]; then
    for program in chromium redis-server; do
        printf '#!/bin/sh\\n' > "{bin}/$program"; /bin/chmod +x "{bin}/$program"
    done
fi
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the apt path is taken only as root")
def test_as_root_with_apt_it_updates_once_then_installs_what_is_missing(tmp_path: Path) -> None:
    path = _bare_path(tmp_path, [])
    log = tmp_path / "apt.log"
    apt = path / "apt-get"
    apt.write_text(APT_STAND_IN.format(log=log, bin=path))
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    result = subprocess.run(
        [sys.executable, "-m", "tests.system_packages"],
        env=_env(tmp_path, path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium redis-server"]
    assert "playwright" not in result.stdout  # Debian's Chromium was there: no download


def test_without_apt_the_line_names_playwright_for_chromium(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    line = system_packages.fix_command(system_packages.NEEDS)
    assert line.startswith(f"{sys.executable} -m playwright install chromium && ")
    assert "redis" in line
