"""Request and response bodies. Money is a decimal string (never a JSON number); unknown
fields are refused; dates are YYYY-MM-DD strings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    model_serializer,
    model_validator,
)

Day = Annotated[date, Strict()]
MoneyText = Annotated[str, Field(max_length=24, examples=["1250.50"])]
RoleName = Literal["admin", "board", "clerk", "auditor", "member"]
AccountTypeName = Literal["asset", "liability", "equity", "income", "expense"]
# a plain pattern, not a Literal: Litestar describes a Literal shared by bodies and query
# parameters differently depending on which route it met first
LanguageCode = Annotated[str, Field(pattern="^(en|kn|bn|hi|es|sw)$", examples=["kn"])]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class TokenIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int
    role: RoleName


class UserIn(In):
    username: str = Field(min_length=2, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    role: RoleName
    member_code: str | None = Field(default=None, max_length=16)


class UserOut(Out):
    username: str
    role: RoleName
    member_code: str | None
    disabled: bool = False


class UserPatchIn(In):
    disabled: bool | None = None
    role: RoleName | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    member_code: str | None = Field(default=None, max_length=16)


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class SocietyOut(Out):
    name: str
    currency: str
    locale: str
    fiscal_year_start: str
    share_face_value: MoneyText
    business_date: date
    settings: dict[str, Any]


class SocietyPatchIn(In):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    locale: str | None = Field(default=None, min_length=2, max_length=16)
    settings: dict[str, Any] | None = None


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


class ChainHeadOut(Out):
    seq: int
    hash: str


class ProblemItemOut(Out):
    seq: int | None
    account: str | None
    message: str


class VerifyOut(Out):
    ok: bool
    entries_checked: int
    chain_head: ChainHeadOut
    problems: list[ProblemItemOut]


T = TypeVar("T")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


MemberCode = Annotated[str, Field(min_length=3, max_length=16, examples=["M-7Q4K2X"])]


class MemberIn(In):
    known_as: str | None = Field(default=None, min_length=1, max_length=120)
    legal_name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, min_length=3, max_length=32)
    nominee: str | None = Field(default=None, min_length=1, max_length=120)
    joined_on: Day | None = None
    language: LanguageCode | None = None
    known_as_on_passbook: bool = False


class MemberOut(Out):
    code: str
    status: Literal["active", "exited"]
    joined_on: date


class SharesOut(Out):
    count: int
    value: MoneyText


class SavingsOut(Out):
    balance: MoneyText
    available: MoneyText


class MemberLoanOut(Out):
    id: int
    status: str
    outstanding_principal: MoneyText


class MemberSummaryOut(Out):
    code: str
    status: Literal["active", "exited"]
    joined_on: date
    known_as: str | None = None
    shares: SharesOut
    savings: SavingsOut
    loans: list[MemberLoanOut]


class SharePurchaseIn(In):
    count: int = Field(ge=1, le=100_000)
    source: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None


class SharePurchaseOut(Out):
    entry_id: int
    shares: SharesOut


class CashIn(In):
    amount: MoneyText
    value_date: Day | None = None
    narration: str | None = Field(default=None, min_length=1, max_length=120)


class CashOut(Out):
    entry_id: int
    balance: MoneyText
    available: MoneyText


class StatementLineOut(Out):
    entry_id: int
    value_date: date
    narration: str
    deposit: MoneyText
    withdrawal: MoneyText
    balance: MoneyText


class HoldIn(In):
    amount: MoneyText
    reason: str = Field(min_length=1, max_length=120)


class HoldOut(Out):
    id: int
    amount: MoneyText
    reason: str
    released: bool


class InterestRunIn(In):
    through: Day
    period_start: Day | None = Field(default=None, alias="from")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InterestRunOut(Out):
    period_start: date
    period_end: date
    rate: str
    accounts: int
    total: MoneyText
    replayed: bool


class ShareRedemptionIn(In):
    count: int = Field(ge=1, le=100_000)
    to: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None


class RegisterLineOut(Out):
    member_code: str
    count: int


class ShareRegisterOut(Out):
    as_of: date
    items: list[RegisterLineOut]
    total_count: int


class PhoneSearchIn(In):
    phone: str = Field(min_length=3, max_length=32)




class PreferencesIn(In):
    """Her choices; a field left out stays as it is (language null: the society's)."""

    language: LanguageCode | None = None
    known_as_on_passbook: bool | None = None


class PreferencesOut(Out):
    code: str
    language: LanguageCode | None
    document_language: LanguageCode
    known_as_on_passbook: bool


class PassbookPrintedIn(In):
    book: str = Field(min_length=1, max_length=40, examples=["M-7Q4K2X-1"])
    through: int = Field(ge=0, le=10_000)


class PassbookDuplicateIn(In):
    because: Literal["lost", "damaged"]


class PassbookOut(Out):
    """Her open book: how far it is printed, where the next line goes, what is waiting."""

    code: str
    book: str
    number: int
    duplicate: bool
    issued: bool
    page_size: Literal["A5", "A6"]
    lines_per_page: int
    pages: int
    capacity: int
    printed_lines: int
    next_page: int
    next_line: int
    unprinted_lines: int


class PassbookCheckIn(In):
    code: str = Field(min_length=1, max_length=200,
                      examples=["COOP-PB1|M-7Q4K2X|M-7Q4K2X-1|6068|a9b61e85879676cc"])


class PassbookCheckOut(Out):
    genuine: bool
    member_code: str | None
    book: str | None
    book_status: str | None
    head_seq: int | None
    problems: list[str]
