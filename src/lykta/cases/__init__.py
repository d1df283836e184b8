"""Cases: alerts about one subject grouped for one decision and one report, with a
priority, a state, an assignee and a history; context platforms attach to a subject; bank
items that keep misfiring, quarantined."""

from lykta.cases.context import ContextInfo, NewContext
from lykta.cases.service import CaseDetail, CaseInfo, CaseService, EventInfo, MisfireInfo
from lykta.cases.states import CaseState

__all__ = [
    "CaseDetail",
    "CaseInfo",
    "CaseService",
    "CaseState",
    "ContextInfo",
    "EventInfo",
    "MisfireInfo",
    "NewContext",
]
