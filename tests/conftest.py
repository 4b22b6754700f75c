"""Shared pytest fixtures for the tests in this folder."""
import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path: sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib
from browser import find_or_install_chromium, skip_reason


@pytest.fixture(scope="session")
def chromium() -> str:
    "The path of a headless-capable Chromium (installed with apt-get on a root Debian machine if missing), else skip."
    path = find_or_install_chromium()
    if path is None: pytest.skip(skip_reason())
    return path
