"""The README's Python section runs as it stands: each ```python block, in an empty folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The Python API") :]
    section = section[: section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_python_section_shows_the_main_jobs():
    code = "\n".join(_python_blocks())
    for job in ("privis.Anonymizer(", "privis.anonymize_paths(", "privis.AuditLog(", "privis.count(",
                "privis.audit.membership("):  # fmt: skip
        assert job in code


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_each_python_block_runs(tmp_path, index):
    code = _python_blocks()[index]
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "each block prints what it made"
