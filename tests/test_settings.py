"""Settings: environment, config file, overrides; secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lykta.errors import InvalidInput
from lykta.settings import describe, load_settings


def test_sources_in_order(tmp_path: Path) -> None:
    config = tmp_path / "lykta.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\n')
    env = {"LYKTA_CONFIG": str(config), "LYKTA_PORT": "9100", "LYKTA_TRIM": "off"}
    settings = load_settings({"host": "10.0.0.1"}, environ=env)
    assert (settings.port, settings.host, settings.trim) == (9100, "10.0.0.1", False)


def test_bad_values_and_secrets_in_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="LYKTA_WORKERS"):
        load_settings(environ={"LYKTA_WORKERS": "many"})
    with pytest.raises(InvalidInput, match="unknown setting"):
        load_settings({"colour": "blue"}, environ={})
    config = tmp_path / "lykta.toml"
    config.write_text('database_url = "postgresql://u:pw@db/x"\n')
    with pytest.raises(InvalidInput, match="environment only"):
        load_settings(environ={"LYKTA_CONFIG": str(config)})


def test_describe_redacts_secrets() -> None:
    rows = dict((name, value) for name, value, _ in describe(load_settings(
        environ={"LYKTA_DATABASE_URL": "postgresql://u:pw@db/x"})))  # fmt: skip
    assert rows["database_url"] == "***" and rows["port"] == "8000"
