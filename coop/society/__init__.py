"""The society: its printed name, locale, fiscal year, and the settings the board decides.

Settings are validated as a whole (Pydantic) and stored as one JSON document in the single
`society` row; rates and percents are decimal strings, never floats. The currency lives with
the book (`ledger_book.currency`): a society keeps one book in one currency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, cast

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import CheckConstraint, Integer, String, Table, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.db_statements import Prepared, transaction_memo
from coop.errors import Conflict, InvalidInput
from coop.ledger import queries, service
from coop.ledger.chart import SHARE_CAPITAL
from coop.ledger.orm import book_table
from coop.money import format_minor, parse_minor
from coop.society.limits import check_counter_amount

PERCENT_PATTERN = r"^(100|[0-9]{1,2})(\.[0-9]{1,4})?$"
PASSBOOK_LINES_MAX = {"A5": 16, "A6": 11}
PROVISION_PERCENT_PATTERN = r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$"
"""A loan class's provision percent: 0 to 100, at most two decimals (coop.loans.classification)."""


class SocietySettings(BaseModel):
    """The settings in CONTRACT.md (Society), with their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_shares: int = Field(default=1, ge=0, le=10_000)
    loan_approvals_required: int = Field(default=6, ge=1, le=50)
    board_seats: int = Field(default=11, ge=1, le=50)
    reserve_fund_percent: str = Field(default="25", pattern=PERCENT_PATTERN)
    education_fund_percent: str = Field(default="1", pattern=PERCENT_PATTERN)
    unforeseen_loss_reserve_percent: str = Field(
        default="10", pattern=PERCENT_PATTERN
    )
    dividend_cap_percent: str = Field(default="15", pattern=PERCENT_PATTERN)
    dividend_basis: Literal["share_days", "months_held", "closing_register"] = "share_days"
    dividend_approvals_required: int = Field(default=1, ge=1, le=50)
    """Board votes a dividend declaration needs (the general body's decision, which the board
    records); until they are in, the declaration is pending and posts nothing."""
    savings_interest_rate: str = Field(default="4", pattern=PERCENT_PATTERN)
    savings_interest_min_balance: str = Field(
        default="0", pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,3})?$"
    )
    max_loan_multiple_of_savings: str = Field(
        default="3", pattern=r"^[0-9]{1,3}(\.[0-9]{1,2})?$"
    )
    dividend_exited_members: Literal["time_held", "none"] = "time_held"
    dividend_rounding: str = Field(default="0.01", pattern=r"^[0-9]{1,6}(\.[0-9]{1,3})?$")
    appropriation_preset: Literal["mscs_2002", "custom"] = "mscs_2002"
    grievance_contact: str = Field(
        default="the society's board, at the office", min_length=1, max_length=160)
    loan_min_membership_days: int = Field(default=90, ge=0, le=3660)
    loan_max_open_loans: int = Field(default=1, ge=1, le=10)
    loan_max_principal: str | None = Field(
        default=None, pattern=r"^[1-9][0-9]{0,11}(\.[0-9]{1,3})?$"
    )
    language: Literal["en", "kn", "bn", "hi", "es", "sw"] = "en"
    """The language of members' documents unless a member chose her own."""
    passbook_page_size: Literal["A5", "A6"] = "A5"
    passbook_lines_per_page: int = Field(default=14, ge=4, le=24)
    passbook_pages_per_book: int = Field(default=20, ge=1, le=200)
    counter_confirm_above: str = Field(
        default="50000.00", pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,3})?$")
    """Counter money requests above this need "confirm_large_amount": true."""
    counter_max_amount: str = Field(
        default="1000000.00", pattern=r"^[1-9][0-9]{0,11}(\.[0-9]{1,3})?$")
    """Counter money requests above this are refused whatever the body says."""
    require_open_till: bool = False
    """On: a user with no open till who takes or pays cash is refused (`till-not-open`)."""
    provision_standard_percent: str = Field(default="0.40", pattern=PROVISION_PERCENT_PATTERN)
    provision_sub_standard_percent: str = Field(default="10", pattern=PROVISION_PERCENT_PATTERN)
    provision_doubtful_1_percent: str = Field(default="20", pattern=PROVISION_PERCENT_PATTERN)
    provision_doubtful_2_percent: str = Field(default="30", pattern=PROVISION_PERCENT_PATTERN)
    provision_doubtful_3_percent: str = Field(default="100", pattern=PROVISION_PERCENT_PATTERN)
    provision_loss_percent: str = Field(default="100", pattern=PROVISION_PERCENT_PATTERN)
    """The provision each loan class asks for, percent of the principal outstanding (the
    RBI/NABARD classification; coop.loans.classification)."""

    @model_validator(mode="after")
    def _statutory_minimums(self) -> SocietySettings:
        """The Multi-State Co-operative Societies Act 2002, s.63(1): at least 25 % to the
        reserve fund, 1 % to the education fund, at least 10 % for unforeseen losses."""
        funds = (self.reserve_fund_percent, self.education_fund_percent,
                 self.unforeseen_loss_reserve_percent)
        if sum(Decimal(percent) for percent in funds) > 100:
            raise ValueError("the appropriation percentages add up to more than 100")
        if self.appropriation_preset == "mscs_2002":
            for name, minimum in (("reserve_fund_percent", 25), ("education_fund_percent", 1),
                                  ("unforeseen_loss_reserve_percent", 10)):
                if Decimal(getattr(self, name)) < minimum:
                    raise ValueError(f"{name} is at least {minimum} under the mscs_2002 preset "
                                     "(set appropriation_preset to custom for other rules)")
        if self.dividend_approvals_required > self.board_seats:
            raise ValueError("dividend_approvals_required is at most board_seats")
        if Decimal(self.counter_confirm_above) > Decimal(self.counter_max_amount):
            raise ValueError("counter_confirm_above is at most counter_max_amount")
        most = PASSBOOK_LINES_MAX[self.passbook_page_size]
        if self.passbook_lines_per_page > most:
            raise ValueError(f"an {self.passbook_page_size} passbook page holds at most {most} "
                             "lines in large type")
        return self


