"""How long a bank takes to follow an NCMEC-style exchange of a million entries.

A local server that speaks NCMEC's hash sharing API (v2 XML, 1,000 entries a page, `next`
links; tests/exchanges/servers.py) runs in its own process with N entries (a PDQ per image,
an MD5 per fifth entry, a video), and `core.exchanges.sync` fetches them all into a fresh
bank through python-threatexchange's NCMEC client, as `lykta exchange sync` does. Prints
the time of the whole sync and its rate; the target is a million entries in under 2
minutes. Then a second sync with 1% of the entries changed or deleted upstream.

    .venv/bin/python bench/bench_exchange_sync.py              # 1,000,000 entries, SQLite
    .venv/bin/python bench/bench_exchange_sync.py --entries 100000 --postgres
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.exchanges.conftest import ncmec_entries
from tests.exchanges.servers import (
    NCMEC_PASSWORD,
    NCMEC_USER,
    NcmecEntry,
    NcmecState,
    ncmec_server,
)


def serve(entries: int, urls: multiprocessing.Queue, commands: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    state = NcmecState()
    # Spread over an hour, as a day's worth of uploads would be: windows of a minute hold
    # about 1/60 of them, so the client pages rather than probes.
    start = int(time.time()) - 4000
    for entry in ncmec_entries(entries, at=start):
        entry.timestamp = start + hash(entry.id) % 3600
        state.put(entry)
    state.window(0, 0)  # sort once before the clock starts
    with ncmec_server(state) as url:
        urls.put(url)
        while True:
            command = commands.get()
            if command == "stop":
                return
            # Change 1%: half reclassified, half deleted.
            now = int(time.time()) - 5
            for n in range(0, entries, 100):
                entry_id = f"v{n}" if n % 5 == 4 else f"i{n}"
                if n % 200:
                    state.delete(entry_id, now)
                else:
                    old = state.entries[entry_id]
                    state.put(NcmecEntry(old.id, old.member_id, old.kind, now,
                                         old.fingerprints, classification="B1"))  # fmt: skip
            urls.put("changed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="LYKTA_TEST_POSTGRES_URL")
    args = parser.parse_args()

    from lykta.app import Lykta
    from lykta.settings import load_settings

    urls: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    commands: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(args.entries, urls, commands))
    server.start()
    url = urls.get(timeout=600)
    home = Path(tempfile.mkdtemp(prefix="lykta-bench-exchange-"))
    overrides: dict[str, object] = {"home": home}
    if args.postgres:
        overrides["database_url"] = os.environ.get(
            "LYKTA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    os.environ["LYKTA_BENCH_NCMEC"] = f"{NCMEC_USER}:{NCMEC_PASSWORD}"
    core = Lykta.open(load_settings(overrides, environ={}), sync=False)
    bank = f"BENCH_{os.getpid()}"
    try:
        core.exchanges.add(bank, "ncmec", config={"environment": "test_Industry", "base_url": url},
                           credentials="env:LYKTA_BENCH_NCMEC")  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        result = core.exchanges.sync(bank)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"database: {core.engine.dialect.name}; cores: {os.cpu_count()}; "
              f"load: {os.getloadavg()[0]:.1f}")  # fmt: skip
        per_million = took * 1_000_000 / max(result.items, 1)
        print(f"first sync: {result.items:,} entries in {took:.1f} s "
              f"({result.items / took:,.0f} entries/s; {result.batches} batches); "
              f"a million at this rate: {per_million:.0f} s (target < 120 s: "
              f"{'met' if per_million < 120 else 'NOT met'})")  # fmt: skip
        # CPU seconds of this process (all its threads): what the sync costs on a machine
        # with a core to spare for it, whatever else is running.
        print(
            f"first sync CPU: {cpu:.1f} s in the syncing process "
            f"({cpu * 1_000_000 / max(result.items, 1):.0f} s a million)"
        )
        time.sleep(1.1)
        commands.put("change")
        urls.get(timeout=600)
        started = time.perf_counter()
        delta = core.exchanges.sync(bank)
        took = time.perf_counter() - started
        print(f"second sync: {delta.updated:,} updated, {delta.removed:,} removed, "
              f"{delta.unchanged:,} re-sent unchanged in {took:.1f} s")  # fmt: skip
    finally:
        commands.put("stop")
        server.join(timeout=30)
        if args.postgres:
            core.banks.delete(bank)
        core.close()


if __name__ == "__main__":
    main()
