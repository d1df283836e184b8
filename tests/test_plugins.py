"""Plugins add hash kinds and exchanges from outside Lykta (directly or through the
`lykta.plugins` entry point) that then work end to end, and hear the core's events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lykta import cli, plugins
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.banks.items import ContentItem
from lykta.errors import LyktaError
from lykta.exchanges import registry as exchange_registry
from lykta.exchanges.base import Exchange
from lykta.hashing import registry
from lykta.hashing.base import Hasher
from tests.conftest import make_settings
from tests.plugins import inline_exchange, sha1_kind

DATA = b"benign bytes"
SHA1 = hashlib.sha1(DATA, usedforsecurity=False).hexdigest()


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Start from the built-ins alone and leave them so."""
    plugins._manager = None
    registry.refresh()
    exchange_registry.refresh()
    yield
    plugins._manager = None
    registry.refresh()
    exchange_registry.refresh()


def test_a_kind_registered_from_outside_matches_end_to_end(
    tmp_path: Path, fresh_plugins: None
) -> None:
    plugins.plugin_manager().register(sha1_kind)
    registry.refresh()
    assert "sha1" in registry.hasher_names()
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        curator = core.tokens.create(Scope.CURATOR, "c")[1]
        with TestClient(create_app(core, follow_changes=False)) as client:
            auth = {"Authorization": f"Bearer {curator}"}
            client.post("/api/v1/banks", json={"name": "own"}, headers=auth)
            added = client.post(
                "/api/v1/banks/own/content",
                json={"kind": "sha1", "hash": SHA1.upper(), "external_id": "doc-1"},
                headers=auth,
            )
            assert added.status_code == 201, added.text
            found = client.get(f"/api/v1/lookup?kind=sha1&hash={SHA1}", headers=auth).json()
            assert [(m["external_id"], m["kind"]) for m in found["matches"]] == [("doc-1", "sha1")]
            assert client.get("/api/v1/status", headers=auth).json()["index_size"]["sha1"] == 1
            exported = client.get("/api/v1/banks/own/export?format=threatexchange", headers=auth)
            assert exported.text == f"sha1 {SHA1}\n"
    finally:
        core.close()


