"""Review costs: what recording an alert adds to a look-up, how long the case queue and a
case take to read with many cases, and how fast the audit log's chain verifies.

    python bench/bench_review.py --lookups 2000 --cases 100000 --audit 1000000 [--postgres URL]

- "alert": ``core.lookup_hash`` of a banked hash (each look-up a new subject, so each opens
  a case) with ``source=`` against the same look-up without; the difference is the cost of
  recording (target, issue 7: at most 2 ms).
- "queue": ``core.cases.queue()`` (the first page, and filtered by state and by bank) and
  ``core.cases.get()`` with ``--cases`` cases (alerts and cases written in bulk).
- "audit verify": ``core.audit.verify()`` over ``--audit`` entries (written in bulk with
  their chain); target 1,000,000 in at most 10 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from lykta.alerts import MatchSource
from lykta.app import Lykta
from lykta.audit.log import entry_hash
from lykta.banks.items import ContentItem
from lykta.settings import load_settings
from lykta.store.models import Alert, AuditEntry, AuditHead, Case

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def timed(call: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):.3f} ms, p95 {p95:.3f} ms"


def bench_alerts(core: Lykta, lookups: int) -> None:
    plain = timed(lambda: core.lookup_hash("pdq", PDQ), lookups)
    subjects = iter(range(10**9))
    recorded = timed(
        lambda: core.lookup_hash("pdq", PDQ, source=MatchSource(f"user:{next(subjects)}")),
        lookups,
    )
    # The subject's next look-up: its alert joins the case the first one opened.
    joined = timed(lambda: core.lookup_hash("pdq", PDQ, source=MatchSource("user:0")), lookups)
    base = statistics.median(plain)
    print(f"look-up            {summary(plain)}")
    for name, times in [("new case", recorded), ("its case", joined)]:
        added = statistics.median(times) - base
        print(f"+ alert, {name}  {summary(times)}  (adds {added:.3f} ms at the median)")


def fill_cases(core: Lykta, count: int) -> None:
    now = datetime.now(UTC)
    states = ["new", "in_review", "confirmed", "closed"]
    with core.engine.begin() as connection:
        for start in range(0, count, 10_000):
            ids = range(start + 1, min(count, start + 10_000) + 1)
            connection.execute(insert(Case), [
                {"id": 10**6 + i, "subject": f"bulk:{i}", "group_key": f"subject:bulk:{i}",
                 "open_key": None, "state": states[i % 4], "assignee": f"r{i % 7}",
                 "priority": (i * 7919) % 10**9, "top_source_kind": "photo",
                 "min_distance": i % 32, "alert_count": 1, "created_at": now, "updated_at": now}
                for i in ids
            ])  # fmt: skip
            connection.execute(insert(Alert), [
                {"source_kind": "photo", "source_id": f"u{i}", "source_uri": "",
                 "bank": f"bank{i % 5}", "content_id": i, "labels": "[]", "kind": "pdq",
                 "distance": i % 32, "transform": "original", "subject": f"bulk:{i}",
                 "viewers": "[]", "created_at": now, "query_hash": PDQ,
                 "case_id": 10**6 + i}
                for i in ids
            ])  # fmt: skip


def bench_queue(core: Lykta, count: int, rounds: int) -> None:
    fill_cases(core, count)
    print(f"queue, first 50    {summary(timed(lambda: core.cases.queue(), rounds))}")
    by_state = timed(lambda: core.cases.queue(state="in_review"), rounds)
    print(f"queue, one state   {summary(by_state)}")
    print(f"queue, one bank    {summary(timed(lambda: core.cases.queue(bank='bank3'), rounds))}")
    some = [10**6 + 1 + (n * 7919) % count for n in range(rounds)]
    ids = iter(some)
    page = timed(lambda: core.cases.get(next(ids), viewer="b"), rounds)
    print(f"case page data     {summary(page)}")


def bench_audit(core: Lykta, count: int) -> None:
    now = datetime.now(UTC)
    with core.engine.begin() as connection:
        prev, before = connection.execute(
            select(AuditHead.entry_hash, AuditHead.entries).where(AuditHead.id == 1)
        ).one()
        for start in range(0, count, 20_000):
            rows = []
            for n in range(start, min(count, start + 20_000)):
                detail = json.dumps({"n": n})
                digest = entry_hash(prev, now, "bench", "case.view", f"case:{n}", detail)
                rows.append({"at": now, "actor": "bench", "action": "case.view",
                             "target": f"case:{n}", "detail": detail, "prev_hash": prev,
                             "entry_hash": digest})  # fmt: skip
                prev = digest
            connection.execute(insert(AuditEntry), rows)
        connection.execute(update(AuditHead).values(entry_hash=prev, entries=before + count))
    started = time.perf_counter()
    result = core.audit.verify()
    took = time.perf_counter() - started
    print(f"audit verify       {result.checked:,} entries in {took:.2f} s (ok={result.ok})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        overrides = {"home": Path(folder), "database_url": args.postgres}
        core = Lykta.open(load_settings(overrides, environ={}))
        try:
            core.banks.create("known")
            core.banks.add_content("known", [ContentItem.of_hash("pdq", PDQ, "item")])
            core.matcher.sync()
            print(f"database: {core.engine.dialect.name}")
            bench_alerts(core, args.lookups)
            bench_queue(core, args.cases, args.rounds)
            bench_audit(core, args.audit)
        finally:
            core.close()


if __name__ == "__main__":
    main()
