"""How long a `lykta` command takes from the shell: start-up, imports and the command.

    python bench/bench_cli.py [--runs 7] [--baseline SRC]

Each command runs ``--runs`` times in a fresh interpreter (as a user types it) against a
data folder of its own (SQLite, migrated by a first command, no banks); the median and the
fastest run are printed, wall time and the process's CPU time (user + system), with the
load average, since a shared machine inflates both. Targets (issue 8): `lykta --help`
under 0.5 s; commands that open the core import only what they need (`lykta bank list`
on an empty database "well under 1 s").

``--baseline SRC`` runs the same commands from another source tree (the ``src`` folder of
an older checkout, put first on ``PYTHONPATH``), alternating with this one, so the two
columns are measured under the same load.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [
    ["--help"],
    ["bank", "list"],
    ["bank", "list", "--json"],
    ["token", "list"],
    ["case", "list"],
]


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one `python -m lykta ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lykta", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(times: list[tuple[float, float]]) -> str:
    walls, cpus = [t[0] for t in times], [t[1] for t in times]
    return (
        f"wall {statistics.median(walls):5.2f} s (min {min(walls):4.2f}), "
        f"cpu {statistics.median(cpus):5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another source tree to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base_env = {**os.environ, "LYKTA_HOME": folder, "LYKTA_DATABASE_URL": ""}
        trees = {"this": base_env}
        if args.baseline:
            path = f"{args.baseline.resolve()}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
            trees = {"baseline": {**base_env, "PYTHONPATH": path}, **trees}
        # The first command migrates the new database; it is not measured.
        run_once(["bank", "list"], next(iter(trees.values())))
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for command in COMMANDS:
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, env in trees.items():
                    times[name].append(run_once(command, env))
            for name in trees:
                label = f"lykta {' '.join(command)}"
                print(f"{label:24} {name:8} {summary(times[name])}")
        print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
