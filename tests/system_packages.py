"""The programs the test suite needs from the system, installed where that can be done.

``make test`` runs this before ruff and pytest (``python -m tests.system_packages``), so the
README's test command sets up everything on a fresh machine:

- ``chromium`` drives the browser tests (JupyterLab and Notebook 7 clicked for real);
- ``redis-server`` backs the chat scaled across processes (notebook 08).

Missing ones are installed with Debian's apt when running as root; otherwise Chromium comes
from Playwright's own download where the machine can reach it. What still cannot be had
stops the run before any test is collected, with one line saying what to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

APT_TIMEOUT = 900
DOWNLOAD_TIMEOUT = 600


@dataclass(frozen=True)
class Need:
    program: str  # looked up on PATH
    apt_package: str  # Debian's package that provides it
    why: str


NEEDS = (
    Need("chromium", "chromium", "the browser tests"),
    Need("redis-server", "redis-server", "the Redis tests (notebook 08)"),
)


def playwright_chromium() -> str | None:
    """The Chromium that ``playwright install chromium`` downloaded, if it is there."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if path and os.path.exists(path) else None


def chromium() -> str | None:
    """The Chromium for the browser tests: Debian's on PATH, else Playwright's own."""
    return shutil.which("chromium") or playwright_chromium()


def _find(need: Need) -> str | None:
    return chromium() if need.program == "chromium" else shutil.which(need.program)


def missing(needs: Sequence[Need] = NEEDS) -> list[Need]:
    return [need for need in needs if not _find(need)]


def fix_command(needs: Sequence[Need]) -> str:
    """The one line a person runs to get ``needs`` (as root it is what this script runs)."""
    packages = " ".join(need.apt_package for need in needs)
    if shutil.which("apt-get"):
        return f"sudo apt-get update && sudo apt-get install -y {packages}"
    parts = []
    if any(need.program == "chromium" for need in needs):
        parts.append(f"{sys.executable} -m playwright install chromium")
    if any(need.program == "redis-server" for need in needs):
        parts.append("install redis-server (e.g. brew install redis)")
    return " && ".join(parts)


def _run(command: list[str], timeout: float) -> bool:
    print("+ " + " ".join(command), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        # Its output goes to stdout: stderr keeps only the one line saying what to run.
        result = subprocess.run(command, timeout=timeout, env=env, stderr=subprocess.STDOUT)
        return result.returncode == 0
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"  failed: {error}", flush=True)
        return False


def install(needs: Sequence[Need]) -> None:
    """Try what this machine allows: apt as root, then Playwright's Chromium download."""
    as_root_with_apt = os.geteuid() == 0 and shutil.which("apt-get")
    # One update first: a fresh machine's package lists may be empty or stale.
    if as_root_with_apt and _run(["apt-get", "update", "-qq"], APT_TIMEOUT):
        packages = [need.apt_package for need in needs]
        _run(["apt-get", "install", "-y", "-qq", *packages], APT_TIMEOUT)
    if any(need.program == "chromium" for need in missing(needs)):
        _run([sys.executable, "-m", "playwright", "install", "chromium"], DOWNLOAD_TIMEOUT)


def main() -> int:
    needs = missing()
    if not needs:
        return 0
    print("The tests need " + ", ".join(f"{n.program} ({n.why})" for n in needs), flush=True)
    install(needs)
    still = missing(needs)
    if not still:
        return 0
    names = ", ".join(need.program for need in still)
    print(f"Missing {names}: run  {fix_command(still)}  then make test again.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
