"""`quote_application` (what the counter shows before anything is saved) against `apply`
(what is then stored), on SQLite and PostgreSQL: the worked example of the monthly product
(12,000.00 at 12 % a year over 12 months: 106,619 a month), nothing written by a quote, every
refusal listed with its field, the quote and the loan agreeing on who may borrow, and a
loan stored only while its figures are the figures shown. Also `savings.holds_of`."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.clock import FixedClock
from coop.db import Database
from coop.errors import CoopError
from coop.loans import (
    ApplicationQuote,
    Guarantee,
    LoanRow,
    QuoteChanged,
    apply,
    quote_application,
)
from coop.members.vault import Vault
from coop.savings import balances, holds_of, place_hold, record_deposit, release_hold
from tests.integration.test_loans_service import (
    INSTALLMENT,
    PRINCIPAL,
    PRODUCT,
    Desk,
    keys,  # noqa: F401  (fixture)
    open_desk,
)

START = date(2025, 6, 30)


def loans_stored(db: Database) -> int:
    return int(db.read(lambda s: s.scalar(select(func.count()).select_from(LoanRow))))


def quote(desk: Desk, member: str, principal: int = PRINCIPAL,
          guarantors: tuple[Guarantee, ...] = (),
          purpose: str | None = "business") -> ApplicationQuote:
    return desk.db.read(lambda s: quote_application(
        s, member_code=member, product_code=PRODUCT, principal_minor=principal,
        installments=None, purpose=purpose, guarantors=guarantors,
        society=desk.society(s), today=desk.clock.today()))


def stored(desk: Desk, member: str, principal: int = PRINCIPAL,
           guarantors: tuple[Guarantee, ...] = (), quoted: str | None = None) -> int:
    loan, _ = desk.db.write(lambda s: apply(
        s, member_code=member, product_code=PRODUCT, principal_minor=principal,
        installments=None, purpose="business", guarantors=guarantors,
        society=desk.society(s), actor="clerk1", clock=desk.clock, quoted=quoted))
    return int(loan.id)


def test_the_quote_is_the_worked_example_and_writes_nothing(
        db: Database, clock: FixedClock, keys: Vault) -> None:  # noqa: F811
    desk = open_desk(db, clock, keys, start=START)
    member, guarantor = desk.register(), desk.register(savings=300_000)
    quoted = quote(desk, member, guarantors=(Guarantee(guarantor, 100_000),))
    assert quoted.refusals == ()
    schedule = quoted.schedule
    assert [i.total for i in schedule.installments[:11]] == [INSTALLMENT] * 11
    assert schedule.total_principal == PRINCIPAL
    assert [(g.member_code, g.amount_minor, g.available_minor)
            for g in quoted.guarantors] == [(guarantor, 100_000, 300_000)]
    assert loans_stored(db) == 0
    assert db.read(lambda s: balances(s, guarantor)).held_minor == 0
    loan_id = stored(desk, member, guarantors=(Guarantee(guarantor, 100_000),),
                     quoted=quoted.figures)
    assert loans_stored(db) == 1 and loan_id
    assert db.read(lambda s: balances(s, guarantor)).held_minor == 100_000


def test_a_loan_is_stored_only_while_its_figures_are_those_shown(
        db: Database, clock: FixedClock, keys: Vault) -> None:  # noqa: F811
    desk = open_desk(db, clock, keys, start=START)
    member = desk.register()
    shown = quote(desk, member).figures
    desk.at(date(2025, 7, 1))  # the next business day: every due date moves
    assert quote(desk, member).figures != shown
    with pytest.raises(QuoteChanged) as refused:
        stored(desk, member, quoted=shown)
    assert refused.value.field == "quote" and refused.value.kind == "conflict"
    assert loans_stored(db) == 0
    stored(desk, member, quoted=quote(desk, member).figures)
    assert loans_stored(db) == 1


def test_every_refusal_is_listed_with_its_field(
        db: Database, clock: FixedClock, keys: Vault) -> None:  # noqa: F811
    desk = open_desk(db, clock, keys, start=START)
    member, poor = desk.register(savings=100_000), desk.register(savings=1_000)
    board_member = desk.voters[0]
    quoted = quote(desk, member, purpose="gambling", guarantors=(
        Guarantee(member, 1_000), Guarantee(board_member, 1_000), Guarantee(poor, 5_000),
        Guarantee("M-ZZZZZZ", 1_000)))
    fields = [(r.field, r.detail) for r in quoted.refusals]
    assert [f for f, _ in fields] == ["purpose", "principal", "guarantor_1", "guarantor_2",
                                      "guarantor_3", "guarantor_4"]
    assert "times her savings and shares" in fields[1][1]
    assert "cannot guarantee her own loan" in fields[2][1]
    assert "sits on the board" in fields[3][1]
    assert "10.00 available" in fields[4][1]
    assert loans_stored(db) == 0


@pytest.mark.parametrize(("savings", "principal", "guaranteed"), [
    (500_000, PRINCIPAL, 0),  # 3 x 5,000.00 covers 12,000.00
    (300_000, PRINCIPAL, 0),  # 9,000.00 does not
    (300_000, PRINCIPAL, 300_000),  # 9,000.00 + 3,000.00 guaranteed does, exactly
    (300_000, PRINCIPAL, 299_999),  # one paisa short
    (300_000, PRINCIPAL, 600_000),  # more guaranteed than the guarantor has available
    (0, 100_000, 0),  # nothing saved: nothing lent
])
def test_the_quote_and_the_loan_agree_on_who_may_borrow(
        db: Database, clock: FixedClock, keys: Vault,  # noqa: F811
        savings: int, principal: int, guaranteed: int) -> None:
    desk = open_desk(db, clock, keys, start=START)
    member, guarantor = desk.register(savings=savings), desk.register(savings=500_000)
    guarantors = (Guarantee(guarantor, guaranteed),) if guaranteed else ()
    quoted = quote(desk, member, principal, guarantors)
    try:
        stored(desk, member, principal, guarantors,
               quoted=quoted.figures)
    except CoopError:
        assert quoted.refusals and loans_stored(db) == 0
    else:
        assert quoted.refusals == () and loans_stored(db) == 1


def test_holds_of_lists_the_holds_in_force(db: Database, clock: FixedClock,
                                           keys: Vault) -> None:  # noqa: F811
    desk = open_desk(db, clock, keys, start=START)
    member = desk.register()
    first, second = (db.write(lambda s, a=amount: place_hold(
        s, member, amount_minor=a, reason="court order", actor="admin", clock=clock).id)
        for amount in (1_000, 2_000))
    assert [h.id for h in db.read(lambda s: holds_of(s, member))] == [first, second]
    db.write(lambda s: release_hold(s, member, first, clock=clock))
    assert [(h.id, h.amount_minor) for h in db.read(lambda s: holds_of(s, member))] == [
        (second, 2_000)]


class _Undo(Exception):
    """Raised at the end of an example's transaction: nothing of it is kept."""


