"""Free local ports for the servers tests start (Lykta, nginx, RTMP and SRT peers)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 nothing listens on now (TCP, or UDP with ``SOCK_DGRAM``)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
