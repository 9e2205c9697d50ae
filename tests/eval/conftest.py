"""Evaluation tests read ../shared/data (or $PRIVIS_DATA); they skip, saying why, when it is absent."""

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("PRIVIS_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"evaluation data not found at {DATA} (set PRIVIS_DATA or put ../shared/data beside the repo)")
    return DATA
