"""Where the shared reference test data lives, and what a test does when it is missing.

The reference vectors (Meta's published PDQ/MD5 hashes and their images) are too big to
ship in the repository; they sit beside it in `../shared/testdata` or wherever
`LYKTA_TESTDATA` says. A developer without them gets skips; CI gets failures, since a
conformance check that silently stops running is worse than none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

TESTDATA = Path(
    os.environ.get("LYKTA_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
THREATEXCHANGE = TESTDATA / "threatexchange"

# Tests that read the shared data ask for the `testdata` fixture (tests/conftest.py).
needs_testdata = pytest.mark.usefixtures("testdata")


def require_testdata(path: Path, environ: Mapping[str, str]) -> Path:
    """`path` if it is there; otherwise fail in CI and skip elsewhere."""
    if path.is_dir():
        return path
    message = f"shared test data missing at {path}; set LYKTA_TESTDATA to its folder"
    if environ.get("CI"):
        pytest.fail(f"{message} (needed in CI)")
    pytest.skip(message)
