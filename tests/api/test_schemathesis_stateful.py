"""Schemathesis in stateful mode against the in-process app, as admin: sequences of calls that
follow OpenAPI links from a create operation to the operations that read or act on what it
created (a member's number, an entry's id, a loan's id), and whatever they send, no 5xx, and
every response matches the document (status code, content type, body schema, problem+json).

The document is the one the per-operation run uses (tests/api/test_schemathesis.py), read from
the app without a database; the links are added to a deep copy here, named by method and path
and resolved to the document's operationIds, so a renamed or removed route fails
`test_every_link_names_operations_of_the_document` (and the run) loudly. Schemathesis's own
link inference is off: only the links below drive the run. Some links also carry valid values
for the target's body (an amount, a balanced pair of postings, a loan application for a borrower
the fixture sets up), so the chains get past validation into the states worth probing:
reversing an entry twice, voting on and disbursing a pending loan.

Bounded for CI and reproducible: a fixed seed, derandomized, 40 scenarios of at most 10 steps
(about 400 requests, ~11 s on SQLite), each against the database as the per-operation harness
(a booked ledger and an admin of its own, a fresh token per request) and the `lending` fixture
left it: the database is put back after every scenario (tests/snapshot.py), so what one
scenario wrote cannot change what a later one is answered (Hypothesis replays earlier
scenarios' choices and fails as FlakyStrategyDefinition when the answers differ).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api import loan_helpers
from tests.api.conftest import Api
from tests.api.test_schemathesis import DOCUMENT, admin_headers, assert_problem
from tests.api.test_schemathesis import harness as harness  # the per-operation fixture
from tests.snapshot import Snapshot

pytestmark = pytest.mark.slow  # schemathesis: a stateful run through the API

V1 = "/api/v1"
MEMBER = f"{V1}/members/{{code}}"
ENTRY = f"{V1}/ledger/entries/{{entry_id}}"
LOAN = f"{V1}/loans/{{loan_id}}"
CODE = {"code": "$response.body#/code"}
SAME_CODE = {"code": "$request.path.code"}
ENTRY_ID = {"entry_id": "$response.body#/id"}
LOAN_ID = {"loan_id": "$response.body#/id"}
# Placeholders in link bodies, filled in by `with_links` with what the harness set up.
BORROWER, PRODUCT = "{borrower}", "{product}"


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: the `status` answer of `source` feeds `parameters` (and the request
    body) of `target`. Schemathesis merges each field of `body` into the body it generates
    (each with a probability of 0.85), so the target is still fuzzed around valid values; a
    `whole_body` link sends `body` as it is instead (with that probability), for bodies that
    are only valid whole (balanced postings, an application without stray guarantors)."""

    name: str
    source: str  # "METHOD /path"
    status: str
    target: str
    parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    whole_body: bool = False


