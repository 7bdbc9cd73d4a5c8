"""Fresh virtualenvs for tests that check what an install really brings.

venv = FreshVenv.create(tmp_path)
venv.pip("install", ".")            # from the repository root
venv.python("script.py", env=venv.isolated_env())
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 300


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``command``; a failure or a time-out fails the test with its output."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{' '.join(command)} took more than {timeout} s:\n{expired.stderr}")
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@dataclass
class FreshVenv:
    path: Path
    scratch: Path  # for Jupyter's data and config folders

    @classmethod
    def create(cls, tmp_path: Path, name: str = "venv") -> FreshVenv:
        path = tmp_path / name
        run([sys.executable, "-m", "venv", str(path)], VENV_TIMEOUT)
        return cls(path, tmp_path)

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def pip(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """pip in this venv, from the repository root (so "." is this repository)."""
        command = [str(self.bin / "python"), "-m", "pip", *arguments]
        return run([*command, "--quiet", "--disable-pip-version-check"], INSTALL_TIMEOUT, cwd=ROOT)

    def isolated_env(self) -> dict[str, str]:
        """Nothing from the developer's machine: only this venv's kernels and packages."""
        env = {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "JUPYTER_DATA_DIR": str(self.scratch / "jupyter-data"),
            "JUPYTER_CONFIG_DIR": str(self.scratch / "jupyter-config"),
            "VIRTUAL_ENV": str(self.path),
        }
        env.pop("PYTHONPATH", None)
        return env

    def run(self, *command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """``command`` with this venv first on PATH, as an activated venv runs it."""
        return run(list(command), RUN_TIMEOUT, cwd=cwd, env=self.isolated_env())

    def python(self, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "python"), *arguments, cwd=cwd)
