"""The docs keep up with the code: the README's test command is what CI runs, and every
setting, command, option, format and route is documented."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import typer.main

from lykta.banks.formats import FORMATS
from lykta.cli import app
from lykta.settings import HELP, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)


def test_readme_has_the_two_commands_and_ci_runs_the_second() -> None:
    install, test = readme_commands()
    assert install.endswith("lykta serve")
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines(), "the README's test command must appear verbatim in .ci/run"


def test_every_setting_is_declared_and_documented() -> None:
    configuration = (DOCS / "configuration.md").read_text()
    for field in fields(Settings):
        assert field.name in HELP, f"settings.HELP lacks {field.name}"
        assert f"`LYKTA_{field.name.upper()}`" in configuration, f"{field.name} undocumented"


def _commands(command, path):  # type: ignore[no-untyped-def]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, [*path, name])
    else:
        yield " ".join(path), command


def test_every_command_and_option_is_documented() -> None:
    cli = (DOCS / "cli.md").read_text()
    sections = dict(re.findall(r"^## `(lykta[^`]*)`\n(.*?)(?=^## |\Z)", cli, re.M | re.S))
    for name, command in _commands(typer.main.get_command(app), ["lykta"]):
        assert name in sections, f"docs/cli.md has no section for `{name}`"
        for param in command.params:
            for option in (o for o in param.opts if o.startswith("--")):
                assert option in sections[name], f"`{name}` option {option} undocumented"


def test_every_format_is_documented() -> None:
    banks = (DOCS / "banks.md").read_text()
    for name in FORMATS:
        assert f"| `{name}` |" in banks, f"format {name} undocumented"


def test_every_native_route_is_documented() -> None:
    from lykta.api import audit, banks, cases, matching, status, streams

    api = (DOCS / "api.md").read_text()
    routers = (banks, matching, status, streams, cases, audit)
    for router in (module.router for module in routers):
        for route in router.routes:
            path = re.sub(r"\{[^}]+\}", "{x}", route.path)  # type: ignore[attr-defined]
            documented = {re.sub(r"\{[^}]+\}", "{x}", p) for p in re.findall(r"/[\w/{}.]+", api)}
            assert path in documented, f"{path} undocumented in docs/api.md"


def test_every_hook_and_hash_kind_is_documented() -> None:
    from lykta.hashing.registry import hasher_names
    from lykta.plugins import LyktaHooks

    plugins = (DOCS / "plugins.md").read_text()
    hooks = [name for name in vars(LyktaHooks) if name.startswith("lykta_")]
    assert hooks, "no hook specifications found"
    for hook in hooks:
        assert f"`{hook}(" in plugins, f"hook {hook} undocumented in docs/plugins.md"
    hashing = (DOCS / "hashing.md").read_text()
    for kind in hasher_names():
        assert f"`{kind}`" in hashing, f"hash kind {kind} undocumented in docs/hashing.md"