LINKS = (
    # A member registered → what is addressed by her number.
    Link("MemberSummary", f"POST {V1}/members", "201", f"GET {MEMBER}", CODE),
    Link("Deposit", f"POST {V1}/members", "201", f"POST {MEMBER}/deposits", CODE,
         {"amount": "1000.00"}),
    Link("Withdrawal", f"POST {V1}/members", "201", f"POST {MEMBER}/withdrawals", CODE,
         {"amount": "10.00"}),
    Link("BuyShares", f"POST {V1}/members", "201", f"POST {MEMBER}/shares", CODE,
         {"count": 1, "source": "cash"}),
    Link("SavingsTransactions", f"POST {V1}/members", "201",
         f"GET {MEMBER}/savings/transactions", CODE),
    Link("Passbook", f"POST {V1}/members", "201", f"GET {MEMBER}/passbook", CODE),
    Link("GetPreferences", f"POST {V1}/members", "201", f"GET {MEMBER}/preferences", CODE),
    Link("SetPreferences", f"POST {V1}/members", "201", f"PUT {MEMBER}/preferences", CODE),
    # Money paid in for her → her summary and statement again, and money out.
    Link("SummaryAfterDeposit", f"POST {MEMBER}/deposits", "201", f"GET {MEMBER}", SAME_CODE),
    Link("StatementAfterDeposit", f"POST {MEMBER}/deposits", "201",
         f"GET {MEMBER}/savings/transactions", SAME_CODE),
    Link("WithdrawAfterDeposit", f"POST {MEMBER}/deposits", "201",
         f"POST {MEMBER}/withdrawals", SAME_CODE, {"amount": "10.00"}),
    Link("SharesFromSavings", f"POST {MEMBER}/deposits", "201", f"POST {MEMBER}/shares",
         SAME_CODE, {"count": 1, "source": "savings"}),
    # The chart read → a balanced entry between two of its accounts (bank, grant income).
    Link("PostEntry", f"GET {V1}/ledger/accounts", "200", f"POST {V1}/ledger/entries", {},
         {"narration": "stateful transfer", "postings": [
             {"account": "1010", "debit": "10.00"}, {"account": "4200", "credit": "10.00"}]},
         whole_body=True),
    # An entry posted → read it, reverse it; the reversal → read it, reverse the original again.
    Link("GetEntry", f"POST {V1}/ledger/entries", "201", f"GET {ENTRY}", ENTRY_ID),
    Link("ReverseEntry", f"POST {V1}/ledger/entries", "201", f"POST {ENTRY}/reversal",
         ENTRY_ID, {"reason": "posted in error"}),
    Link("GetReversal", f"POST {ENTRY}/reversal", "201", f"GET {ENTRY}", ENTRY_ID),
    Link("ReverseAgain", f"POST {ENTRY}/reversal", "201", f"POST {ENTRY}/reversal",
         {"entry_id": "$request.path.entry_id"}, {"reason": "posted in error"}),
    # A loan product → the product list; the list → an application for the harness's borrower.
    Link("ListProducts", f"POST {V1}/loan-products", "201", f"GET {V1}/loan-products"),
    Link("Apply", f"GET {V1}/loan-products", "200", f"POST {V1}/loans", {},
         {"member_code": BORROWER, "product": PRODUCT, "principal": "500.00"}, whole_body=True),
    # A loan applied for → its detail, payoff, a vote (board only: 403 as admin) and an early
    # disbursement (not approved: 409).
    Link("GetLoan", f"POST {V1}/loans", "201", f"GET {LOAN}", LOAN_ID),
    Link("Payoff", f"POST {V1}/loans", "201", f"GET {LOAN}/payoff", LOAN_ID),
    Link("Vote", f"POST {V1}/loans", "201", f"POST {LOAN}/votes", LOAN_ID,
         {"decision": "approve"}),
    Link("Disburse", f"POST {V1}/loans", "201", f"POST {LOAN}/disbursement", LOAN_ID,
         {"to": "savings"}),
)


def operation_ids(document: dict[str, Any]) -> dict[str, str]:
    """"METHOD /path" → operationId, for every operation of the document."""
    return {f"{method.upper()} {path}": operation["operationId"]
            for path, operations in document["paths"].items()
            for method, operation in operations.items()}


def missing_operations(document: dict[str, Any]) -> list[str]:
    ids = operation_ids(document)
    return sorted({end for link in LINKS for end in (link.source, link.target)} - ids.keys())


def with_links(document: dict[str, Any], borrower: str = "M-NONE", product: str = "NONE"
               ) -> dict[str, Any]:
    """A deep copy of the document with LINKS declared on the source operations' responses."""
    missing = missing_operations(document)
    assert not missing, f"links name operations the document lacks: {missing}"
    ids = operation_ids(document)
    linked = copy.deepcopy(document)
    for link in LINKS:
        method, path = link.source.split(" ", 1)
        response = linked["paths"][path][method.lower()]["responses"][link.status]
        definition: dict[str, Any] = {"operationId": ids[link.target],
                                      "parameters": dict(link.parameters)}
        if link.body is not None:
            definition["requestBody"] = {
                key: {BORROWER: borrower, PRODUCT: product}.get(value, value)
                if isinstance(value, str) else copy.deepcopy(value)
                for key, value in link.body.items()}
        if link.whole_body:
            definition["x-schemathesis"] = {"merge_body": False}
        response.setdefault("links", {})[link.name] = definition
    return linked


