"""Tests for lykta.hashing.exact: MD5 and SHA-256 against published vectors."""

from __future__ import annotations

import csv
from pathlib import Path

from lykta.hashing.exact import Md5Hasher, Sha256Hasher
from tests.testdata import THREATEXCHANGE

from .contract import HasherContract

PDQMD5_CSV = THREATEXCHANGE / "pdq" / "wasm" / "test" / "TestData" / "PDQMD5TestData.csv"
VIDEOS = THREATEXCHANGE / "tmk" / "sample-videos"


class TestMd5Hasher(HasherContract):
    hasher = Md5Hasher()

    def reference_cases(self) -> list[tuple[Path, str, int]]:
        if not PDQMD5_CSV.exists():
            return []
        cases = []
        with PDQMD5_CSV.open() as rows:
            for row in csv.DictReader(rows):
                video = VIDEOS / Path(row["FilePath"]).name
                if video.suffix == ".mp4" and video.exists():
                    cases.append((video, row["Hash"], 0))
        return cases

    def test_rfc_vector(self) -> None:
        assert self.hasher.hash_bytes(b"abc") == "900150983cd24fb0d6963f7d28e17f72"


class TestSha256Hasher(HasherContract):
    hasher = Sha256Hasher()

    def test_fips_vector(self) -> None:
        assert self.hasher.hash_bytes(b"abc") == (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )

    def test_distance_is_zero_or_one(self) -> None:
        first, second = self.hasher.examples()[:2]
        assert self.hasher.distance(first, second.upper()) == 1
        assert self.hasher.distance(first, first.upper()) == 0
