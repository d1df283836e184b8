"""Shared fixtures: a temporary LYKTA_HOME, a core on SQLite or PostgreSQL, tokens, an HTTP
client over the app in-process, and benign test images."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, text

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.settings import Settings, load_settings
from tests.testdata import TESTDATA, require_testdata

POSTGRES_URL = os.environ.get(
    "LYKTA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:
        return str(error).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is needed in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem}); set LYKTA_TEST_POSTGRES_URL")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared reference data (`tests.testdata.needs_testdata` asks for it)."""
    return require_testdata(TESTDATA, os.environ)


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"lykta_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lykta.db'}"
    return request.getfixturevalue("postgres_schema_url")


# The evidence key of every test core (confirming a case preserves its evidence).
TEST_EVIDENCE_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def make_settings(home: Path, **overrides: object) -> Settings:
    return load_settings({"home": home, "evidence_key": TEST_EVIDENCE_KEY, **overrides}, environ={})


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "home", database_url=database_url)


@pytest.fixture
def core(settings: Settings) -> Iterator[Lykta]:
    lykta = Lykta.open(settings)
    yield lykta
    lykta.close()


@pytest.fixture
def sqlite_core(tmp_path: Path) -> Iterator[Lykta]:
    """A core on SQLite only, for tests that are not about storage."""
    lykta = Lykta.open(make_settings(tmp_path / "home"))
    yield lykta
    lykta.close()


class Tokens:
    def __init__(self, core: Lykta) -> None:
        self.admin = core.tokens.create(Scope.ADMIN, "admin")[1]
        self.curator = core.tokens.create(Scope.CURATOR, "curator")[1]
        self.matcher = core.tokens.create(Scope.MATCHER, "matcher")[1]

    def header(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


@pytest.fixture
def tokens(core: Lykta) -> Tokens:
    return Tokens(core)


@pytest.fixture
def client(core: Lykta) -> Iterator[TestClient]:
    with TestClient(create_app(core, follow_changes=False), raise_server_exceptions=False) as c:
        yield c


def make_photo(seed: int = 0, size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    """A benign synthetic photo: smooth gradients, shapes and noise, different per seed."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = [*rng.uniform(0.002, 0.03, 2).tolist(), rng.uniform(0, 6.28)]
        channels.append(127 + 100 * np.sin(x * fx + y * fy + phase))
    pixels = np.stack(channels, axis=-1)
    for _ in range(6):
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        radius = rng.integers(min(size) // 12, min(size) // 4)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < radius**2
        pixels[mask] = rng.integers(0, 255, 3)
    pixels += rng.normal(0, 4, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@pytest.fixture
def photo() -> bytes:
    return make_photo(1)