CONFIG = SchemathesisConfig.from_dict({
    "seed": 20250630,
    "suppress-health-check": ["all"],
    "phases": {"coverage": {"enabled": False},
               "stateful": {"max-steps": 10, "inference": {"algorithms": []}}},
    "generation": {"mode": "all", "max-examples": 40, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
})
STATEFUL = settings(max_examples=40, stateful_step_count=10, derandomize=True, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=False,
                    phases=[Phase.generate, Phase.shrink])
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@dataclass
class Collector:
    """Every response of the run: its status, per operation, and what links delivered."""

    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[tuple[str, int]] = field(default_factory=Counter)
    links_followed: Counter[str] = field(default_factory=Counter)
    link_statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    members_created: set[str] = field(default_factory=set)
    summaries_of_created: Counter[int] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def record(self, case: Any, response: Any, link: str | None) -> None:
        status = response.status_code
        self.statuses[status] += 1
        self.by_operation[(case.operation.label, status)] += 1
        if link is not None:
            self.links_followed[link] += 1
            self.link_statuses[(link, status)] += 1
        if case.operation.label == f"POST {V1}/members" and status == 201:
            self.members_created.add(response.json()["code"])
        if case.operation.label == f"GET {MEMBER}":
            code = (case.path_parameters or {}).get("code")
            if code in self.members_created:
                self.summaries_of_created[status] += 1

    def summary(self) -> str:
        statuses = dict(sorted(self.statuses.items()))
        return (f"schemathesis stateful: {self.requests} requests, 5xx {self.server_errors}, "
                f"statuses {statuses}")


def test_every_link_names_operations_of_the_document() -> None:
    assert not missing_operations(DOCUMENT), "a linked route was renamed or removed"
    linked = with_links(DOCUMENT)
    declared = {(path, method, status, name)
                for path, operations in linked["paths"].items()
                for method, operation in operations.items()
                for status, response in operation["responses"].items()
                for name in response.get("links", {})}
    assert len(declared) == len(LINKS)
    assert not any("links" in response for operations in DOCUMENT["paths"].values()
                   for operation in operations.values()
                   for response in operation["responses"].values()), "DOCUMENT was changed"
    # Schemathesis resolves every link (an unknown operationId or parameter would raise here).
    schemathesis.openapi.from_dict(linked, config=CONFIG).as_state_machine()


@dataclass
class Lending:
    borrower: str
    product: str


@pytest.fixture
def lending(harness: Api) -> Lending:
    """A member of long standing with savings and shares, a loan product, and room for several
    open loans each, so the `Apply` link can succeed more than once in a run."""
    response = harness.client.patch(f"{V1}/society", json={"settings": {
        "loan_max_open_loans": 10}}, headers=harness.headers("admin"))
    assert response.status_code == 200, response.text
    product = loan_helpers.product(harness, "STATEFUL")["code"]
    return Lending(borrower=loan_helpers.borrower(harness), product=str(product))


def test_stateful_run_has_no_server_error(
    harness: Api, lending: Lending, capsys: pytest.CaptureFixture[str],
    figure: Callable[[str], None],
) -> None:
    schema = schemathesis.openapi.from_dict(
        with_links(DOCUMENT, borrower=lending.borrower, product=lending.product), config=CONFIG)
    collector = Collector()
    base = schema.as_state_machine()
    # Every scenario starts from the database as the fixtures left it: Hypothesis replays the
    # choices of earlier scenarios and expects the same responses to them (tests/snapshot.py).
    snapshot = Snapshot(harness.db)

    class Workflow(base):  # type: ignore[valid-type, misc]
        def step(self, input: Any) -> Any:
            # The transition's id is "SOURCE -> [STATUS] NAME -> TARGET"; keep the link's name.
            followed = input.transition is not None and input.is_applied
            self.current_link = (input.transition.id.split(" -> ")[1].partition("] ")[2]
                                 if followed else None)
            return super().step(input)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": harness.app, "headers": admin_headers(harness)}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            collector.record(case, response, self.current_link)

        def teardown(self) -> None:
            super().teardown()
            snapshot.restore()

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"),
                                   transport_kwargs=kwargs, recorder=self.recorder)
            if response.status_code >= 400:
                assert_problem(response)

    try:
        Workflow.run(settings=STATEFUL)
    finally:
        snapshot.drop()
        with capsys.disabled():  # shown without -s, and also when the run fails
            print(f"\n{collector.summary()}")
            print(f"schemathesis 5xx {collector.server_errors}")
            print(f"links followed: {dict(sorted(collector.links_followed.items()))}")
            for (label, status), count in sorted(collector.by_operation.items()):
                print(f"  {label} {status}: {count}")
    figure(f"{collector.summary()} (schemathesis 5xx {collector.server_errors})")
    assert collector.server_errors == 0
    assert collector.requests >= 100, collector.summary()
    # Links were followed: members registered in this run were read back by their number, and
    # entries and loans were created through links (so their own links had something to use).
    assert collector.members_created, collector.summary()
    assert collector.summaries_of_created[200] > 0, collector.by_operation
    assert collector.link_statuses[("PostEntry", 201)] > 0, collector.link_statuses
    assert collector.link_statuses[("Apply", 201)] > 0, collector.link_statuses
    assert len(collector.links_followed) >= 8, collector.links_followed
