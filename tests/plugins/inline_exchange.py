"""An exchange from outside Lykta, as a third-party package would ship it: the programme's
python-threatexchange API (here a tiny one: signals written in the exchange's settings),
one ``Exchange`` class and one hook implementation. For a programme python-threatexchange
already speaks, the package is the ``Exchange`` class and the hook alone."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import (
    SignalExchangeAPIWithSimpleUpdates,
    TSignalExchangeAPI,
)
from threatexchange.signal_type.signal_base import SignalType

from lykta.exchanges.base import Exchange
from lykta.plugins import hookimpl

_NAME = "inline_list"


@dataclass
class _Required:
    signals: list[str] = field(metadata={"help": "'<signal type> <signal>' lines"})


@dataclass
class InlineListConfig(CollaborationConfigWithDefaults, _Required):
    api: str = field(init=False, default=_NAME)


@dataclass
class InlineListAPI(
    SignalExchangeAPIWithSimpleUpdates[
        InlineListConfig, state.FetchCheckpointBase, state.FetchedSignalMetadata
    ]
):
    """The wire of the programme: here, the signals listed in the exchange's settings."""

    collab: InlineListConfig

    @classmethod
    def get_name(cls) -> str:
        return _NAME

    @staticmethod
    def get_config_cls() -> type[InlineListConfig]:
        return InlineListConfig

    @staticmethod
    def get_checkpoint_cls() -> type[state.FetchCheckpointBase]:
        return state.FetchCheckpointBase

    @staticmethod
    def get_record_cls() -> type[state.FetchedSignalMetadata]:
        return state.FetchedSignalMetadata

    @classmethod
    def for_collab(cls, collab: InlineListConfig) -> InlineListAPI:
        return cls(collab)

    def fetch_iter(
        self,
        _supported_signal_types: Sequence[type[SignalType]],
        checkpoint: state.FetchCheckpointBase | None,
    ) -> Iterator[state.FetchDelta[tuple[str, str], state.FetchedSignalMetadata, t.Any]]:
        updates: dict[tuple[str, str], state.FetchedSignalMetadata | None] = {}
        for line in self.collab.signals:
            signal_type, _, signal = line.strip().partition(" ")
            updates[signal_type, signal.strip()] = state.FetchedSignalMetadata()
        yield state.FetchDelta(updates, state.FetchCheckpointBase())


class InlineListExchange(Exchange):
    """What Lykta needs to know of the programme: the API, and that every fetch sends the
    whole list (so what a fetch leaves out is removed)."""

    name = _NAME
    api_cls = t.cast(type[TSignalExchangeAPI], InlineListAPI)
    full_fetch = True


@hookimpl
def lykta_exchanges() -> list[type[Exchange]]:
    return [InlineListExchange]
