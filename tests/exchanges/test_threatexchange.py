"""Syncs from a local server speaking the Graph API's ``/{privacy group}/threat_updates``
as python-threatexchange's ThreatExchange client calls it, on SQLite and PostgreSQL."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import select

from lykta.app import Lykta
from lykta.exchanges import ExchangeError
from lykta.store.models import ExchangeItem
from tests.exchanges.conftest import md5_of, pdq_of
from tests.exchanges.servers import TE_TOKEN, ThreatExchangeState, ThreatUpdate

pytestmark = pytest.mark.usefixtures("credentials")

GROUP = 303636684709969
T0 = 1_700_000_000


def _add(core: Lykta, url: str) -> None:
    core.exchanges.add(
        "TX", "fb_threatexchange", config={"privacy_group": GROUP, "base_url": url},
        credentials="env:LYKTA_TEST_TE",
    )  # fmt: skip


def test_a_bank_follows_a_privacy_group(
    core: Lykta, threatexchange: tuple[ThreatExchangeState, str]
) -> None:
    state, url = threatexchange
    for n in range(250):
        state.put(GROUP, ThreatUpdate(n, "HASH_PDQ", pdq_of(n), T0 + n, tags=("sample",)))
    for n in range(250, 255):
        state.put(GROUP, ThreatUpdate(n, "HASH_VIDEO_MD5", md5_of(n), T0 + n))
    state.put(GROUP, ThreatUpdate(300, "URI", "https://example.invalid/x", T0))  # no kind
    state.put(GROUP, ThreatUpdate(301, "HASH_PDQ", pdq_of(301), T0, status="NON_MALICIOUS"))
    state.put(GROUP + 1, ThreatUpdate(400, "HASH_PDQ", pdq_of(400), T0))  # another group
    _add(core, url)

    result = core.exchanges.sync("TX")
    assert (result.added, result.removed) == (255, 0)
    assert core.banks.kind_counts("TX") == {"pdq": 250, "md5": 5}
    # The client pages by the server's `paging.next` links, 100 updates a page.
    assert len(state.requests) == 3 and "after=200" in state.requests[-1]
    assert "start_time" not in state.requests[0]
    match = core.lookup_hash("pdq", pdq_of(7)).matches[0]
    assert (match.external_id, match.labels) == (f"HASH_PDQ:{pdq_of(7)}", ("sample",))
    assert core.lookup_hash("md5", md5_of(252)).matches
    for left_out in (301, 400):
        assert core.lookup_hash("pdq", pdq_of(left_out)).matches == []
    with core.sessions() as session:
        opinion = session.scalar(
            select(ExchangeItem.opinion).where(ExchangeItem.item_key == f"HASH_PDQ:{pdq_of(7)}")
        )
    assert opinion == "positive_class"
    assert core.exchanges.get("TX").status.checkpoint_ts == T0 + 254

    # Upstream: one indicator retagged, one deleted, one new; the next sync follows from
    # the checkpoint's time, not from the start.
    state.put(GROUP, ThreatUpdate(8, "HASH_PDQ", pdq_of(8), T0 + 500, tags=("retagged",)))
    state.delete(GROUP, 7, T0 + 501)
    state.put(GROUP, ThreatUpdate(900, "HASH_PDQ", pdq_of(900), T0 + 502))
    state.requests.clear()
    result = core.exchanges.sync("TX")
    assert (result.added, result.updated, result.removed) == (1, 1, 1)
    assert f"start_time={T0 + 254}" in state.requests[0] and len(state.requests) == 1
    assert core.lookup_hash("pdq", pdq_of(7)).matches == []
    assert core.lookup_hash("pdq", pdq_of(8)).matches[0].labels == ("retagged",)
    assert core.lookup_hash("pdq", pdq_of(900)).matches[0].external_id == f"HASH_PDQ:{pdq_of(900)}"
    assert core.banks.get("TX").content_count == 255
    assert core.exchanges.get("TX").status.items == 255


def test_a_refused_token_fails_the_sync_without_showing_it(
    core: Lykta,
    threatexchange: tuple[ThreatExchangeState, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, url = threatexchange
    state.put(GROUP, ThreatUpdate(1, "HASH_PDQ", pdq_of(1), T0))
    _add(core, url)
    wrong = TE_TOKEN.replace("secret", "forged")
    monkeypatch.setenv("LYKTA_TEST_TE", wrong)
    with pytest.raises(ExchangeError, match="400") as error:
        core.exchanges.sync("TX")
    # The client sends its token in the query string, which the HTTP error repeats.
    assert "access_token" in state.requests[0]
    secret = wrong.partition("|")[2]
    assert secret in urllib.parse.unquote(state.requests[0])
    for shown in (str(error.value), core.exchanges.get("TX").status.last_error):
        assert "access_token=***" in shown and secret not in shown
    assert core.banks.get("TX").content_count == 0
