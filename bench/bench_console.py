"""Review console page renders with many cases: full HTTP requests through the real app
(FastAPI, session cookie, database, Jinja2), on PostgreSQL by default.

    python bench/bench_console.py --cases 100000 --rounds 200 [--postgres URL | --sqlite]

Creates a fresh schema in the given PostgreSQL database (dropped afterwards), fills it with
``--cases`` cases, one alert each (in bulk, as bench_review.py does), signs a reviewer and
a child_safety user in, and times GET requests of the queue (first page, filtered by
state, bank, assignee, state and bank, a deep page) and of case pages (each a different
case; each view is written to the audit log). Target (issue 7): p95 at most 200 ms.
Requests go through Starlette's TestClient (the ASGI app in-process, no socket).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from bench_review import fill_cases
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.users import Role
from lykta.settings import load_settings

PASSWORD = "bench password, long enough"
TARGET_MS = 200.0


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL of ``url``'s database whose search_path is a new schema, dropped afterwards."""
    schema = f"lykta_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sign_in(client: TestClient, name: str) -> None:
    form = client.get("/ui/login").text
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found, "no sign-in form"
    answer = client.post(
        "/ui/login",
        data={"name": name, "password": PASSWORD, "csrf": found.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def timed(get: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        get()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]
    verdict = "met" if p95 <= TARGET_MS else "NOT met"
    return (
        f"{name:<28} median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"
        f"   (≤ {TARGET_MS:.0f} ms: {verdict})"
    )


def ok(client: TestClient, path: str, needle: str) -> Callable[[], object]:
    def get() -> object:
        answer = client.get(path)
        if answer.status_code != 200 or needle not in answer.text:
            raise AssertionError(f"{path}: HTTP {answer.status_code}")
        return answer

    return get


def run(database_url: str, cases: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({"home": Path(folder), "database_url": database_url}, environ={})
        core = Lykta.open(settings)
        try:
            print(f"database: {core.engine.dialect.name}; filling {cases:,} cases ...")
            started = time.perf_counter()
            fill_cases(core, cases)
            with core.engine.begin() as connection:
                if core.engine.dialect.name == "postgresql":
                    connection.execute(text("ANALYZE"))
            print(f"filled in {time.perf_counter() - started:.1f} s")
            core.users.create("rita", Role.REVIEWER, PASSWORD, actor="bench")
            core.users.create("cas", Role.CHILD_SAFETY, PASSWORD, actor="bench")
            app = create_app(core, follow_changes=False)
            with TestClient(app) as reviewer, TestClient(app) as child_safety:
                sign_in(reviewer, "rita")
                sign_in(child_safety, "cas")
                queue_pages = [
                    ("queue, first page", "/ui"),
                    ("queue, state", "/ui?state=in_review"),
                    ("queue, bank", "/ui?bank=bank3"),
                    ("queue, assignee", "/ui?assignee=r3"),
                    ("queue, state and bank", "/ui?state=new&bank=bank1"),
                    ("queue, page 200", "/ui?page=200"),
                ]
                for name, path in queue_pages:
                    get = ok(reviewer, path, '<table class="queue">')
                    get()  # warm
                    print(line(name, timed(get, rounds)), flush=True)
                for label, client in (("reviewer", reviewer), ("child_safety", child_safety)):
                    ids = iter(10**6 + 1 + (n * 7919) % cases for n in range(rounds + 1))
                    next(ids)
                    times = timed(
                        lambda c=client, i=ids: ok(c, f"/ui/cases/{next(i)}", "Matches")(),
                        rounds,
                    )
                    print(line(f"case page ({label})", times), flush=True)
        finally:
            core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="SQLite in a temporary folder")
    args = parser.parse_args()
    if args.sqlite:
        run("", args.cases, args.rounds)
        return
    with fresh_schema(args.postgres) as url:
        run(url, args.cases, args.rounds)


if __name__ == "__main__":
    main()
