"""Import speed: N random PDQ hashes from a text file into a bank on SQLite, end to end
through the CLI's code path (parse, validate, de-duplicate, one transaction).

    python bench/bench_import.py --n 1000000

Target (issue #2): 1M PDQ hashes in under a minute on SQLite, with a progress bar.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes to import")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        hashes = Path(folder) / "hashes.txt"
        codes = np.random.default_rng(7).integers(0, 256, (args.n, 32), dtype=np.uint8)
        with hashes.open("w") as out:
            out.writelines(f"{row.tobytes().hex()},bench\n" for row in codes)
        env = {"LYKTA_HOME": str(home), "PATH": str(Path(sys.executable).parent)}
        lykta = [sys.executable, "-m", "lykta"]
        subprocess.run([*lykta, "bank", "create", "bench"], env=env, check=True)
        start = time.perf_counter()
        result = subprocess.run(
            [*lykta, "bank", "import", "bench", str(hashes), "--json"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    print(result.stdout.strip())
    print(f"{'what':<40} {'figure':>12} {'target':>12}")
    label = f"import {args.n:,} PDQ (SQLite), s"
    print(f"{label:<40} {seconds:>12.1f} {'< 60':>12}")
    print(f"{'hashes per second':<40} {args.n / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
