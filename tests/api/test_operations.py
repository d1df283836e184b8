"""What an operator's tools read: /health (liveness), /readyz (readiness), /metrics
(Prometheus, its own token scope)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.conftest import Tokens, make_settings

PDQ = "f" * 64


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    raise AssertionError(f"no sample {name}{labels} in:\n{metrics}")


def test_health_and_readiness_need_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "database": True,
        "migrations": True,
        "index": True,
        "problems": [],
    }


def test_readiness_fails_when_the_schema_is_not_this_lyktas(
    core: Lykta, client: TestClient
) -> None:
    with core.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False and body["migrations"] is False and body["database"] is True
    assert "9999_newer" in body["problems"][0]


def test_readiness_fails_before_the_index_is_loaded(core: Lykta, client: TestClient) -> None:
    core.live = False
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["problems"] == ["index: not loaded"]


def test_metrics_need_the_metrics_or_admin_scope(
    core: Lykta, client: TestClient, tokens: Tokens
) -> None:
    assert client.get("/metrics").status_code == 401
    for scope in ("matcher", "curator"):
        refused = client.get("/metrics", headers=tokens.header(scope))
        assert refused.status_code == 403 and "'metrics' or 'admin'" in refused.json()["detail"]
    assert client.get("/metrics", headers=tokens.header("admin")).status_code == 200
    reader = core.tokens.create(Scope.METRICS, "prometheus")[1]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    # A metrics token reads nothing else.
    status = client.get("/api/v1/status", headers={"Authorization": f"Bearer {reader}"})
    assert status.status_code == 403


def test_metrics_count_lookups_matches_and_latency(
    core: Lykta, client: TestClient, tokens: Tokens
) -> None:
    client.post("/api/v1/banks", json={"name": "a"}, headers=tokens.header("curator"))
    client.post("/api/v1/banks/a/content", json={"hash": PDQ}, headers=tokens.header("curator"))
    matcher = tokens.header("matcher")
    for value in (PDQ, "0" * 64, PDQ):  # answered by the hot path
        assert client.get("/api/v1/lookup", params={"hash": value}, headers=matcher).is_success
    assert client.get("/api/v1/lookup", params={"hash": "zz"}, headers=matcher).status_code == 422
    client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=matcher)
    client.get("/api/v1/banks/a", headers=tokens.header("curator"))
    client.get("/no/such/path")

    answer = client.get("/metrics", headers=tokens.header("admin"))
    assert answer.headers["content-type"].startswith("text/plain")
    metrics = answer.text
    assert _sample(metrics, "lykta_lookups_total") == 4
    assert _sample(metrics, "lykta_matched_total") == 3
    assert _sample(metrics, "lykta_matches_total") == 3
    assert _sample(metrics, "lykta_index_hashes", kind="pdq") == 1
    assert _sample(metrics, "lykta_index_revision") == core.matcher.revision > 0
    assert _sample(metrics, "lykta_changelog_lag") == 0
    native = {"route": "/api/v1/lookup"}
    assert _sample(metrics, "lykta_http_requests_total", status="2xx", **native) == 3
    assert _sample(metrics, "lykta_http_requests_total", status="4xx", **native) == 1
    assert _sample(metrics, "lykta_http_request_duration_seconds_count", **native) == 4
    assert _sample(metrics, "lykta_http_request_duration_seconds_bucket", le="+Inf", **native) == 4
    # Routes are labelled by their template, and unknown paths share one label.
    routed = {"route": "/api/v1/banks/{name}", "status": "2xx"}
    assert _sample(metrics, "lykta_http_requests_total", **routed) == 1
    assert _sample(metrics, "lykta_http_requests_total", route="other", status="4xx") == 1
    assert "/no/such/path" not in metrics
    assert _sample(metrics, "lykta_info", version=__import__("lykta").__version__) == 1


def test_metrics_show_the_change_log_lag(core: Lykta, client: TestClient, tokens: Tokens) -> None:
    from lykta.store.db import next_revision

    with core.sessions() as session, session.begin():
        next_revision(session)
        next_revision(session)
    metrics = client.get("/metrics", headers=tokens.header("admin")).text
    assert _sample(metrics, "lykta_changelog_lag") == 2


def test_workers_share_their_counts(tmp_path: Path) -> None:
    """Two workers (two apps on one data folder, as `lykta serve --workers 2` runs them): a
    scrape of either counts the look-ups both answered."""
    from lykta.api.main import create_app

    settings = make_settings(tmp_path / "home", workers=2)
    with Lykta.open(settings) as first, Lykta.open(settings) as second:
        token = first.tokens.create(Scope.ADMIN, "t")[1]
        header = {"Authorization": f"Bearer {token}"}
        with (
            TestClient(create_app(first, follow_changes=False)) as one,
            TestClient(create_app(second, follow_changes=False)) as two,
        ):
            for _ in range(3):
                one.get("/api/v1/lookup", params={"hash": PDQ}, headers=header)
            two.get("/api/v1/lookup", params={"hash": PDQ}, headers=header)
            # Both publish every second: wait for the first one's file to hold its counts.
            for _ in range(50):
                scraped = two.get("/metrics", headers=header).text
                if _sample(scraped, "lykta_lookups_total") == 4:
                    break
                time.sleep(0.1)
    route = {"route": "/api/v1/lookup", "status": "2xx"}
    assert _sample(scraped, "lykta_lookups_total") == 4
    assert _sample(scraped, "lykta_http_requests_total", **route) == 4
    assert len(list(settings.metrics_dir.glob(f"{os.getpid()}-*.json"))) == 2
