"""The exchanges Lykta ships: NCMEC's hash sharing API, StopNCII, Meta's ThreatExchange,
python-threatexchange's sample signals and a local file of signals, each over the
python-threatexchange API of the same name, and a list at a URL (lykta.exchanges.url_list)."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from typing import Any, ClassVar

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI
from threatexchange.exchanges.clients.ncmec import hash_api
from threatexchange.exchanges.clients.stopncii import api as stopncii
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl import ncmec_api, stop_ncii_api
from threatexchange.exchanges.impl.fb_threatexchange_api import (
    FBThreatExchangeCredentials,
    FBThreatExchangeSignalExchangeAPI,
)
from threatexchange.exchanges.impl.file_api import LocalFileSignalExchangeAPI
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCollabConfig,
    NCMECCredentials,
    NCMECSignalExchangeAPI,
)
from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
from threatexchange.exchanges.signal_exchange_api import TSignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

from lykta.banks.items import ContentItem, ItemHash
from lykta.exchanges.base import SIGNAL_TYPES, Exchange, FetchedItem, kind_of
from lykta.exchanges.url_list import UrlListExchange


class _NcmecHashApiAt(hash_api.NCMECHashAPI):
    """NCMEC's client, speaking to ``base_url`` instead of an environment's address."""

    def __init__(self, username: str, password: str, base_url: str) -> None:
        super().__init__(username, password, hash_api.NCMECEnvironment.test_Industry)
        self._base_url = base_url.rstrip("/")


class _NcmecApiAt(NCMECSignalExchangeAPI):
    base_url: ClassVar[str] = ""

    def get_client(self, environment: hash_api.NCMECEnvironment) -> hash_api.NCMECHashAPI:
        return _NcmecHashApiAt(self._username, self._password, self.base_url)


class NcmecExchange(Exchange):
    name = "ncmec"
    takes_base_url = True
    fetch_in_process = True
    api_cls = t.cast(type[TSignalExchangeAPI], NCMECSignalExchangeAPI)
    credential_format = "user:password"

    def items(
        self, collab: CollaborationConfigBase, updates: Mapping[Any, Any]
    ) -> list[FetchedItem]:
        """As ``naive_convert_to_signal_type`` converts NCMEC entries, one entry at a time,
        with the API's own conversion table built once per batch rather than per entry (a
        million-entry sync would otherwise spend most of its time rebuilding it)."""
        assert isinstance(collab, NCMECCollabConfig)
        conversion = ncmec_api._get_conversion(SIGNAL_TYPES)
        kinds = {signal_type: kind_of(signal_type) for signal_type in conversion.values()}
        only = collab.only_esp_ids
        out = []
        for key, entry in updates.items():
            if entry.deleted or (only and entry.member_id not in only):
                out.append(FetchedItem(key, None))
                continue
            hashes = []
            for fingerprint, value in entry.fingerprints.items():
                signal_type = conversion.get((entry.entry_type, fingerprint))
                if signal_type is None:
                    continue
                try:
                    value = signal_type.validate_signal_str(value)
                except Exception:
                    continue  # as the API's conversion does: a bad fingerprint is skipped
                kind = kinds[signal_type]
                hashes.append(ItemHash(kind.name, kind.validate(value)))
            if not hashes:
                out.append(FetchedItem(key, None))
                continue
            labels = (entry.classification,) if entry.classification else ()
            # NCMEC's entries are all reports: the API knows no false positives.
            out.append(
                FetchedItem(key, ContentItem(tuple(hashes), key, labels), "positive_class", labels)
            )
        return out

    def client(
        self,
        collab: CollaborationConfigBase,
        credentials: auth.CredentialHelper | None,
        base_url: str | None,
    ) -> TSignalExchangeAPI:
        assert isinstance(credentials, NCMECCredentials)
        cls: type[NCMECSignalExchangeAPI] = NCMECSignalExchangeAPI
        if base_url:
            cls = type("NcmecApi", (_NcmecApiAt,), {"base_url": base_url})
        return t.cast(TSignalExchangeAPI, cls(t.cast(Any, collab), credentials.user,
                                              credentials.password))  # fmt: skip


class _StopNciiApi(stop_ncii_api.StopNCIISignalExchangeAPI):
    """python-threatexchange's StopNCII adapter, reading a record's case status: the
    1.2 adapter compares the hash value (not its status) with Withdrawn/Deleted, so
    hashes withdrawn upstream would never be removed."""

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: stop_ncii_api.StopNCIICheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[Any, Any, stop_ncii_api.StopNCIICheckpoint]]:
        start = stopncii.StopNCIIAPI.DEFAULT_START_TIME
        if checkpoint is not None:
            start = checkpoint.update_time
        gone = (stopncii.StopNCIICaseStatus.Withdrawn, stopncii.StopNCIICaseStatus.Deleted)
        types = stop_ncii_api._type_mapping()
        for result in self.api.fetch_hashes_iter(start_timestamp=start):
            updates: dict[tuple[str, str], stop_ncii_api.StopNCIISignalMetadata | None] = {}
            for record in result.hashRecords:
                type_name = types.get(record.signalType)
                if type_name is None:
                    continue
                updates[type_name, record.hashValue] = (
                    None
                    if record.hashStatus in gone
                    else stop_ncii_api.StopNCIISignalMetadata(record.CSPFeedbacks)
                )
            yield state.FetchDelta(
                updates, stop_ncii_api.StopNCIICheckpoint.from_stopncii_fetch(result)
            )


class StopNciiExchange(Exchange):
    name = "stop_ncii"
    takes_base_url = True
    fetch_in_process = True
    api_cls = t.cast(type[TSignalExchangeAPI], stop_ncii_api.StopNCIISignalExchangeAPI)
    credential_format = "fetch_function_key,subscription_key"

    def client(
        self,
        collab: CollaborationConfigBase,
        credentials: auth.CredentialHelper | None,
        base_url: str | None,
    ) -> TSignalExchangeAPI:
        assert isinstance(credentials, stop_ncii_api.StopNCIICredentials)
        client = stopncii.StopNCIIAPI(
            credentials.subscription_key,
            credentials.fetch_function_key,
            base_url_override=base_url or credentials.base_url_override,
        )
        return t.cast(TSignalExchangeAPI, _StopNciiApi(collab, client))


class ThreatExchangeExchange(Exchange):
    name = "fb_threatexchange"
    takes_base_url = True
    fetch_in_process = True
    api_cls = t.cast(type[TSignalExchangeAPI], FBThreatExchangeSignalExchangeAPI)
    credential_format = "app_id|app_secret access token"

    def client(
        self,
        collab: CollaborationConfigBase,
        credentials: auth.CredentialHelper | None,
        base_url: str | None,
    ) -> TSignalExchangeAPI:
        assert isinstance(credentials, FBThreatExchangeCredentials)
        client = ThreatExchangeAPI(credentials.api_token, endpoint_override=base_url or None)
        return t.cast(
            TSignalExchangeAPI, FBThreatExchangeSignalExchangeAPI(client, t.cast(Any, collab))
        )


class SampleExchange(Exchange):
    """python-threatexchange's example signals: a demonstration needing no account."""

    name = "sample"
    full_fetch = True
    api_cls = t.cast(type[TSignalExchangeAPI], StaticSampleSignalExchangeAPI)


class LocalFileExchange(Exchange):
    """A file of ``signal_type signal`` lines (or bare signals of ``signal_type``),
    read whole on every sync: lines gone from it are removed from the bank."""

    name = "local_file"
    full_fetch = True
    api_cls = t.cast(type[TSignalExchangeAPI], LocalFileSignalExchangeAPI)


BUILTIN_EXCHANGES: tuple[type[Exchange], ...] = (
    NcmecExchange, StopNciiExchange, ThreatExchangeExchange, SampleExchange, LocalFileExchange,
    UrlListExchange,
)  # fmt: skip
