"""In-memory hash indexes that matching runs against: Hamming radius search and exact keys.

``ExactIndex`` and ``HammingIndex`` run on numba kernels, and importing numba takes a
third of a second: they are imported when first named (PEP 562), so commands that only
manage banks, tokens or cases never pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lykta.index.base import HashIndex

if TYPE_CHECKING:
    from lykta.index.exact import ExactIndex
    from lykta.index.hamming import HammingIndex

__all__ = ["ExactIndex", "HammingIndex", "HashIndex"]


def __getattr__(name: str) -> object:
    if name == "ExactIndex":
        from lykta.index.exact import ExactIndex

        return ExactIndex
    if name == "HammingIndex":
        from lykta.index.hamming import HammingIndex

        return HammingIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