class SocietyRow(Base):
    __tablename__ = "society"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(16))
    fiscal_year_start: Mapped[str] = mapped_column(String(5))
    share_face_value_minor: Mapped[int]
    settings_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class Society:
    name: str
    currency: str
    locale: str
    fiscal_year_start: str
    share_face_value_minor: int
    settings: SocietySettings


DEFAULT_SHARE_FACE_VALUE_MINOR = 1000  # 10.00 in a two-digit currency


def init_society(
    session: Session, *, name: str, currency: str, locale: str, clock: Clock
) -> bool:
    """Set up the society and its book with the default chart. Safe to run twice: an existing
    society is left exactly as it is. Returns True when it was created now."""
    created_book = service.init_book(session, currency=currency, clock=clock)
    if session.execute(select(SocietyRow.id)).first() is not None:
        return created_book
    session.add(
        SocietyRow(
            id=1, name=name, locale=locale, fiscal_year_start="04-01",
            share_face_value_minor=DEFAULT_SHARE_FACE_VALUE_MINOR,
            settings_json=_first_settings(locale).model_dump_json(), created_at=clock.now(),
        )
    )
    session.flush()
    return True


class SharesIssued(Conflict):
    code = "shares_issued"
    title = "Shares have been issued at the present face value"


def set_share_face_value(session: Session, face_value_minor: int) -> None:
    """The face value of one share, in minor units. Only before the first share is issued:
    the share register counts shares, and count x face value must stay equal to each member's
    share account (`coop verify` checks it), so a society that changes its face value later
    does it by a resolution and a conversion, not by a setting."""
    if face_value_minor <= 0:
        raise InvalidInput("the face value of a share is more than zero",
                           field="share_face_value")
    capital = queries.get_account(session, SHARE_CAPITAL)
    if capital is not None and (capital.debits_minor or capital.credits_minor):
        raise SharesIssued("shares have been issued: their face value cannot change",
                           field="share_face_value")
    _changed(session)
    session.execute(update(SocietyRow).where(SocietyRow.id == 1).values(
        share_face_value_minor=face_value_minor))


def _first_settings(locale: str) -> SocietySettings:
    """The defaults, with documents in the locale's language when we print it (kn_IN: kn)."""
    language = locale.split("_")[0]
    if language in ("en", "kn", "bn", "hi", "es", "sw"):
        return SocietySettings(language=language)
    return SocietySettings()


_society_table = cast(Table, SocietyRow.__table__)
_SOCIETY = Prepared(select(
    _society_table.c.name, _society_table.c.locale, _society_table.c.fiscal_year_start,
    _society_table.c.share_face_value_minor, _society_table.c.settings_json,
    select(book_table.c.currency).scalar_subquery(),
))
_MEMO = transaction_memo("coop.society")


@lru_cache(maxsize=8)
def _parse_settings(settings_json: str) -> SocietySettings:
    """The settings document parsed (frozen, so shared): a counter request reads the row
    every time, but parses it only when it has changed."""
    return SocietySettings.model_validate_json(settings_json)


def get_society(session: Session) -> Society | None:
    """The society as this transaction sees it: read once per transaction (one Core query;
    the settings parsed once per version of them), forgotten when it changes here."""
    memo = session.info.get(_MEMO)
    if isinstance(memo, Society):
        return memo
    row = _SOCIETY.execute(session).fetchone()
    if row is None or row[5] is None:
        return None
    society = Society(
        name=row[0], currency=row[5], locale=row[1], fiscal_year_start=row[2],
        share_face_value_minor=int(row[3]), settings=_parse_settings(row[4]),
    )
    session.info[_MEMO] = society
    return society


def _changed(session: Session) -> None:
    session.info.pop(_MEMO, None)


class SocietyNotSetUp(InvalidInput):
    code = "society_not_set_up"
    title = "The society has not been set up"


NOT_SET_UP = "the society has not been set up: run `coop init`"


def require_society(session: Session) -> Society:
    """The society, or a clear refusal when `coop init` has not been run."""
    society = get_society(session)
    if society is None:
        raise SocietyNotSetUp(NOT_SET_UP)
    return society


def book_currency(session: Session) -> str:
    """The book's currency (ISO 4217), fixed at `coop init`; there is no fallback."""
    book = queries.book(session)
    if book is None:
        raise SocietyNotSetUp(NOT_SET_UP)
    return book.currency


def update_settings(session: Session, changes: dict[str, Any]) -> SocietySettings:
    """Apply a partial update of the settings; the whole result must be valid."""
    society = require_society(session)
    try:
        merged = SocietySettings.model_validate({**society.settings.model_dump(), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInput.said(
            "{setting}: {problem}",
            setting=field, problem=first['msg'], field=f"settings.{field}") from exc
    currency = book_currency(session)
    for name in ("counter_confirm_above", "counter_max_amount"):
        parse_minor(getattr(merged, name), currency, field=f"settings.{name}", allow_zero=True,
                    maximum=10**18)
    _changed(session)
    session.execute(
        update(SocietyRow).where(SocietyRow.id == 1).values(settings_json=merged.model_dump_json())
    )
    return merged


def rename(session: Session, *, name: str | None, locale: str | None) -> None:
    """Change the printed name or the locale (checked against Babel's locale data)."""
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = name.strip()[:120]
    if locale is not None:
        try:
            Locale.parse(locale)
        except (ValueError, UnknownLocaleError) as exc:
            raise InvalidInput.said(
                "unknown locale {locale}",
                locale=repr(locale), field="locale") from exc
        changes["locale"] = locale
    if changes:
        _changed(session)
        session.execute(update(SocietyRow).where(SocietyRow.id == 1).values(**changes))


@dataclass(frozen=True)
class CounterLimits:
    """The society's counter limits in minor units of the book's currency."""

    currency: str
    confirm_above_minor: int
    max_minor: int


def counter_limits(session: Session) -> CounterLimits:
    """The two counter settings, parsed in the book's currency (digits beyond the currency's
    are refused by `parse_minor`, so a setting and an amount compare exactly)."""
    society = require_society(session)
    settings, cur = society.settings, society.currency
    return CounterLimits(
        cur,
        parse_minor(settings.counter_confirm_above, cur, field="settings.counter_confirm_above",
                    allow_zero=True, maximum=10**18),
        parse_minor(settings.counter_max_amount, cur, field="settings.counter_max_amount",
                    maximum=10**18))


def check_counter_request(session: Session, amount_minor: int, *, confirmed: bool | None,
                          field: str = "amount") -> None:
    """The counter limits for a counter money request (`confirmed` True or False); None is
    an internal caller (demo, dividends, disbursements, interest), never limited."""
    if confirmed is None:
        return
    limits = counter_limits(session)
    check_counter_amount(
        amount_minor, confirm_above_minor=limits.confirm_above_minor,
        max_minor=limits.max_minor, confirmed=confirmed, field=field,
        amount_text=format_minor(amount_minor, limits.currency),
        confirm_text=format_minor(limits.confirm_above_minor, limits.currency),
        max_text=format_minor(limits.max_minor, limits.currency))


def settings_document(settings: SocietySettings) -> dict[str, Any]:
    return json.loads(settings.model_dump_json())  # type: ignore[no-any-return]
