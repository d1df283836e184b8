"""What an operator deploys from: the sample config file, the Dockerfile and the compose
file. No Docker daemon is needed: the files are parsed and checked against the settings
(.ci/run builds the image where a daemon answers)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import yaml

from lykta.settings import SECRET_NAMES, Settings, load_settings, unknown_variables

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "lykta.toml.example"


def test_the_sample_config_names_every_setting_with_its_default() -> None:
    text = EXAMPLE.read_text()
    for field in fields(Settings):
        if field.name in SECRET_NAMES:
            assert not re.search(rf"^{field.name}\s*=", text, re.M), f"secret {field.name} in file"
        else:
            assert re.search(rf"^{field.name} = ", text, re.M), (
                f"docs/lykta.toml.example lacks {field.name}: add it with its default and help"
            )
    assert load_settings(environ={"LYKTA_CONFIG": str(EXAMPLE)}) == Settings()


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def test_compose_runs_lykta_with_postgres_and_nats() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"lykta", "worker", "postgres", "nats"}
    lykta = services["lykta"]
    assert lykta["build"] == "."
    assert lykta["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--jetstream" in services["nats"]["command"]
    worker = services["worker"]
    assert worker["command"] == ["lykta", "worker"] and worker["image"] == lykta["image"]
    environment = lykta["environment"]
    # Every variable is a setting Lykta knows (a typo would be ignored at run time), and
    # the server and its workers meet on one database and one NATS.
    assert unknown_variables(environment) == unknown_variables(worker["environment"]) == []
    for shared in ("LYKTA_DATABASE_URL", "LYKTA_NATS_URL"):
        assert environment[shared] == worker["environment"][shared]
    assert environment["LYKTA_NATS_URL"] == "nats://nats:4222"
    url = environment["LYKTA_DATABASE_URL"]
    assert (
        url.startswith("postgresql+psycopg://lykta:${LYKTA_DB_PASSWORD:?") and "@postgres:" in url
    )
    # The password comes from the environment on both sides, never from the file.
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${LYKTA_DB_PASSWORD"
    )
    assert lykta["ports"] == ["127.0.0.1:8000:8000"]
    for name in ("lykta-data", "postgres-data", "nats-data"):
        assert name in compose["volumes"]


def test_the_image_serves_lykta_with_postgres_support_and_checks_readiness() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "'.[postgres]'" in dockerfile and "'lykta[postgres]'" in dockerfile
    assert 'CMD ["lykta", "serve"]' in dockerfile
    assert "EXPOSE 8000" in dockerfile and "LYKTA_HOST=0.0.0.0" in dockerfile
    assert "/readyz" in dockerfile and "USER lykta" in dockerfile
    environment = dict(re.findall(r"(LYKTA_\w+)=(\S+)", dockerfile))
    assert unknown_variables(environment) == []
    load_settings(environ=environment)  # every value parses
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv/" in ignored and ".git/" in ignored
