"""A third-party package adds a method through the ``privis.obfuscators`` entry point, and the CLI uses it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PLUGIN = '''
"""privis-veil: a grey veil, as a plug-in package would ship one."""
import numpy as np
from privis.obfuscate import Obfuscator


class Veil(Obfuscator):
    def __init__(self, *, level: int = 128, shape: str = "ellipse") -> None:
        super().__init__(shape=shape)
        self.level = int(level)

    def render(self, frame, bounds):
        x1, y1, x2, y2 = bounds
        return np.full((y2 - y1, x2 - x1, frame.shape[2]), self.level, np.float32)
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "privis-veil-test"
version = "0.0.1"

[project.entry-points."privis.obfuscators"]
veil = "privis_veil:Veil"
"""


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def veil_installed(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "privis_veil").mkdir(parents=True)
    (pkg / "privis_veil" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    done = _pip("install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(pkg))
    if done.returncode != 0:
        pytest.fail(f"could not install the test plug-in: {done.stderr[-2000:]}")
    try:
        yield
    finally:
        _pip("uninstall", "-q", "-y", "privis-veil-test")


def test_a_plug_in_method_works_from_the_cli(veil_installed, tmp_path, astronaut):
    src = tmp_path / "in.png"
    Image.fromarray(astronaut).save(src)
    privis = Path(sys.executable).parent / "privis"
    run = subprocess.run(
        [str(privis), "anonymize", str(src), "-o", str(tmp_path / "out.png"), "--method", "veil:level=77",
         "--shape", "box", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert (out == 77).all(axis=-1).sum() > 2000  # the face's box, veiled
    listed = subprocess.run([str(privis), "config", "show", "--method", "veil", "--json"], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert listed.returncode == 0 and '"method": "veil"' in listed.stdout
