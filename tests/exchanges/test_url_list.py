"""A bank following a hash list published at a URL, on SQLite and PostgreSQL: read whole
when it changed, skipped when the server says it did not (ETag, Last-Modified), items gone
from it removed; a malformed list changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from lykta.app import Lykta
from lykta.errors import Forbidden, InvalidInput
from lykta.exchanges import ExchangeError, url_list
from lykta.store.models import ExchangeItem
from tests.exchanges.conftest import md5_of, pdq_of
from tests.exchanges.servers import ListState, list_server


@pytest.fixture
def published() -> Iterator[tuple[ListState, str]]:
    state = ListState()
    with list_server(state) as url:
        yield state, url


def _text_list(numbers: range | list[int], label: str = "sample") -> str:
    return "# a list of benign hashes\n" + "".join(
        f"{pdq_of(n)},id=item-{n},{label}\n" for n in numbers
    )


def _ids(core: Lykta, bank: str) -> set[str | None]:
    return {item.external_id for item in core.banks.export(bank)}


def test_a_bank_follows_a_list_and_skips_it_while_unchanged(
    core: Lykta, published: tuple[ListState, str]
) -> None:
    state, url = published
    state.publish(_text_list(range(6)))
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})

    result = core.exchanges.sync("LIST")
    assert (result.added, result.removed) == (6, 0)
    assert _ids(core, "LIST") == {f"item-{n}" for n in range(6)}
    match = core.lookup_hash("pdq", pdq_of(3)).matches[0]
    assert (match.bank, match.external_id, match.labels) == ("LIST", "item-3", ("sample",))
    assert state.requests[-1] == (None, None, 200)

    # Unchanged: the server answers 304 to the list's ETag, and the bank stays as it is.
    result = core.exchanges.sync("LIST")
    assert (result.added, result.updated, result.removed, result.unchanged) == (0, 0, 0, 0)
    assert state.requests[-1][0] == state.etag and state.requests[-1][2] == 304
    assert core.banks.get("LIST").content_count == 6
    status = core.exchanges.get("LIST").status
    assert status.last_succeeded and status.up_to_date and status.items == 6

    # Upstream: two items gone, one relabelled, one new; the rest unchanged.
    state.publish(_text_list([0, 1, 2, 3]) + f"{pdq_of(5)},id=item-5,retagged\n"
                  + f"{pdq_of(9)},id=item-9,sample\n")  # fmt: skip
    result = core.exchanges.sync("LIST")
    assert (result.added, result.updated, result.removed, result.unchanged) == (1, 1, 1, 4)
    # item-4 left the list too: removed along with the stale copy of item-5
    assert _ids(core, "LIST") == {"item-0", "item-1", "item-2", "item-3", "item-5", "item-9"}
    assert core.lookup_hash("pdq", pdq_of(4)).matches == []
    assert core.lookup_hash("pdq", pdq_of(5)).matches[0].labels == ("retagged",)
    with core.sessions() as session:
        opinion = session.scalar(
            select(ExchangeItem.opinion).where(ExchangeItem.item_key == "item-9")
        )
    assert opinion == "positive_class"


def test_last_modified_alone_skips_an_unchanged_list(
    core: Lykta, published: tuple[ListState, str]
) -> None:
    state, url = published
    state.send_etag = False
    state.publish(f"pdq {pdq_of(1)}\nvideo_md5 {md5_of(2)} clip\n")
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/signals",
                                                   "format": "threatexchange"})  # fmt: skip
    assert core.exchanges.sync("LIST").added == 2
    assert _ids(core, "LIST") == {f"pdq:{pdq_of(1)}", f"md5:{md5_of(2)}"}
    assert core.lookup_hash("md5", md5_of(2)).matches[0].labels == ("clip",)
    assert core.exchanges.sync("LIST").written == 0
    since = state.requests[-1][1]
    assert since is not None and since.endswith("GMT") and state.requests[-1][2] == 304
    state.publish(f"pdq {pdq_of(1)}\n")
    result = core.exchanges.sync("LIST")
    assert (result.removed, result.unchanged) == (1, 1)
    assert core.lookup_hash("md5", md5_of(2)).matches == []


def test_a_csv_list_keeps_its_items_together(core: Lykta, published: tuple[ListState, str]) -> None:
    state, url = published
    state.publish(
        "kind,hash,external_id,labels\n"
        f"pdq,{pdq_of(1)},photo-1,a;b\nmd5,{md5_of(1)},photo-1,a;b\n"
        f"pdq,{pdq_of(2)},,\n"
    )
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/export.csv"})
    assert core.exchanges.sync("LIST").added == 2
    assert core.banks.kind_counts("LIST") == {"pdq": 2, "md5": 1}
    found = core.lookup_hash("md5", md5_of(1)).matches[0]
    assert (found.external_id, found.labels) == ("photo-1", ("a", "b"))
    assert core.lookup_hash("pdq", pdq_of(2)).matches[0].external_id == f"pdq:{pdq_of(2)}"


def test_a_malformed_or_missing_list_changes_nothing(
    core: Lykta, published: tuple[ListState, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = published
    state.publish(_text_list(range(3)))
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})
    core.exchanges.sync("LIST")

    state.publish(_text_list([0]) + "secret-first-line,id=bad\n")
    with pytest.raises(ExchangeError, match=r"1 malformed line\(s\) \(line 3;"):
        core.exchanges.sync("LIST")
    assert _ids(core, "LIST") == {"item-0", "item-1", "item-2"}
    # What the line holds is for the log, not for the status curators read.
    assert "secret-first-line" not in core.exchanges.get("LIST").status.last_error
    assert "line 3 of the list: invalid PDQ hash 'secret-first-line'" in caplog.text

    state.publish(_text_list([0]))
    state.status = 404
    with pytest.raises(ExchangeError, match="404"):
        core.exchanges.sync("LIST")
    assert core.banks.get("LIST").content_count == 3

    # Served again, the list (changed since it was last read whole) is followed.
    state.status = 200
    assert core.exchanges.sync("LIST").removed == 2


def test_an_unavailable_server_is_asked_again(
    core: Lykta, published: tuple[ListState, str]
) -> None:
    state, url = published
    state.publish(_text_list(range(3)))
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})
    core.exchanges.backoff = 0.01
    state.unavailable = 2
    result = core.exchanges.sync("LIST")
    assert (result.retries, result.added) == (2, 3)
    assert [status for _, _, status in state.requests] == [503, 503, 200]


def test_a_list_read_half_way_is_read_whole_next_time(
    core: Lykta, published: tuple[ListState, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = published
    state.publish(_text_list(range(25)))
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})
    core.exchanges.batch_items = 10
    monkeypatch.setattr(url_list, "DELTA_ITEMS", 10)
    written: list[int] = []

    def stop_after_the_first_batch(n: int, _ts: int | None) -> None:
        written.append(n)
        if len(written) == 1:
            raise RuntimeError("replica stopped")

    with pytest.raises(ExchangeError, match="replica stopped"):
        core.exchanges.sync("LIST", progress=stop_after_the_first_batch)
    assert core.banks.get("LIST").content_count == 10
    # The validators move only with the list's last item: the next sync asks for it whole.
    core.exchanges.sync("LIST")
    assert state.requests[-1] == (None, None, 200)
    assert core.banks.get("LIST").content_count == 25


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "url"),
        ({"url": "ftp://example.invalid/list.txt"}, "http:// or https://"),
        ({"url": "http://example.invalid/list.txt", "format": "xml"}, "unknown format"),
        ({"url": "http://example.invalid/list.txt", "kind": "crc32"}, "unknown hash type"),
        ({"url": "http://example.invalid/list.txt", "base_url": "http://x"}, "base_url"),
    ],
)
def test_bad_settings_are_refused_when_added(
    core: Lykta, config: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        core.exchanges.add("LIST", "url_list", config=config)


def test_lykta_exchange_hosts_limits_where_lists_are_fetched_from(
    core: Lykta, published: tuple[ListState, str]
) -> None:
    state, url = published  # http://127.0.0.1:PORT/lists
    state.publish(_text_list(range(3)))
    port = url.split(":")[2].split("/")[0]
    core.exchanges.hosts = "public"
    with pytest.raises(Forbidden, match=r"'127\.0\.0\.1' is not allowed: it resolves to a non"):
        core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})
    assert "LIST" not in core.banks.names()

    core.exchanges.hosts = "public, 127.0.0.1"
    core.exchanges.add("LIST", "url_list", config={"url": f"{url}/benign.txt"})
    # A redirect is followed only to a host the setting allows: here to the same server
    # by the name `localhost`, which it does not list.
    state.redirect_to = f"http://localhost:{port}/lists/moved.txt"
    with pytest.raises(Forbidden, match="host 'localhost' is not allowed"):
        core.exchanges.sync("LIST")
    assert core.banks.get("LIST").content_count == 0
    assert "localhost" in (core.exchanges.get("LIST").status.last_error or "")
    state.redirect_to = f"{url}/moved.txt"
    assert core.exchanges.sync("LIST").added == 3

    # Narrowed after the exchange was added: the next sync is refused before any fetch.
    core.exchanges.hosts = "lists.example.org"
    asked = len(state.requests)
    with pytest.raises(Forbidden, match=r"'127\.0\.0\.1' is not in LYKTA_EXCHANGE_HOSTS"):
        core.exchanges.sync("LIST")
    assert len(state.requests) == asked and core.banks.get("LIST").content_count == 3


def test_a_base_url_is_checked_against_lykta_exchange_hosts(core: Lykta) -> None:
    core.exchanges.hosts = "public"
    with pytest.raises(Forbidden, match=r"'127\.0\.0\.1' is not allowed"):
        core.exchanges.add(
            "NCMEC", "ncmec",
            config={"environment": "test_Industry", "base_url": "http://127.0.0.1:9/v2"},
        )  # fmt: skip
