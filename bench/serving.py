"""What the HTTP benchmarks share: a prepared data folder (a bank of N random PDQ hashes
imported through the CLI, tokens, varied queries), `lykta serve` started in its own process,
wrk driven from a Lua script, and the machine's load printed beside every figure.

A data folder is prepared once per size and reused by later runs (`--data-dir`): importing
10M hashes takes minutes, serving them takes seconds once the index snapshot exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

# Hashes per `lykta bank import`: one transaction each, so memory stays bounded at 10M.
IMPORT_CHUNK = 1_000_000
QUERIES = 20_000
# HMA tuned (gunicorn, 2 workers, OMP_NUM_THREADS=1), 1M random PDQ hashes, 8 connections,
# the same varied queries, measured on this machine (issue 5).
HMA_TUNED = "484-560"
HMA_TUNED_BEST = 560.0
HMA_P99_32 = "100-135"

ROUTES = {
    "native": "/api/v1/lookup?hash=",
    "hma": "/m/raw_lookup?signal_type=pdq&signal=",
}

WRK_SCRIPT = """
local queries = {}
for line in io.lines("%(queries)s") do queries[#queries + 1] = line end
local i = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
setup = function(thread)
  thread:set("offset", math.random(#queries))
end
init = function()
  i = offset or 0
end
request = function()
  i = i %% #queries + 1
  return wrk.format("GET", "%(path)s" .. queries[i])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"non2xx\\": %%d, " ..
    "\\"errors\\": %%d, \\"p50\\": %%f, \\"p90\\": %%f, \\"p99\\": %%f, \\"max\\": %%f}\\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bank_codes(n: int) -> np.ndarray:
    """The bank's hashes: the same N for every run, so queries can be planted near them."""
    return np.random.default_rng(11).integers(0, 256, (n, 32), dtype=np.uint8)


def varied_queries(codes: np.ndarray, count: int, seed: int = 12) -> list[str]:
    """90% random hashes (no match: most uploads) and 10% near neighbours of bank hashes
    (0-20 bits flipped, a match), all distinct."""
    rng = np.random.default_rng(seed)
    queries: dict[str, None] = {}
    while len(queries) < count:
        if rng.random() < 0.9:
            queries[rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()] = None
            continue
        bits = np.unpackbits(codes[rng.integers(0, len(codes))])
        bits[rng.choice(256, size=int(rng.integers(0, 21)), replace=False)] ^= 1
        queries[np.packbits(bits).tobytes().hex()] = None
    return list(queries)


@dataclass
class Prepared:
    folder: Path
    n: int
    env: dict[str, str]
    matcher: str
    curator: str
    queries: Path

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def planted(self) -> str:
        """A hash in the bank: the first of the same seeded draw."""
        return bank_codes(1)[0].tobytes().hex()


def lykta(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "lykta", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def base_env(home: Path, database_url: str = "") -> dict[str, str]:
    env = {**os.environ, "LYKTA_HOME": str(home), "LYKTA_LOG_LEVEL": "warning"}
    env.pop("LYKTA_DATABASE_URL", None)
    if database_url:
        env["LYKTA_DATABASE_URL"] = database_url
    return env


def write_hashes(path: Path, codes: np.ndarray) -> None:
    with path.open("w") as out:
        out.writelines(f"{row.tobytes().hex()},bench\n" for row in codes)


def prepare(root: Path, n: int) -> Prepared:
    """A data folder holding N hashes, a matcher and a curator token and the query file;
    made once under root/n<N> (resuming an interrupted import) and reused while complete.

    The first million go into bank `bench`, each further million into a bank of its own:
    an import checks for duplicates within its bank, so one huge bank makes each later
    million slower to import than the one before."""
    folder = root / f"n{n}"
    done = folder / "prepared.json"
    progress = folder / "imported.json"
    env = base_env(folder / "home")
    if done.exists():
        saved = json.loads(done.read_text())
        return Prepared(folder, n, env, saved["matcher"], saved["curator"], folder / "queries.txt")
    imported = json.loads(progress.read_text())["chunks"] if progress.exists() else 0
    if not imported:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    print(f"preparing {n:,} PDQ hashes in {folder} (once; later runs reuse it) ...", flush=True)
    started = time.perf_counter()
    codes = bank_codes(n)
    chunk_file = folder / "chunk.txt"
    for chunk, start in enumerate(range(0, n, IMPORT_CHUNK)):
        if chunk < imported:
            continue
        bank = "bench" if chunk == 0 else f"bench-{chunk}"
        # An interrupted run may have created it already.
        subprocess.run([sys.executable, "-m", "lykta", "bank", "create", bank], env=env,
                       capture_output=True, check=False)  # fmt: skip
        write_hashes(chunk_file, codes[start : start + IMPORT_CHUNK])
        lykta("bank", "import", bank, str(chunk_file), "--format", "text", env=env)
        progress.write_text(json.dumps({"chunks": chunk + 1}))
        print(f"  imported {min(n, start + IMPORT_CHUNK):,} hashes", flush=True)
    chunk_file.unlink()
    queries = folder / "queries.txt"
    queries.write_text("\n".join(varied_queries(codes, QUERIES)) + "\n")
    matcher = json.loads(lykta("token", "create", "--scope", "matcher", "--json", env=env))
    curator = json.loads(lykta("token", "create", "--scope", "curator", "--json", env=env))
    done.write_text(json.dumps({"matcher": matcher["token"], "curator": curator["token"]}))
    print(f"  prepared in {time.perf_counter() - started:.0f} s", flush=True)
    return Prepared(folder, n, env, matcher["token"], curator["token"], queries)


SERVERS = ("lykta", "uvicorn")


class Server:
    """`lykta serve` in its own process group, so stopping it stops its workers too.

    `server="uvicorn"` runs the same app under uvicorn instead (what `lykta serve` ran before
    granian), on a data folder whose index snapshot a `lykta serve` start has written.
    """

    def __init__(
        self, env: dict[str, str], workers: int, server: str = "lykta",
        extra: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.server = server
        self.env = {**env, "LYKTA_PORT": str(self.port), "LYKTA_WORKERS": str(workers),
                    **(extra or {})}  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        if self.server == "uvicorn":
            return [sys.executable, "-m", "uvicorn", "--factory", "--port", str(self.port),
                    "--workers", str(self.workers), "--log-level", "warning", "--no-access-log",
                    "lykta.api.asgi:create_app_from_env"]  # fmt: skip
        return [sys.executable, "-m", "lykta", "serve"]

    def start(self, token: str, n: int | None = None, timeout: float = 1800) -> float:
        """Start and wait until the workers answer with the full index; return seconds."""
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command(), env=self.env, start_new_session=True)
        try:
            self._wait_ready(token, n, started + timeout)
        except BaseException:  # interrupted or failed: leave no server behind
            self.stop()
            raise
        return time.perf_counter() - started

    def _wait_ready(self, token: str, n: int | None, deadline: float) -> None:
        assert self.process is not None
        headers = {"Authorization": f"Bearer {token}"}
        ready = 0
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.server} exited")
            try:
                status = httpx.get(f"{self.base}/api/v1/status", headers=headers, timeout=2)
                sizes = status.json()["index_size"]
                ready = ready + 1 if n is None or sizes["pdq"] == n else 0
                # Several answers in a row: each worker has most likely loaded by then.
                if ready >= 8:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                ready = 0
            time.sleep(0.1)
        sys.exit(f"{self.server} did not become ready")

    def pids(self) -> list[int]:
        """The server process and its workers."""
        assert self.process is not None
        found = [self.process.pid]
        for pid in found:
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                found.extend(int(p) for p in children.read_text().split())
        return found

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            total += int(match.group(1)) if match else 0
        return total / 1024

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # To the server alone: it stops its workers (granian would respawn workers
            # that die on their own).
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def wrk(
    base: str, path: str, token: str, queries: Path, connections: int, seconds: float,
    stop_when: Callable[[], bool] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Run wrk (one thread, a second process) and return requests, seconds, p50..max in ms.

    With `stop_when`, wrk runs until that returns true (checked every 0.2 s) or `seconds`
    pass, whichever is first; it prints its figures when interrupted as when it ends."""
    if not shutil.which("wrk"):
        sys.exit("the HTTP benchmarks need wrk: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"queries": queries, "token": token, "path": path})
    try:
        run = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s",
             "-s", script.name, base],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if stop_when is not None:
            while run.poll() is None and not stop_when():
                time.sleep(0.2)
            if run.poll() is None:
                run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate()
    finally:
        os.unlink(script.name)
    found = re.search(r"^JSON (.*)$", stdout, re.M)
    if found is None:
        sys.exit(f"wrk printed no figures:\n{stdout}\n{stderr}")
    figures: dict[str, float] = json.loads(found.group(1))
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures
