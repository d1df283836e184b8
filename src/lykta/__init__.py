"""Lykta: match, watch, score, review and report — self-hosted."""

__version__ = "0.1.0"
