"""The Python entry points as docs/python.md shows them, and the errors a newcomer meets
first: each says what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lykta.app import Lykta
from lykta.errors import InvalidInput, LyktaError
from lykta.settings import load_settings
from tests.conftest import make_photo

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def test_open_is_a_context_manager(tmp_path: Path) -> None:
    settings = load_settings({"home": tmp_path / "home"}, environ={})
    with Lykta.open(settings) as core:
        core.banks.create("demo")
        added = core.add_media("demo", make_photo(2), external_id="x")
        found = core.lookup_photo(make_photo(2))
        assert [m.content_id for m in found.result.matches] == [added.content_id]
        engine = core.engine
    # Closed on leaving: the pool holds no connection, the follower thread is gone.
    assert engine.pool.checkedout() == 0 and core.matcher._thread is None


def test_a_hash_of_another_kind_says_which_kind_to_pass(sqlite_core: Lykta) -> None:
    with pytest.raises(InvalidInput, match="looks like a hash of kind md5: pass kind=md5"):
        sqlite_core.lookup_hash("pdq", MD5)
    with pytest.raises(InvalidInput, match="kind pdq or sha256: pass kind=pdq or kind=sha256"):
        sqlite_core.lookup_hash("md5", "a" * 64)
    with pytest.raises(InvalidInput) as plain:
        sqlite_core.lookup_hash("pdq", "not a hash")
    assert "looks like" not in plain.value.message
    assert sqlite_core.lookup_hash("md5", MD5).matches == []


def test_postgres_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    settings = load_settings({"database_url": "postgresql+psycopg://lykta@db/lykta"}, environ={})
    with pytest.raises(LyktaError, match=r"pip install 'lykta\[postgres\]'") as error:
        Lykta.open(settings)
    assert "No module named" not in error.value.message
