"""Missing shared test data fails CI instead of skipping the reference tests silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testdata import require_testdata


def test_missing_testdata_fails_in_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="LYKTA_TESTDATA"):
        require_testdata(tmp_path / "absent", {"CI": "true"})


def test_missing_testdata_skips_outside_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="LYKTA_TESTDATA"):
        require_testdata(tmp_path / "absent", {})


def test_present_testdata_is_used(tmp_path: Path) -> None:
    assert require_testdata(tmp_path, {"CI": "true"}) == tmp_path
