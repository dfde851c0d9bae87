"""Shared fixtures. Real data comes from DATA_DIR (default ../shared/data beside the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data sets. CI sets REQUIRE_REAL_DATA=1 so that these tests run there, never skip."""
    path = Path(os.environ.get("DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        if os.environ.get("REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"REQUIRE_REAL_DATA=1 but DATA_DIR {path} does not exist")
        pytest.skip(f"real data not found at {path} (set DATA_DIR)")
    return path
