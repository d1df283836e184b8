"""The ``Exchange`` interface: one class per hash-sharing programme, over the
python-threatexchange ``SignalExchangeAPI`` that speaks to it.

python-threatexchange owns the wire (HTTP clients, paging, checkpoints, its signal types);
an ``Exchange`` only says how Lykta builds that API for a bank (its settings, its
credentials, a base URL for a local or proxied server) and how an update of the exchange
becomes a content item: the exchange's own id for it, its hashes in Lykta's kinds, and
what the source said of it (opinion and labels).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, ClassVar

from threatexchange.exchanges import auth
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.fetch_state import (
    AggregateSignalOpinionCategory,
    FetchCheckpointBase,
    FetchedSignalMetadata,
)
from threatexchange.exchanges.signal_exchange_api import TSignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType
from threatexchange.utils import dataclass_json

from lykta.banks.items import ContentItem, ItemHash
from lykta.errors import InvalidInput, LyktaError
from lykta.hashing.base import Hasher
from lykta.hashing.registry import from_foreign, get_hasher

#: python-threatexchange's signal types whose hashes Lykta can hold; each maps onto the
#: Lykta kind that lists its name under ``foreign_names["threatexchange"]``.
SIGNAL_TYPES: tuple[type[SignalType], ...] = (PdqSignal, VideoMD5Signal, VideoSHA256Signal)
#: Settings of every exchange that Lykta reads itself rather than the API's config class.
LYKTA_FIELDS = frozenset({"base_url"})
# Fields of every config class that Lykta fills in from the exchange row.
_ROW_FIELDS = frozenset({"name", "api", "enabled"})


class ExchangeError(LyktaError):
    """A sync could not run or finish: bad credentials, an unreachable or failing server."""


@dataclass(frozen=True)
class FetchedItem:
    """One update of an exchange as a bank content item, or a removal (``item`` None)."""

    key: str
    item: ContentItem | None
    opinion: str = ""
    labels: tuple[str, ...] = ()

    @cached_property
    def codes(self) -> list[tuple[str, bytes]]:
        """Each hash as (kind, code), as the bank stores it."""
        if self.item is None:
            return []
        return [(h.kind, get_hasher(h.kind).to_code(h.value)) for h in self.item.hashes]

    def to_wire(self) -> tuple[Any, ...]:
        """Plain values (fast to pickle) with what the writer needs worked out."""
        if self.item is None:
            return (self.key,)
        hashes = tuple(
            (h.kind, h.value, code, h.quality, h.seconds)
            for h, (_, code) in zip(self.item.hashes, self.codes, strict=True)
        )
        return (self.key, self.opinion, self.labels, self.digest, hashes, self.item.external_id)

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> FetchedItem:
        if len(wire) == 1:
            return cls(wire[0], None)
        key, opinion, labels, digest, hashes, external_id = wire
        item = ContentItem(
            tuple(ItemHash(kind, value, quality, seconds)
                  for kind, value, _, quality, seconds in hashes),
            external_id, labels,
        )  # fmt: skip
        fetched = cls(key, item, opinion, labels)
        # Worked out by the fetcher already.
        fetched.__dict__["codes"] = [(kind, code) for kind, _, code, _, _ in hashes]
        fetched.__dict__["digest"] = digest
        return fetched

    @cached_property
    def digest(self) -> str:
        """Changes when what the bank would hold of it changes (hashes, labels, opinion)."""
        if self.item is None:
            return ""
        hashes = self.item.hashes
        parts = [f"{h.kind}:{h.value}" for h in hashes]
        if len(parts) > 1:
            parts.sort()
        text = f"{';'.join(parts)}|{';'.join(self.labels)}|{self.opinion}"
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class Exchange:
    """One hash-sharing programme. ``name`` is the python-threatexchange API's name (a
    storage key, never changed); subclasses override what their API does differently."""

    name: ClassVar[str]
    api_cls: ClassVar[type[TSignalExchangeAPI]]
    #: How its credentials are written, where it takes any (python-threatexchange's form).
    credential_format: ClassVar[str] = ""
    #: Its client can be pointed at another server (``base_url``: a proxy, a test server).
    takes_base_url: ClassVar[bool] = False
    #: Fetch in a process of its own (an exchange that can send millions of entries).
    fetch_in_process: ClassVar[bool] = False
    #: Every fetch returns the whole list (no deltas), or nothing at all when the list is
    #: unchanged since the checkpoint it is given: what a fetch that returns the list leaves
    #: out is removed.
    full_fetch: ClassVar[bool] = False

    # --- settings ----------------------------------------------------------------------

    @property
    def config_cls(self) -> type[CollaborationConfigBase]:
        return self.api_cls.get_config_cls()

    @property
    def credential_cls(self) -> type[auth.CredentialHelper] | None:
        if issubclass(self.api_cls, auth.SignalExchangeWithAuth):
            return t.cast(type[auth.CredentialHelper], self.api_cls.get_credential_cls())
        return None

    def collab(self, bank: str, config: Mapping[str, Any]) -> CollaborationConfigBase:
        """The API's config for ``bank`` from the stored settings; a bad one raises
        ``InvalidInput`` naming the field."""
        values = {k: v for k, v in config.items() if k not in LYKTA_FIELDS}
        known = {f.name for f in dataclasses.fields(self.config_cls)} - _ROW_FIELDS
        unknown = set(values) - known
        if unknown:
            shown = ", ".join(sorted(known)) or "none"
            raise InvalidInput(
                f"exchange {self.name!r} has no setting {', '.join(sorted(unknown))} "
                f"(its settings: {shown}; and base_url)"
            )
        values = _enum_names_to_values(self.config_cls, values)
        values.update(name=bank, api=self.name, enabled=True)
        try:
            return dataclass_json.dataclass_load_dict(values, self.config_cls)
        except Exception as error:  # dacite says which field and why
            raise InvalidInput(f"bad settings for exchange {self.name!r}: {error}") from None

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` checked, as it will be stored."""
        base_url = config.get("base_url")
        if base_url is not None and not self.takes_base_url:
            raise InvalidInput(f"exchange {self.name!r} does not take a base_url")
        if base_url is not None and (
            not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
        ):
            raise InvalidInput("base_url must be an http:// or https:// URL")
        self.collab("CHECK", config)
        return dict(config)

    def urls(self, config: Mapping[str, Any]) -> list[str]:
        """The URLs a sync of ``config`` fetches that a curator chose (checked against
        LYKTA_EXCHANGE_HOSTS when set and before every sync)."""
        base_url = config.get("base_url")
        return [base_url] if isinstance(base_url, str) and base_url else []

    # --- the API -----------------------------------------------------------------------

    def parse_credentials(self, text: str) -> auth.CredentialHelper:
        """Credentials from their text form (python-threatexchange's, as in its
        environment variables); the message never repeats the text."""
        cls = self.credential_cls
        if cls is None:
            raise InvalidInput(f"exchange {self.name!r} takes no credentials")
        try:
            credentials = cls._from_str(text)
        except Exception:
            credentials = None
        if credentials is None or not credentials._are_valid():
            raise ExchangeError(
                f"the credentials of exchange {self.name!r} are not in its format "
                f"({self.credential_format})"
            )
        return credentials

    def client(
        self,
        collab: CollaborationConfigBase,
        credentials: auth.CredentialHelper | None,
        base_url: str | None,
    ) -> TSignalExchangeAPI:
        """An authenticated API for ``collab``."""
        if base_url:
            raise InvalidInput(f"exchange {self.name!r} does not take a base_url")
        if self.credential_cls is None:
            return self.api_cls.for_collab(collab)
        api = t.cast(Any, self.api_cls).for_collab(collab, credentials)
        return t.cast(TSignalExchangeAPI, api)

    def restricted(self, client: TSignalExchangeAPI, hosts: str) -> TSignalExchangeAPI:
        """``client`` told the hosts the server may fetch from (LYKTA_EXCHANGE_HOSTS), for
        the redirects it follows; a client made by another library cannot be, and is
        returned as it is (its ``urls`` are still checked before each sync)."""
        return client

    def checkpoint_of(self, text: str | None) -> FetchCheckpointBase | None:
        if text is None:
            return None
        return dataclass_json.dataclass_loads(text, self.api_cls.get_checkpoint_cls())

    # --- updates -----------------------------------------------------------------------

    def item_key(self, key: Any) -> str:
        """The exchange's own id of an update, as stored."""
        return ":".join(key) if isinstance(key, tuple) else str(key)

    def items(
        self, collab: CollaborationConfigBase, updates: Mapping[Any, Any]
    ) -> list[FetchedItem]:
        """Each update as a content item with its hashes in Lykta's kinds and its
        provenance, or as a removal: deleted upstream, holding no hash Lykta can bank, or
        held by every source to be a false positive."""
        out = []
        api = self.api_cls
        for key, value in updates.items():
            merged = api.fetch_value_merge(None, value) if value is not None else None
            stored_key = self.item_key(key)
            if merged is None:
                out.append(FetchedItem(stored_key, None))
                continue
            converted = api.naive_convert_to_signal_type(SIGNAL_TYPES, collab, {key: merged})
            out.append(_fetched_item(stored_key, converted))
        return out


