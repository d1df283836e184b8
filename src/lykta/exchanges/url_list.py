"""A hash list published at an http(s) URL, in one of Lykta's import formats, followed as an
exchange: each sync asks the server whether the list changed (ETag, Last-Modified), and when
it did, reads it whole, adds and replaces its items and removes those that left it.

python-threatexchange has no API for such lists, so this module gives it one in the
library's own terms (a ``SignalExchangeAPI`` with its config and checkpoint classes); the
sync then treats it like every other exchange.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import (
    CollaborationConfigBase,
    CollaborationConfigWithDefaults,
)
from threatexchange.exchanges.signal_exchange_api import (
    SignalExchangeAPIWithSimpleUpdates,
    TSignalExchangeAPI,
)
from threatexchange.signal_type.signal_base import SignalType

from lykta.banks.formats import (
    MAX_EXTERNAL_ID,
    HashListFormat,
    LineError,
    file_stem,
    get_format,
    guess_format,
)
from lykta.banks.items import ContentItem
from lykta.errors import InvalidInput
from lykta.exchanges.base import Exchange, ExchangeError, FetchedItem
from lykta.hashing.registry import get_hasher

_NAME = "url_list"
#: A list larger than this is refused rather than filling the disk.
MAX_LIST_BYTES = 1 << 30
#: Items handed to the sync at a time (it gathers them into its own batches).
DELTA_ITEMS = 10_000
_TIMEOUT = (10.0, 60.0)  # connect, and between bytes
_MAX_REDIRECTS = 5
_CHUNK = 1 << 20
_LOGGED_ERRORS = 5

log = logging.getLogger(__name__)


@dataclass
class _Required:
    url: str = field(metadata={"help": "http(s) URL of the list"})


@dataclass
class UrlListConfig(CollaborationConfigWithDefaults, _Required):
    format: str = field(
        default="",
        metadata={"help": "text, csv, vpdq or threatexchange; empty: from the URL's path"},
    )
    kind: str = field(
        default="pdq", metadata={"help": "hash kind of lines that name none (text format)"}
    )
    api: str = field(init=False, default=_NAME)


@dataclass
class UrlListCheckpoint(state.FetchCheckpointBase):
    """The validators of the list last read whole (empty while a read is under way: a sync
    that stops half-way must read the whole list again)."""

    etag: str = ""
    last_modified: str = ""
    fetched_at: int = 0

    def get_progress_timestamp(self) -> int:
        return self.fetched_at


class UrlListAPI(
    SignalExchangeAPIWithSimpleUpdates[UrlListConfig, UrlListCheckpoint, Any]
):  # fmt: skip
    """Reads the list: nothing when the server says it is unchanged, else every item, keyed
    by its id in the list (or by its hash, for items without one)."""

    #: Hosts the server may fetch from (LYKTA_EXCHANGE_HOSTS), checked at every redirect.
    allowed_hosts = ""

    def __init__(self, collab: UrlListConfig) -> None:
        self.collab = collab

    @classmethod
    def get_name(cls) -> str:
        return _NAME

    @staticmethod
    def get_config_cls() -> type[UrlListConfig]:
        return UrlListConfig

    @staticmethod
    def get_checkpoint_cls() -> type[UrlListCheckpoint]:
        return UrlListCheckpoint

    @staticmethod
    def get_record_cls() -> type[Any]:
        return ContentItem

    @classmethod
    def for_collab(cls, collab: UrlListConfig) -> UrlListAPI:
        return cls(collab)

    def fetch_iter(
        self,
        _supported_signal_types: Sequence[type[SignalType]],
        checkpoint: UrlListCheckpoint | None,
    ) -> Iterator[state.FetchDelta[Any, Any, UrlListCheckpoint]]:
        # Keyed by the item's id and valued by the item itself: Lykta's ``items`` reads them,
        # python-threatexchange's (signal type, signal) conversion never sees them.
        headers = {}
        if checkpoint is not None and checkpoint.etag:
            headers["If-None-Match"] = checkpoint.etag
        if checkpoint is not None and checkpoint.last_modified:
            headers["If-Modified-Since"] = checkpoint.last_modified
        fetched_at = int(time.time())
        with tempfile.TemporaryFile("w+b") as saved:
            with self._get(headers) as response:
                if response.status_code == 304:
                    return  # unchanged: nothing to add, and nothing to remove
                response.raise_for_status()
                _save(response, saved)
                done = UrlListCheckpoint(
                    response.headers.get("ETag", ""),
                    response.headers.get("Last-Modified", ""),
                    fetched_at,
                )
            # Read twice: a malformed list fails the sync before any of it is written.
            _check(self._items(saved))
            under_way = UrlListCheckpoint(fetched_at=fetched_at)
            updates: dict[str, ContentItem] = {}
            for item in self._items(saved):
                assert isinstance(item, ContentItem)
                updates[_key(item)] = item
                if len(updates) >= DELTA_ITEMS:
                    yield state.FetchDelta(dict(updates), under_way)
                    updates.clear()
            yield state.FetchDelta(dict(updates), done)

    def _get(self, headers: dict[str, str]) -> requests.Response:
        """The list's response, its redirects followed here so each one's host is checked
        as the list's own was."""
        from lykta.media.fetch import check_host  # here: it brings httpx (see service.py)

        url = self.collab.url
        for _ in range(_MAX_REDIRECTS + 1):
            check_host(url, self.allowed_hosts, "LYKTA_EXCHANGE_HOSTS")
            response = requests.get(
                url, headers=headers, stream=True, timeout=_TIMEOUT, allow_redirects=False
            )
            if not response.is_redirect:
                return response
            response.close()
            url = urljoin(url, response.headers["location"])
        raise ExchangeError(f"the list's URL redirected more than {_MAX_REDIRECTS} times")

    def _items(self, saved: IO[bytes]) -> Iterator[ContentItem | LineError]:
        saved.seek(0)
        path = urlsplit(self.collab.url).path
        fmt = list_format(self.collab)
        lines = (_decoded(number, raw) for number, raw in enumerate(saved, start=1))
        return fmt.parse(lines, get_hasher(self.collab.kind).name, file_stem(path))


