"""Request and response bodies, one module per context (auth, society, ledger, members,
passbooks, dividends, loans), each with its input models, its output models and the
presenters that turn a service's result into an output model. Money is a decimal string
(never a JSON number); unknown fields are refused; dates are YYYY-MM-DD strings.

This package exports only what every context shares (`common`); import a context's models
from its module."""

from __future__ import annotations

from coop.api.schemas.common import (
    AccountTypeName,
    ChainHeadOut,
    Day,
    In,
    LanguageCode,
    MemberCode,
    MoneyText,
    Out,
    Page,
    RoleName,
    dump,
    money,
    utc_text,
)

__all__ = ["AccountTypeName", "ChainHeadOut", "Day", "In", "LanguageCode", "MemberCode",
           "MoneyText", "Out", "Page", "RoleName", "dump", "money", "utc_text"]
