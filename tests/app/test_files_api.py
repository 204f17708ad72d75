"""The files API's OpenAPI document, in-process: every API route is documented, nothing more."""

from __future__ import annotations

import json
import re

import pytest

from strata.files.api import urlpatterns

pytestmark = pytest.mark.django_db


def test_openapi_document_matches_the_routes(client, people):
    client.force_login(people["alice"])
    resp = client.get("/api/files/openapi.json")
    doc = json.loads(resp.content)
    assert resp.status_code == 200
    assert doc["openapi"].startswith("3.")
    routes = sorted(
        "/api/files/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern))
        for p in urlpatterns()
        if "openapi" not in str(p.pattern)
    )
    assert routes
    assert sorted(doc["paths"]) == routes
