"""One terms type, one codec: a product's terms are the schedule's `ProductTerms`, a loan's
`Terms` add the principal, the dates and the fee, and both are stored by one JSON codec
driven by the dataclass fields. The JSON already in databases (`{field: str(value)}`) loads."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal

from coop.api.schemas.loan_terms import TERMS_IN, TERMS_OUT, ProductOut, ProductTermsIn, QuoteIn
from coop.loans.products import loan_terms, terms_from_json, terms_json
from coop.loans.schedule import (
    Amortization,
    DaysInMonth,
    DaysInYear,
    Frequency,
    InterestMethod,
    InterestPeriod,
    ProductTerms,
    Terms,
)

# as the product code before the split wrote them (ProductTerms.to_json)
STORED_PRODUCT = json.dumps({
    "amortization": "equal_principal", "annual_rate": "18.5", "days_in_month": "30",
    "days_in_year": "360", "frequency": "weekly", "grace_on_interest_charged": "0",
    "grace_on_interest_payment": "1", "grace_on_principal": "2",
    "installment_multiple": "100", "installments": "26", "interest_method": "flat",
    "interest_period": "daily"}, sort_keys=True)

# as the loan code before the split wrote them (_terms_json: None stays null)
STORED_LOAN = json.dumps({
    "amortization": "equal_installments", "annual_rate": "12", "days_in_month": "actual",
    "days_in_year": "actual", "disbursed_on": "2025-06-02", "fee": "1000",
    "first_due_on": None, "frequency": "monthly", "grace_on_interest_charged": "0",
    "grace_on_interest_payment": "0", "grace_on_principal": "0",
    "installment_multiple": "1", "installments": "12", "interest_method": "declining_balance",
    "interest_period": "same_as_repayment", "principal": "100000"}, sort_keys=True)


def test_a_products_stored_terms_load_and_store_the_same() -> None:
    terms = terms_from_json(ProductTerms, STORED_PRODUCT)
    assert terms == ProductTerms(
        annual_rate=Decimal("18.5"), installments=26, frequency=Frequency.WEEKLY,
        interest_method=InterestMethod.FLAT, amortization=Amortization.EQUAL_PRINCIPAL,
        interest_period=InterestPeriod.DAILY, days_in_year=DaysInYear.DAYS_360,
        days_in_month=DaysInMonth.DAYS_30, installment_multiple=100, grace_on_principal=2,
        grace_on_interest_payment=1, grace_on_interest_charged=0)
    assert terms_json(terms) == STORED_PRODUCT


def test_a_loans_stored_terms_load_and_store_the_same() -> None:
    terms = loan_terms(STORED_LOAN)
    assert terms == Terms(principal=100000, annual_rate=Decimal(12), installments=12,
                          disbursed_on=date(2025, 6, 2), fee=1000)
    assert terms_json(terms) == STORED_LOAN
    first_due = Terms(principal=5000, annual_rate=Decimal("7.25"), installments=3,
                      disbursed_on=date(2025, 1, 31), first_due_on=date(2025, 2, 15))
    assert loan_terms(terms_json(first_due)) == first_due


def test_a_loans_terms_are_its_products_and_its_own() -> None:
    product = terms_from_json(ProductTerms, STORED_PRODUCT)
    loan = product.terms(principal=250000, disbursed_on=date(2025, 6, 2), installments=20,
                         fee=500)
    assert isinstance(loan, ProductTerms)
    assert loan.product == ProductTerms(**{**product.product_values(), "installments": 20})
    assert terms_from_json(ProductTerms, terms_json(loan)) == loan.product
    loan_only = {f.name for f in fields(Terms)} - {f.name for f in fields(ProductTerms)}
    assert loan_only == {"principal", "disbursed_on", "first_due_on", "fee"}


def test_the_api_describes_every_field_of_the_terms() -> None:
    names = [f.name for f in fields(ProductTerms)]
    assert list(TERMS_IN) == names == list(TERMS_OUT)
    for model in (ProductTermsIn, QuoteIn, ProductOut):
        assert set(names) <= set(model.model_fields)
    body = ProductTermsIn.model_validate({"annual_rate": "12", "installments": 10})
    assert body.model_dump() == {
        "annual_rate": "12", "installments": 10, "frequency": "monthly",
        "interest_method": "declining_balance", "amortization": "equal_installments",
        "interest_period": "same_as_repayment", "days_in_year": "actual",
        "days_in_month": "actual", "installment_multiple": None, "grace_on_principal": 0,
        "grace_on_interest_payment": 0, "grace_on_interest_charged": 0}
