"""Every door prints a result the same way: `lykta ... --json` lines and HTTP bodies come
from one model per result type, so scripts read the same field names from both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.cli import app
from tests.conftest import make_photo, make_settings

MATCH_FIELDS = {
    "bank", "negative", "content_id", "external_id", "id", "labels", "kind", "distance",
    "transform", "query_hash", "query_share", "bank_share", "segments", "covered",
}  # fmt: skip


class Doors:
    """One LYKTA_HOME, seen through the CLI and through HTTP."""

    def __init__(self, home: Path) -> None:
        self.core = Lykta.open(make_settings(home))
        self.runner = CliRunner()
        self.headers = {"Authorization": f"Bearer {self.core.tokens.create(Scope.CURATOR)[1]}"}

    def cli(self, *args: str, code: int = 0) -> list[dict[str, Any]]:
        result = self.runner.invoke(app, [*args, "--json"])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def http(self) -> TestClient:
        return TestClient(create_app(self.core, follow_changes=False))


@pytest.fixture
def doors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Doors]:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    opened = Doors(tmp_path / "home")
    yield opened
    opened.core.close()


def test_a_match_reads_the_same_from_cli_and_http(doors: Doors, tmp_path: Path) -> None:
    photo = tmp_path / "known-7.jpg"
    photo.write_bytes(make_photo(7))
    doors.core.banks.create("known")
    doors.core.add_media("known", photo)
    [record] = doors.cli("match", str(photo), code=1)  # 1: something matched
    with doors.http() as client:
        body = client.post(
            "/api/v1/lookup", files={"file": photo.read_bytes()}, headers=doors.headers
        ).json()
    assert record["matches"] == body["matches"]
    assert [m["kind"] for m in record["matches"]] == ["md5"]  # one per item, its best hash
    for match in record["matches"]:
        assert set(match) == MATCH_FIELDS
        assert match["id"] == match["external_id"] == "known-7"
    assert record["suppressed_by"] == body["suppressed_by"] == []
    assert (record["capped"], record["match_cap"]) == (body["capped"], body["match_cap"])


def test_suppressed_by_lists_matches_in_both(doors: Doors, tmp_path: Path) -> None:
    photo = tmp_path / "meme.jpg"
    photo.write_bytes(make_photo(8))
    doors.core.banks.create("known")
    doors.core.banks.create("benign", negative=True)
    doors.core.add_media("known", photo)
    doors.core.add_media("benign", photo, external_id="fp-1")
    [record] = doors.cli("match", str(photo))
    with doors.http() as client:
        body = client.post(
            "/api/v1/lookup", files={"file": photo.read_bytes()}, headers=doors.headers
        ).json()
    assert record["matches"] == body["matches"] == []
    assert record["suppressed_by"] == body["suppressed_by"]
    assert {(m["bank"], m["id"]) for m in record["suppressed_by"]} == {("benign", "fp-1")}


def test_banks_and_import_summaries_read_the_same(doors: Doors, tmp_path: Path) -> None:
    hashes = tmp_path / "list.txt"
    hashes.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    [created] = doors.cli("bank", "create", "list")
    [imported] = doors.cli("bank", "import", "list", str(hashes), "--kind", "md5")
    [listed] = doors.cli("bank", "list")
    with doors.http() as client:
        [bank] = client.get("/api/v1/banks", headers=doors.headers).json()
        again = client.post(
            "/api/v1/banks/list/import?kind=md5",
            files={"file": hashes.read_bytes()},
            headers=doors.headers,
        ).json()
    assert listed == bank
    assert set(created) == set(bank)
    assert set(imported) == set(again)
    assert (imported["added"], again["duplicates"]) == (1, 1)
