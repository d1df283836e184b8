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
    from lykta.api import audit, banks, cases, exchanges, matching, reports, status, streams

    api = (DOCS / "api.md").read_text()
    routers = (banks, exchanges, matching, status, streams, cases, reports, audit)
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


def test_the_readmes_first_steps_work_as_written(tmp_path: Path) -> None:
    """A newcomer's walk through the README: its first-steps lines, pasted one by one into a
    fresh shell in an empty folder while `lykta serve` runs, end with a bank, a token and a
    matched photo over the CLI and over HTTP. The only change: the server's port, as the
    test cannot count on 8000 being free."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import pytest

    if shutil.which("curl") is None and not os.environ.get("CI"):
        pytest.skip("the first steps use curl")
    [block] = re.findall(r"## First steps\n.*?```sh\n(.*?)\n```", README, re.S)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert block.count("http://127.0.0.1:8000") == 1
    lines = block.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}").splitlines()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LYKTA_")},
        "LYKTA_HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "lykta", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Each line, then its exit status, as a person pasting them would see.
        script = "".join(f'{line}\necho "::status $?" >&2\n' for line in lines)
        done = subprocess.run(
            ["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    statuses = [int(line.split()[1]) for line in done.stderr.splitlines() if line[:8] == "::status"]
    expected = [1 if line.startswith("lykta match") else 0 for line in lines]
    assert statuses == expected, (done.stdout, done.stderr)
    out = done.stdout
    # The CLI, here and through the server: the resized listed photo and the mirrored known
    # one match; the unrelated one does not.
    assert out.count("demo-2-resized.jpg\tMATCH bank=ncmec id=demo-2") == 2, out
    assert out.count("known-5-mirrored.jpg\tMATCH bank=ncmec id=known-5") == 2, out
    assert out.count("holiday.jpg\tno match") == 2, out
    # HTTP, by upload and by hash.
    assert out.count('"bank":"ncmec"') >= 2 and out.count('"external_id":"demo-2"') >= 2, out
