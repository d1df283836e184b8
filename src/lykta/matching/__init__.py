"""Matching: index candidates judged by each bank's rules, kept current from the change log."""

from lykta.matching.matcher import Matcher
from lykta.matching.results import LookupResult, Match, QueryHash

__all__ = ["LookupResult", "Match", "Matcher", "QueryHash"]
