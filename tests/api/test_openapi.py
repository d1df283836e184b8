"""The OpenAPI spec says what the API really answers: schemathesis generates requests for
every route from the spec and checks each answer against it (status codes, content types,
headers, bodies), and that none is a 500.

`LYKTA_SCHEMATHESIS_EXAMPLES` raises the examples per route for a longer local run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.banks.items import ContentItem
from tests.conftest import make_settings

EXAMPLES = int(os.environ.get("LYKTA_SCHEMATHESIS_EXAMPLES", "8"))
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Schemathesis builds one test per route at collection time, so the app exists by then: a
# core on SQLite in a temporary folder, closed when the module's tests are done.
FOLDER = tempfile.TemporaryDirectory(prefix="lykta-openapi-")
CORE = Lykta.open(make_settings(Path(FOLDER.name), max_upload_bytes=1024 * 1024))
TOKEN = CORE.tokens.create(Scope.ADMIN, "schemathesis")[1]
# A bank with content, so that routes naming one answer more than 404.
CORE.banks.create("a")
CORE.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x", ("label",))])
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(CORE, follow_changes=False))


@pytest.fixture(scope="module", autouse=True)
def _close_core() -> Iterator[None]:
    yield
    CORE.close()
    FOLDER.cleanup()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_as_its_spec_says(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_errors_are_declared_as_a_string_detail() -> None:
    spec = schema.raw_schema
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["ErrorOut"]["properties"]["detail"]["type"] == "string"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path not in ("/health", "/readyz", "/status/live"):  # the token-free probes
                assert "401" in operation["responses"], f"{method} {path} does not declare 401"