def test_a_kind_arrives_through_an_entry_point(
    tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "site" / "lykta_sha1-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lykta-sha1\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[lykta.plugins]\nsha1 = tests.plugins.sha1_kind\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert registry.get_hasher("sha1").code_bytes == 20
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        core.banks.create("own")
        core.banks.add_content("own", [ContentItem.of_hash("sha1", SHA1, "doc-1")])
        assert [m.external_id for m in core.lookup_hash("sha1", SHA1).matches] == ["doc-1"]
    finally:
        core.close()


def test_a_stored_kind_without_its_plugin_is_a_clear_error_on_start(
    tmp_path: Path, fresh_plugins: None
) -> None:
    settings = make_settings(tmp_path / "home")
    plugins.plugin_manager().register(sha1_kind)
    registry.refresh()
    core = Lykta.open(settings)
    core.banks.create("own")
    core.banks.add_content("own", [ContentItem.of_hash("sha1", SHA1)])
    core.close()
    plugins.plugin_manager().unregister(sha1_kind)
    registry.refresh()
    with pytest.raises(LyktaError, match=r"kind\(s\) sha1 that no installed plugin provides"):
        Lykta.open(settings)


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @plugins.hookimpl
    def lykta_match_found(self, core: Any, content: Any, result: Any) -> None:
        self.events.append(("match", [m.external_id for m in result.matches]))

    @plugins.hookimpl
    def lykta_bank_changed(self, core: Any, bank: str, change: str) -> None:
        self.events.append((change, bank))


def test_plugins_hear_matches_and_bank_changes(tmp_path: Path, fresh_plugins: None) -> None:
    listener = Listener()
    plugins.plugin_manager().register(listener)
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        core.banks.create("a")
        core.banks.add_content("a", [ContentItem.of_hash("sha256", "ab" * 32, "x")])
        core.lookup_hash("sha256", "ab" * 32)
        core.lookup_hash("sha256", "cd" * 32)  # no match: no event
        core.banks.delete("a")
    finally:
        core.close()
    assert listener.events == [
        ("created", "a"), ("content_added", "a"), ("match", ["x"]), ("deleted", "a"),
    ]  # fmt: skip


def test_a_snapshot_holding_a_kind_no_longer_installed_is_rebuilt_from_the_log(
    tmp_path: Path, fresh_plugins: None
) -> None:
    settings = make_settings(tmp_path / "home")
    plugins.plugin_manager().register(sha1_kind)
    registry.refresh()
    core = Lykta.open(settings)
    core.banks.create("own")
    core.banks.create("kept")
    core.banks.add_content("own", [ContentItem.of_hash("sha1", SHA1)])
    core.banks.add_content("kept", [ContentItem.of_hash("md5", "ab" * 16, "doc")])
    assert core.matcher.save_snapshot() is not None
    core.banks.delete("own")  # the database no longer holds sha1; the snapshot still names it
    core.close()
    plugins.plugin_manager().unregister(sha1_kind)
    registry.refresh()
    core = Lykta.open(settings)
    try:
        assert [m.external_id for m in core.lookup_hash("md5", "ab" * 16).matches] == ["doc"]
    finally:
        core.close()


class ClashingKind:
    """A plugin whose kind takes a name Lykta's own MD5 holds."""

    class Md5Again(sha1_kind.Sha1Hasher):
        name = "md5"

    @plugins.hookimpl
    def lykta_hashers(self) -> list[type[Hasher]]:
        return [self.Md5Again]


def test_a_plugin_whose_kind_cannot_register_is_a_one_line_error(
    tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.plugin_manager().register(ClashingKind())
    registry.refresh()
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli.app, ["bank", "list"])
    assert result.exit_code == 1, (result.stdout, result.exception)
    assert "'md5' is taken by Md5Hasher" in result.stderr
    assert "Traceback" not in result.stderr


class Broken:
    @plugins.hookimpl
    def lykta_match_found(self, core: Any, content: Any, result: Any) -> None:
        raise RuntimeError("alerting is down")

    @plugins.hookimpl
    def lykta_bank_changed(self, core: Any, bank: str, change: str) -> None:
        raise RuntimeError("audit is down")


def test_a_failing_plugin_is_logged_not_the_callers_error(
    tmp_path: Path, fresh_plugins: None, caplog: pytest.LogCaptureFixture
) -> None:
    plugins.plugin_manager().register(Broken())
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        core.banks.create("a")  # committed: the write is not reported as failed
        core.banks.add_content("a", [ContentItem.of_hash("sha256", "ab" * 32, "x")])
        found = core.lookup_hash("sha256", "ab" * 32)
        assert [m.external_id for m in found.matches] == ["x"]
    finally:
        core.close()
    failures = [r.getMessage() for r in caplog.records if "a plugin failed" in r.getMessage()]
    assert "a plugin failed in lykta_bank_changed; the core carries on" in failures
    assert "a plugin failed in lykta_match_found; the core carries on" in failures


PDQ = [hashlib.sha256(f"inline-{n}".encode()).hexdigest() for n in range(3)]


def test_an_exchange_registered_from_outside_syncs_a_bank(
    tmp_path: Path, fresh_plugins: None
) -> None:
    plugins.plugin_manager().register(inline_exchange)
    exchange_registry.refresh()
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        core.exchanges.add("INLINE", "inline_list",
                           config={"signals": [f"pdq {PDQ[0]}", f"pdq {PDQ[1]}"]})  # fmt: skip
        assert core.exchanges.sync("INLINE").added == 2
        found = core.lookup_hash("pdq", PDQ[1]).matches
        assert [(m.bank, m.external_id) for m in found] == [("INLINE", f"pdq:{PDQ[1]}")]
        with pytest.raises(LyktaError, match=r"inline_list.*has no setting colour"):
            core.exchanges.add("OTHER", "inline_list", config={"signals": [], "colour": 1})
    finally:
        core.close()


def test_an_exchange_registered_at_run_time_fetches_in_a_process_of_its_own(
    tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fetching process, forked from a fork server started before the plugin was
    # registered, gets the class by its importable name rather than from its registry.
    monkeypatch.setattr(inline_exchange.InlineListExchange, "fetch_in_process", True)
    plugins.plugin_manager().register(inline_exchange)
    exchange_registry.refresh()
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        core.exchanges.add("INLINE", "inline_list", config={"signals": [f"pdq {PDQ[2]}"]})
        assert core.exchanges.sync("INLINE").added == 1
        assert core.lookup_hash("pdq", PDQ[2]).matches[0].bank == "INLINE"
    finally:
        core.close()


def test_an_exchange_arrives_through_an_entry_point(
    tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "site" / "lykta_inline-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lykta-inline\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[lykta.plugins]\ninline = tests.plugins.inline_exchange\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    listed = CliRunner().invoke(cli.app, ["exchange", "apis"])
    assert listed.exit_code == 0, listed.stderr
    # The built-ins register through the same hook, first.
    assert listed.stdout.split()[0] == "ncmec" and "inline_list" in listed.stdout.split()
    core = Lykta.open(make_settings(tmp_path / "home"))
    try:
        curator = core.tokens.create(Scope.CURATOR, "c")[1]
        with TestClient(create_app(core, follow_changes=False)) as client:
            auth = {"Authorization": f"Bearer {curator}"}
            assert "inline_list" in client.get("/c/exchanges/apis", headers=auth).json()
            added = client.post(
                "/api/v1/exchanges", headers=auth,
                json={"bank": "INLINE", "api": "inline_list",
                      "config": {"signals": [f"pdq {p}" for p in PDQ]}},
            )  # fmt: skip
            assert added.status_code == 201, added.text
        assert core.exchanges.sync("INLINE").added == 3
        assert len(core.lookup_hash("pdq", PDQ[2]).matches) == 1
    finally:
        core.close()


class ClashingExchange:
    """A plugin whose exchange takes the name of Lykta's own NCMEC exchange."""

    class NcmecAgain(inline_exchange.InlineListExchange):
        name = "ncmec"

    @plugins.hookimpl
    def lykta_exchanges(self) -> list[type[Exchange]]:
        return [self.NcmecAgain]


def test_a_plugin_whose_exchange_cannot_register_is_a_one_line_error(
    tmp_path: Path, fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.plugin_manager().register(ClashingExchange())
    exchange_registry.refresh()
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli.app, ["exchange", "apis"])
    assert result.exit_code == 1, (result.stdout, result.exception)
    assert "cannot register the plugins' exchanges" in result.stderr
    assert "'ncmec' is taken by NcmecExchange" in result.stderr
    assert "Traceback" not in result.stderr
