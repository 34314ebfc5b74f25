"""The ledger: accounts, entries, reversals, the trial balance and verify; bodies and
presenters."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from coop.api.schemas.common import (
    AccountTypeName,
    ChainHeadOut,
    Day,
    In,
    MoneyText,
    Out,
    money,
    utc_text,
)
from coop.ledger import queries
from coop.ledger.model import PostedEntry, Side
from coop.ledger.verify import VerifyReport

if TYPE_CHECKING:
    from coop.api.verify_jobs import JobView


class AccountIn(In):
    code: str = Field(min_length=4, max_length=4, pattern=r"^[0-9]{4}$")
    name: str = Field(min_length=1, max_length=120)
    type: AccountTypeName
    may_go_negative: bool = False


class AccountOut(Out):
    code: str
    name: str
    type: AccountTypeName
    balance: MoneyText
    parent: str | None = None
    owner: str | None = None


class PostingIn(In):
    account: str = Field(min_length=1, max_length=64)
    debit: MoneyText | None = None
    credit: MoneyText | None = None

    @model_validator(mode="after")
    def one_side(self) -> PostingIn:
        if (self.debit is None) == (self.credit is None):
            raise ValueError("a posting has exactly one of debit or credit")
        return self


class EntryIn(In):
    value_date: Day | None = None
    narration: str = Field(min_length=1, max_length=200)
    postings: list[PostingIn] = Field(min_length=2, max_length=64)


class PostingOut(Out):
    """`{account, debit}` or `{account, credit}`: the side that is absent is left out."""

    account: str
    debit: MoneyText | None = None
    credit: MoneyText | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_side(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class EntryOut(Out):
    id: int
    seq: int
    value_date: date
    posted_at: str
    kind: str
    narration: str
    actor: str
    reversal_of: int | None
    postings: list[PostingOut]
    prev_hash: str
    hash: str


class ReversalIn(In):
    reason: str = Field(min_length=1, max_length=150)


class TrialBalanceRowOut(Out):
    account: str
    name: str
    type: AccountTypeName
    debit: MoneyText
    credit: MoneyText


class TrialBalanceOut(Out):
    as_of: date
    rows: list[TrialBalanceRowOut]
    total_debit: MoneyText
    total_credit: MoneyText


class ProblemItemOut(Out):
    seq: int | None
    account: str | None
    message: str


class VerifyOut(Out):
    ok: bool
    entries_checked: int
    chain_head: ChainHeadOut
    problems: list[ProblemItemOut]


class VerifyJobOut(Out):
    """A check of the books running in the background (coop.api.verify_jobs)."""

    id: str
    state: Literal["running", "done", "failed"]
    entries_checked: int
    entries_total: int
    percent: int = Field(ge=0, le=100, description="whole percent; 100 only once done")
    started_at: str
    finished_at: str | None
    result: VerifyOut | None = Field(description="once done: the answer of GET /ledger/verify")
    message: str | None = Field(description="once failed: why, in plain words")


def account_out(account: queries.AccountView, *, parent: str | None,
                currency: str) -> AccountOut:
    return AccountOut(code=account.code, name=account.name,
                      type=account.type,
                      balance=money(account.balance_minor, currency), parent=parent,
                      owner=account.owner)


def entry_out(entry: PostedEntry, currency: str) -> EntryOut:
    return EntryOut(
        id=entry.id, seq=entry.seq, value_date=entry.value_date,
        posted_at=utc_text(entry.posted_at), kind=entry.kind, narration=entry.narration,
        actor=entry.actor, reversal_of=entry.reversal_of,
        postings=[PostingOut(account=p.account, debit=money(p.amount_minor, currency))
                  if p.side is Side.DEBIT else
                  PostingOut(account=p.account, credit=money(p.amount_minor, currency))
                  for p in entry.postings],
        prev_hash=entry.prev_hash, hash=entry.hash)


def trial_balance_out(tb: queries.TrialBalance, *, as_of: date,
                      currency: str) -> TrialBalanceOut:
    return TrialBalanceOut(
        as_of=as_of,
        rows=[TrialBalanceRowOut(account=r.account, name=r.name,
                                 type=r.type,
                                 debit=money(r.debit_minor, currency),
                                 credit=money(r.credit_minor, currency))
              for r in tb.rows],
        total_debit=money(tb.total_debit_minor, currency),
        total_credit=money(tb.total_credit_minor, currency))


def verify_out(report: VerifyReport) -> VerifyOut:
    return VerifyOut(
        ok=report.ok, entries_checked=report.entries_checked,
        chain_head=ChainHeadOut(seq=report.head_seq, hash=report.head_hash),
        problems=[ProblemItemOut(seq=p.seq, account=p.account, message=p.message)
                  for p in report.problems])


def verify_job_out(view: JobView) -> VerifyJobOut:
    return VerifyJobOut(
        id=view.id, state=view.state, entries_checked=view.entries_checked,
        entries_total=view.entries_total, percent=view.percent,
        started_at=utc_text(view.started_at),
        finished_at=utc_text(view.finished_at) if view.finished_at is not None else None,
        result=view.result, message=view.message)