def list_format(collab: UrlListConfig) -> HashListFormat:
    """The list's format: as set, or as its URL's path says (as an import's file name does)."""
    return get_format(collab.format or guess_format(urlsplit(collab.url).path))


def _save(response: requests.Response, saved: IO[bytes]) -> None:
    size = 0
    for chunk in response.iter_content(_CHUNK):
        size += len(chunk)
        if size > MAX_LIST_BYTES:
            raise ExchangeError(f"the list is larger than {MAX_LIST_BYTES} bytes")
        saved.write(chunk)


def _decoded(number: int, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ExchangeError(f"the list is not UTF-8 text (line {number})") from None
    return text.removeprefix("\ufeff") if number == 1 else text


def _check(found: Iterator[ContentItem | LineError]) -> None:
    errors = []
    for entry in found:
        if isinstance(entry, LineError):
            errors.append(entry)
        else:
            _key(entry)
    if errors:
        # The reasons quote the lines, which go to the log only: the status is shown to
        # curators, and the URL may lead to a server that is not theirs to read.
        for error in errors[:_LOGGED_ERRORS]:
            log.warning("url_list: line %d of the list: %s", error.line, error.reason)
        shown = ", ".join(str(error.line) for error in errors[:_LOGGED_ERRORS])
        more = ", ..." if len(errors) > _LOGGED_ERRORS else ""
        raise ExchangeError(
            f"the list has {len(errors)} malformed line(s) (line {shown}{more}; the log says "
            "why); nothing of it was taken"
        )


def _key(item: ContentItem) -> str:
    """The item's id in the list; for an item without one, its hash (or a digest of its
    hashes, for a video's frames)."""
    if item.external_id is not None:
        if len(item.external_id) > MAX_EXTERNAL_ID:
            raise ExchangeError(f"the list has an id longer than {MAX_EXTERNAL_ID} characters")
        return item.external_id
    if len(item.hashes) == 1:
        return f"{item.hashes[0].kind}:{item.hashes[0].value}"
    joined = ";".join(f"{h.kind}:{h.value}" for h in item.hashes)
    return f"{item.hashes[0].kind}-frames:{hashlib.sha256(joined.encode()).hexdigest()}"


class UrlListExchange(Exchange):
    """A list at an http(s) URL in one of Lykta's import formats (``url``; ``format`` and
    ``kind`` as ``lykta bank import`` takes them)."""

    name = _NAME
    api_cls = t.cast(type[TSignalExchangeAPI], UrlListAPI)
    full_fetch = True

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_config(config)
        collab = self.collab("CHECK", checked)
        assert isinstance(collab, UrlListConfig)
        if not collab.url.startswith(("http://", "https://")) or not urlsplit(collab.url).netloc:
            raise InvalidInput("url must be an http:// or https:// URL")
        list_format(collab)  # an unknown format or kind is refused now, not at the sync
        get_hasher(collab.kind)
        return checked

    def urls(self, config: Mapping[str, Any]) -> list[str]:
        url = config.get("url")
        return [*super().urls(config), *([url] if isinstance(url, str) and url else [])]

    def restricted(self, client: TSignalExchangeAPI, hosts: str) -> TSignalExchangeAPI:
        assert isinstance(client, UrlListAPI)
        client.allowed_hosts = hosts
        return t.cast(TSignalExchangeAPI, client)

    def items(
        self, collab: CollaborationConfigBase, updates: Mapping[Any, Any]
    ) -> list[FetchedItem]:
        """The list's items as they are, their id (or hash) as the stored external id."""
        out = []
        for key, item in updates.items():
            stored = ContentItem(item.hashes, key, item.labels, item.media_kind, item.duration)
            out.append(FetchedItem(key, stored, "positive_class", item.labels))
        return out