def test_a_quote_without_refusals_is_exactly_the_loan_apply_stores(
        db: Database, clock: FixedClock, keys: Vault) -> None:  # noqa: F811
    """For any savings, principal, guarantee and installments: `apply` stores the loan iff its
    quote lists no refusal, and then with the quote's schedule (each example in one
    transaction, undone)."""
    desk = open_desk(db, clock, keys, start=START)
    member, guarantor = desk.register(savings=0), desk.register(savings=1_000_000)

    @settings(max_examples=40, deadline=None)
    @given(savings=st.integers(0, 2_000_000), principal=st.integers(1_000, 6_000_000),
           guaranteed=st.integers(0, 1_500_000), installments=st.none() | st.integers(1, 30))
    def agree(savings: int, principal: int, guaranteed: int, installments: int | None) -> None:
        guarantors = (Guarantee(guarantor, guaranteed),) if guaranteed else ()

        def example(session: Session) -> None:
            if savings:
                record_deposit(session, member, amount_minor=savings,
                               value_date=clock.today(), actor="clerk1", clock=clock)
            arguments: dict[str, Any] = {"member_code": member, "product_code": PRODUCT,
                         "principal_minor": principal, "installments": installments,
                         "purpose": "business", "guarantors": guarantors,
                         "society": desk.society(session)}
            quoted = quote_application(session, **arguments, today=clock.today())
            try:
                _, schedule = apply(session, **arguments, actor="clerk1", clock=clock,
                                    quoted=quoted.figures)
            except CoopError as refused:
                assert quoted.refusals, refused
                assert not isinstance(refused, QuoteChanged)
            else:
                assert quoted.refusals == ()
                assert schedule == quoted.schedule
            raise _Undo

        with pytest.raises(_Undo):
            db.write(example)

    agree()
    assert loans_stored(db) == 0
