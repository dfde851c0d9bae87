"""Shared fixtures. Real data comes from DATA_DIR (default ../shared/data beside the project)."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random T5 model directory (tokenizer + weights + godel dialogue_format.json)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_seq2seq"))


@pytest.fixture
def tiny_model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny T5 without conversion caches: the CTranslate2 backend converts into the model
    directory, and a test that converts or saves must not change the shared one."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny", ignore=shutil.ignore_patterns("ctranslate2-*")))


@pytest.fixture(scope="session")
def tiny_causal_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2 model directory (concat_causal dialogue_format.json)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_causal"), causal=True)
