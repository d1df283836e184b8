"""Imports follow the data: a package imports only packages to its left (plus store and the
shared modules), and the doors (api, cli) never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "lykta"

# The data flow, left to right. Shared modules any package may import.
ORDER = [
    "media", "index", "hashing", "store", "audit", "auth", "banks", "exchanges", "matching",
    "alerts", "streams", "workers", "cases", "evidence", "reports", "app", "outputs", "api", "cli",
]  # fmt: skip
SHARED = {"errors", "keys", "settings", "plugins", "stats", "__init__"}
DOORS = {"api", "cli", "web"}


def area(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lykta."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lykta."))
    return found


def test_no_backward_imports() -> None:
    problems = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE)
        own = relative.parts[0].removesuffix(".py")
        if own in SHARED or own == "__main__":
            continue
        assert own in ORDER, f"{relative}: add its package to ORDER in this test"
        for module in imports_of(path):
            target = area(module)
            if target in SHARED or target == own:
                continue
            if target in DOORS and own in DOORS:
                problems.append(f"{relative} imports {module}: doors never import each other")
            elif ORDER.index(target) > ORDER.index(own):
                problems.append(f"{relative} imports {module}, which is downstream")
    assert problems == []