@cache
def kind_of(signal_type: type[SignalType]) -> Hasher:
    """The Lykta kind a python-threatexchange signal type's hashes are stored as."""
    return from_foreign("threatexchange", signal_type.get_name())


def _fetched_item(
    key: str, converted: Mapping[type[SignalType], Mapping[str, FetchedSignalMetadata]]
) -> FetchedItem:
    hashes: list[ItemHash] = []
    tags: set[str] = set()
    opinion: AggregateSignalOpinionCategory | None = None
    for signal_type, signals in converted.items():
        kind = kind_of(signal_type)
        for value, metadata in signals.items():
            hashes.append(ItemHash(kind.name, kind.validate(value)))
            aggregate = metadata.get_as_aggregate_opinion()
            tags.update(aggregate.tags)
            opinion = AggregateSignalOpinionCategory.aggregate(opinion, aggregate.category)
    if not hashes or opinion == AggregateSignalOpinionCategory.NEGATIVE_CLASS:
        return FetchedItem(key, None)
    labels = tuple(sorted(tags))
    item = ContentItem(tuple(hashes), key[:512], labels)
    return FetchedItem(key, item, opinion.name.lower() if opinion is not None else "", labels)


def _enum_names_to_values(cls: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Let an enum setting be given by its member's name (``test_Industry``) as well as
    by its value (a URL, for NCMEC's environments)."""
    hints = t.get_type_hints(cls)
    out = dict(values)
    for name, value in values.items():
        kind = hints.get(name)
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and isinstance(value, str):
            member = kind.__members__.get(value)
            if member is not None:
                out[name] = member.value
    return out


def signal_type_names() -> Sequence[str]:
    return [st.get_name() for st in SIGNAL_TYPES]
