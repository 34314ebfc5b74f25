"""PROTOTYPE"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coop import auth
from coop.api import create_app
from coop.config import Settings
from coop.db import Database
from tests.api.conftest import PASSWORD, TEST_PASSWORDS, Api

_DOC = create_app(Settings(database_url="sqlite:///unused"), db=cast(Database, object())) \
    .openapi_schema.to_schema()
CONFIG = SchemathesisConfig.from_dict({
    "seed": 20250630,
    "suppress-health-check": ["all"],
    "phases": {"coverage": {"enabled": False}},
    "generation": {"max-examples": 25, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
})
schema = schemathesis.openapi.from_dict(_DOC, config=CONFIG)

LOG: list[Any] = []


@pytest.fixture
def token(api: Api) -> str:
    api.db.write(lambda s: auth.create_user(s, username="harness", password=PASSWORD, role="admin",
                 member_code=None, passwords=TEST_PASSWORDS, clock=api.clock))
    tok, _, _ = api.db.write(lambda s: auth.login(s, username="harness", password=PASSWORD,
                             address="harness", passwords=TEST_PASSWORDS, clock=api.clock))
    return tok


@schema.parametrize()
def test_api(case: Any, api: Api, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(app=api.app, headers=headers)
    fails = []
    for check in (not_a_server_error, status_code_conformance, content_type_conformance,
                  response_schema_conformance):
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except FailureGroup as exc:
            fails.append((check.__name__, [f.title for f in exc.exceptions]))
    LOG.append((case.meta.generation.mode.value if case.meta else None, case.operation.label, case.method, case.formatted_path, case.query, case.body,
                response.status_code, response.headers.get("content-type"), response.text[:300],
                fails))
    with open("/tmp/st_log.jsonl", "a") as fh:
        fh.write(json.dumps(LOG[-1], default=str) + "\n")
