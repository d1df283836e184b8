"""In-memory hash indexes that matching runs against: Hamming radius search and exact keys."""

from lykta.index.base import HashIndex
from lykta.index.exact import ExactIndex
from lykta.index.hamming import HammingIndex

__all__ = ["ExactIndex", "HammingIndex", "HashIndex"]
