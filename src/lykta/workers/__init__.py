"""Streams spread over several processes or machines: assignments in NATS JetStream."""

from lykta.workers.board import StreamBoard
from lykta.workers.worker import StreamRunner, Worker, preferred_worker

__all__ = ["StreamBoard", "StreamRunner", "Worker", "preferred_worker"]
