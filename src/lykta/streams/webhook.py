"""Tell the platform about a match: a signed JSON POST, retried with backoff.

Deliveries run on their own threads, off the hashing path: a platform that is slow or down
delays its own calls, never the watchers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lykta.errors import InvalidInput

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lykta-Signature"
# Waits between attempts while the platform does not answer (or answers 5xx or 429):
# 0.5 s doubling to 30 s, about four minutes in all, then the call is given up (logged).
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
MAX_ATTEMPTS = 12
TIMEOUT_SECONDS = 10.0
DELIVERY_THREADS = 4


def sign(body: bytes, secret: str) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_webhook(url: str) -> None:
    """Refuse a webhook URL that is not an absolute http(s) URL."""
    import httpx  # here, not at the top: commands that only list streams never call out

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise InvalidInput(f"webhook {url!r} is not an http:// or https:// URL")


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), default=str).encode()


class WebhookSender:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="lykta-webhook")
        import httpx

        self._client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    def send(self, url: str, event: dict[str, Any]) -> None:
        """Queue one call; it is made at once when a delivery thread is free."""
        self._pool.submit(self._deliver, url, encode(event))

    def _deliver(self, url: str, body: bytes) -> bool:
        import httpx

        headers = {"Content-Type": "application/json", "User-Agent": "lykta-webhook"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        delay = FIRST_DELAY_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    return True
                if response.status_code < 500 and response.status_code != 429:
                    log.warning("webhook refused the call (HTTP %s); not retried",
                                response.status_code)  # fmt: skip
                    return False
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                problem = type(error).__name__
            log.info("webhook attempt %d failed (%s); retrying in %.1f s", attempt, problem, delay)
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, MAX_DELAY_SECONDS)
        log.warning("webhook gave up after %d attempts", MAX_ATTEMPTS)
        return False

    def close(self) -> None:
        """Stop retrying; calls still queued get one attempt each."""
        self._stop.set()
        self._pool.shutdown(wait=True)
        self._client.close()
