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


def test_each_value_says_where_it_came_from(tmp_path: Path) -> None:
    from lykta.settings import setting_sources

    config = tmp_path / "lykta.toml"
    config.write_text("port = 9000\nworkers = 3\n")
    env = {"LYKTA_CONFIG": str(config), "LYKTA_WORKERS": "4", "LYKTA_TRIM": "off"}
    sources = setting_sources({"host": "10.0.0.1", "port": None}, environ=env)
    assert sources["port"] == "file"  # a flag left unset does not count
    assert sources["workers"] == "env" and sources["trim"] == "env"
    assert sources["host"] == "flag" and sources["home"] == "default"


def test_unknown_lykta_variables_are_named_with_a_guess() -> None:
    from lykta.settings import unknown_variables

    env = {
        "LYKTA_PROT": "9000",
        "LYKTA_LOGLEVEL": "debug",
        "LYKTA_COLOUR": "blue",
        "LYKTA_PORT": "1",
        "LYKTA_CONFIG": "x",
        "LYKTA_TEST_POSTGRES_URL": "y",
        "HOME": "/",
    }
    warnings = unknown_variables(env)
    assert len(warnings) == 3
    assert "LYKTA_PROT is not a Lykta setting and is ignored; did you mean LYKTA_PORT?" in warnings
    assert any("LYKTA_LOGLEVEL" in w and "did you mean LYKTA_LOG_LEVEL?" in w for w in warnings)
    assert any(w.startswith("LYKTA_COLOUR") and "did you mean" not in w for w in warnings)
