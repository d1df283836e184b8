"""`lykta match --server`: check files against a running Lykta over HTTP, so that a one-off
check does not load every bank into an index of its own first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lykta.cli.common import err
from lykta.errors import LyktaError

if TYPE_CHECKING:
    import httpx

# A file the server refuses (undecodable, too large, ...) is that file's failure; any other
# refusal (a bad token, an unknown bank) is the whole run's.
FILE_REFUSALS = {400, 413, 415, 422}


def remote_records(
    server: str,
    token: str | None,
    paths: list[Path],
    banks: list[str] | None,
    dihedral: bool | None,
    trim: bool | None,
    local_features: bool = True,
) -> Iterator[dict[str, Any]]:
    """Each file's `lykta match --json` record, as the server at ``server`` looks it up."""
    import httpx

    from lykta.hashing.files import is_video_file, walk

    if not token:
        raise LyktaError(
            "--server needs a token with the matcher scope: set LYKTA_TOKEN or pass --token"
        )
    base = server.rstrip("/")
    params: list[tuple[str, str]] = [("bank", name) for name in banks or ()]
    if not local_features:
        params.append(("local_features", "false"))
    for name, value in (("dihedral", dihedral), ("trim", trim)):
        if value is not None:
            params.append((name, "true" if value else "false"))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300.0) as client:
        status = _answer(client, base, "GET", "/api/v1/status")
        if not any(status["index_size"].values()):
            err.print(
                "[yellow]warning:[/yellow] the server's banks hold no hashes: nothing can match",
                highlight=False,
            )
        floors = _quality_floors(client, banks)
        for path, problem in walk(paths):
            if problem is not None:
                yield {"path": str(path), "error": problem}
                continue
            try:
                with path.open("rb") as file:
                    if is_video_file(path):
                        # Streamed: a video of gigabytes is never held in memory either side.
                        body = _answer(
                            client, base, "POST", "/api/v1/lookup/stream",
                            params=params, content=_chunks(file),
                        )  # fmt: skip
                    else:
                        body = _answer(
                            client, base, "POST", "/api/v1/lookup",
                            params=params, files={"file": (path.name, file)},
                        )  # fmt: skip
            except OSError as error:
                yield {"path": str(path), "error": f"cannot read: {error.strerror}"}
                continue
            except _FileRefused as refusal:
                yield {"path": str(path), "error": str(refusal)}
                continue
            hashes = body.pop("hashes")
            if hashes.get("media_kind") == "video":
                yield {"path": str(path), **body}
                continue
            quality = hashes["quality"]
            body["warnings"] = [
                f"pdq quality {quality} is below bank {name}'s minimum {floor}: "
                "pdq not compared there"
                for name, floor in floors.items()
                if quality < floor
            ]
            yield {"path": str(path), **body}


def _chunks(file: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


class _FileRefused(Exception):
    """The server could not look one file up; the message says why."""


def _answer(client: httpx.Client, base: str, method: str, url: str, **kw: Any) -> Any:
    import httpx

    try:
        response = client.request(method, url, **kw)
    except httpx.HTTPError as error:
        raise LyktaError(f"cannot reach {base}: {error}") from None
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text.strip()[:200]
    if method == "POST" and response.status_code in FILE_REFUSALS:
        raise _FileRefused(str(detail))
    raise LyktaError(f"{base} answered {response.status_code}: {detail}")


def _quality_floors(client: httpx.Client, wanted: list[str] | None) -> dict[str, int]:
    """Each searched bank's PDQ minimum quality, when the token may list banks (curator);
    a matcher token cannot, and below-quality photos then go unreported."""
    response = client.get("/api/v1/banks")
    if not response.is_success:
        return {}
    floors = {}
    for bank in response.json():
        if bank["negative"] or not bank["enabled"] or (wanted and bank["name"] not in wanted):
            continue
        rule = bank["thresholds"].get("pdq") or {}
        floors[bank["name"]] = rule.get("min_quality") or 0
    return floors
