"""Banks that follow hash-sharing programmes (NCMEC, StopNCII, ThreatExchange, lists),
through python-threatexchange's exchange clients: configuration, credentials, and the
resumable, locked sync that keeps a bank equal to its exchange."""

from lykta.exchanges.base import Exchange, ExchangeError, FetchedItem
from lykta.exchanges.registry import exchange_names, get_exchange
from lykta.exchanges.service import ExchangeInfo, ExchangeService, SyncResult, SyncStatus

__all__ = [
    "Exchange", "ExchangeError", "ExchangeInfo", "ExchangeService", "FetchedItem",
    "SyncResult", "SyncStatus", "exchange_names", "get_exchange",
]  # fmt: skip
