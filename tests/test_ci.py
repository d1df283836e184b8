"""CI (.ci/run) lints and type-checks before it runs the tests, with a strict mypy config
that leaves out only the numba kernels."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_ruff_and_mypy_before_the_tests() -> None:
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    tests = next(n for n, line in enumerate(steps) if line.endswith(".venv/bin/python -m pytest"))
    for step in (
        ".venv/bin/ruff check src tests bench",
        ".venv/bin/ruff format --check src tests bench",
        ".venv/bin/mypy src",
    ):
        assert step in steps[:tests], f".ci/run does not run `{step}` before the tests"


def test_mypy_is_strict_and_excepts_only_the_numba_kernels() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(
        dep.startswith("mypy") for dep in project["project"]["optional-dependencies"]["test"]
    )
    mypy = project["tool"]["mypy"]
    assert mypy["strict"] is True
    assert sorted(mypy["exclude"]) == [
        r"^src/lykta/hashing/_pdq_kernels\.py$",
        r"^src/lykta/index/_kernels\.py$",
    ]
