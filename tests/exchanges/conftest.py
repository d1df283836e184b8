"""Fixtures of the exchange tests: NCMEC-, StopNCII- and ThreatExchange-like servers with
benign hashes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest

from lykta.app import Lykta
from tests.exchanges.servers import (
    NCMEC_PASSWORD,
    NCMEC_USER,
    STOPNCII_FUNCTION_KEY,
    STOPNCII_SUBSCRIPTION_KEY,
    TE_TOKEN,
    NcmecEntry,
    NcmecState,
    StopNciiState,
    ThreatExchangeState,
    ncmec_server,
    stopncii_server,
    threatexchange_server,
)


def pdq_of(n: int) -> str:
    """A distinct, valid PDQ hash (64 hex digits) for ``n``."""
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


def md5_of(n: int) -> str:
    return hashlib.md5(f"video-{n}".encode()).hexdigest()


def ncmec_entries(count: int, *, start: int = 0, at: int | None = None) -> list[NcmecEntry]:
    """``count`` entries, images with a PDQ and every fifth a video with an MD5."""
    at = at if at is not None else int(time.time()) - 3600
    out = []
    for n in range(start, start + count):
        if n % 5 == 4:
            out.append(NcmecEntry(f"v{n}", 100 + n % 3, "video", at + n % 600, {"md5": md5_of(n)}))
        else:
            out.append(NcmecEntry(f"i{n}", 100 + n % 3, "image", at + n % 600, {"pdq": pdq_of(n)}))
    return out


@pytest.fixture
def ncmec() -> Iterator[tuple[NcmecState, str]]:
    state = NcmecState()
    with ncmec_server(state) as url:
        yield state, url


@pytest.fixture
def stopncii() -> Iterator[tuple[StopNciiState, str]]:
    state = StopNciiState()
    with stopncii_server(state) as url:
        yield state, url


@pytest.fixture
def threatexchange() -> Iterator[tuple[ThreatExchangeState, str]]:
    state = ThreatExchangeState()
    with threatexchange_server(state) as url:
        yield state, url


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYKTA_TEST_NCMEC", f"{NCMEC_USER}:{NCMEC_PASSWORD}")
    monkeypatch.setenv(
        "LYKTA_TEST_STOPNCII", f"{STOPNCII_FUNCTION_KEY},{STOPNCII_SUBSCRIPTION_KEY}"
    )
    monkeypatch.setenv("LYKTA_TEST_TE", TE_TOKEN)


def add_ncmec(core: Lykta, url: str, bank: str = "NCMEC") -> None:
    core.exchanges.add(
        bank, "ncmec", config={"environment": "test_Industry", "base_url": url},
        credentials="env:LYKTA_TEST_NCMEC",
    )  # fmt: skip


def add_stopncii(core: Lykta, url: str, bank: str = "STOPNCII") -> None:
    core.exchanges.add(
        bank, "stop_ncii", config={"base_url": url}, credentials="env:LYKTA_TEST_STOPNCII"
    )
