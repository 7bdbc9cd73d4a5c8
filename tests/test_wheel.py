"""What the wheel carries besides the code: the license its metadata declares, and every
front-end file the widgets and the HTML export read (JavaScript, CSS) where the code looks."""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.venvs import INSTALL_TIMEOUT, ROOT, run


def test_the_wheel_carries_the_mit_license_it_declares(tmp_path: Path) -> None:
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        INSTALL_TIMEOUT,
        cwd=ROOT,
    )
    (wheel,) = tmp_path.glob("wsplay-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        dist_info = metadata_name.removesuffix("METADATA")
        assert metadata.get_all("License-File") == ["LICENSE"]
        assert metadata["License-Expression"] == "MIT"
        shipped = archive.read(f"{dist_info}licenses/LICENSE").decode()
    assert shipped == (ROOT / "LICENSE").read_text()
    assert shipped.startswith("MIT License")
    assets = {
        path.relative_to(ROOT).as_posix()
        for pattern in ("*.js", "*.css")
        for path in (ROOT / "wsplay").rglob(pattern)
    }
    assert assets, "the widgets' front-end files are where the test looks"
    assert assets <= set(names), f"left out of the wheel: {sorted(assets - set(names))}"
