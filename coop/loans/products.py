"""Loan products: a product's terms (`schedule.ProductTerms`, the loan's `Terms` without the
principal, the dates and the fee), its limits, fee, penalty and allocation order.

Terms are stored as JSON, `{field: str(value)}` (None stays null), by ONE codec driven by the
dataclass's fields and their types: the same for a product's terms (`loan_product.terms_json`)
and a loan's (`loan.terms_json`), so a field added to the terms is stored without a line here.
"""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import Conflict, InvalidInput, NotFound, require
from coop.ledger.model import check_text
from coop.loans import engine
from coop.loans.engine import Bucket
from coop.loans.orm import ProductRow
from coop.loans.schedule import ProductTerms, Terms, build, half_even

T = TypeVar("T", bound=ProductTerms)


# --- the terms codec ------------------------------------------------------------------------


def terms_json(terms: ProductTerms) -> str:
    """Every field of `terms` (a `ProductTerms` or a whole `Terms`) as `{name: str(value)}`."""
    return json.dumps({f.name: _text(getattr(terms, f.name)) for f in fields(terms)},
                      sort_keys=True)


def terms_from_json(kind: type[T], text: str) -> T:
    """The `kind` (ProductTerms or Terms) stored by `terms_json`; a field the JSON lacks takes
    its default, a field it has that `kind` lacks is ignored (a loan's JSON read as a
    product's terms drops the principal and the dates)."""
    raw = json.loads(text)
    hints = _type_hints(kind)
    values: dict[str, Any] = {f.name: field_value(hints[f.name], raw[f.name])
                              for f in fields(kind) if f.name in raw}
    return kind(**values)


_HINTS: dict[type[ProductTerms], dict[str, Any]] = {}


def _type_hints(kind: type[ProductTerms]) -> dict[str, Any]:
    """The fields' types, resolved once per class (resolving compiles every annotation)."""
    hints = _HINTS.get(kind)
    if hints is None:
        hints = _HINTS[kind] = get_type_hints(kind)
    return hints


def field_value(kind: Any, text: object) -> Any:
    """One field's value from its stored (or typed) text, by the field's type."""
    if text is None:
        return None
    if get_origin(kind) in (Union, types.UnionType):
        (kind,) = [arg for arg in get_args(kind) if arg is not type(None)]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(str(text))
    if kind is date:
        return text if isinstance(text, date) else date.fromisoformat(str(text))
    require(kind in (int, Decimal, str), f"terms fields are ints, Decimals, dates or enums, "
                                         f"not {kind}")
    return kind(str(text))


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.value if isinstance(value, Enum) else str(value)


def loan_terms(text: str) -> Terms:
    return terms_from_json(Terms, text)


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    terms: ProductTerms
    max_principal_minor: int | None
    fee_percent: Decimal
    penalty_rate: Decimal
    allocation_order: tuple[Bucket, ...]

    def fee_for(self, principal: int) -> int:
        return half_even(principal * Fraction(self.fee_percent) / 100)


def product_of(row: ProductRow) -> Product:
    return Product(row.code, row.name, terms_from_json(ProductTerms, row.terms_json),
                   row.max_principal_minor, Decimal(row.fee_percent), Decimal(row.penalty_rate),
                   tuple(Bucket(b) for b in row.allocation_order.split(",")))


def product_by_id(session: Session, product_id: int) -> Product:
    return product_of(session.get_one(ProductRow, product_id))


def parse_order(names: Sequence[str] | None) -> tuple[Bucket, ...]:
    if not names:
        return engine.DEFAULT_ORDER
    try:
        order = tuple(Bucket(name) for name in names)
    except ValueError:
        raise InvalidInput.said(
            "allocation_order names the buckets {buckets}",
            buckets=[b.value for b in Bucket], field="allocation_order") from None
    if sorted(order) != sorted(Bucket):
        raise InvalidInput("allocation_order lists every bucket once",
                           field="allocation_order")
    return order


def create_product(session: Session, product: Product, *, clock: Clock) -> Product:
    check_text(product.name, field="name", length_max=80)
    if not product.code or len(product.code) > 32 or not product.code.replace("-", "").replace(
            "_", "").isalnum():
        raise InvalidInput("a product code is 1-32 letters, digits, - or _", field="code")
    if not Decimal(0) <= product.fee_percent <= Decimal(20):
        raise InvalidInput("fee_percent is between 0 and 20", field="fee_percent")
    if not Decimal(0) <= product.penalty_rate <= Decimal(100):
        raise InvalidInput("penalty_rate is between 0 and 100", field="penalty_rate")
    sample = product.max_principal_minor or 10**7
    build(product.terms.terms(principal=sample, disbursed_on=clock.today()))  # terms make sense
    if session.execute(select(ProductRow.id).where(ProductRow.code == product.code)).first():
        raise Conflict.said("product {code} exists", code=product.code, field="code")
    try:
        with session.begin_nested():  # two admins creating the same code at once: one wins
            session.add(ProductRow(
                code=product.code, name=product.name, terms_json=terms_json(product.terms),
                max_principal_minor=product.max_principal_minor,
                fee_percent=str(product.fee_percent), penalty_rate=str(product.penalty_rate),
                allocation_order=",".join(b.value for b in product.allocation_order),
                created_at=clock.now()))
    except IntegrityError:
        raise Conflict.said("product {code} exists", code=product.code, field="code") from None
    return product


def list_products(session: Session) -> list[Product]:
    return [product_of(row)
            for row in session.scalars(select(ProductRow).order_by(ProductRow.code))]


def get_product(session: Session, code: str) -> tuple[int, Product]:
    row = session.execute(select(ProductRow).where(ProductRow.code == code)).scalar()
    if row is None:
        raise NotFound.said(
            "there is no loan product {code}",
            code=repr(code[:32]), field="product")
    return row.id, product_of(row)


__all__ = ["Product", "ProductTerms", "create_product", "field_value", "get_product",
           "list_products", "loan_terms", "parse_order", "product_by_id", "product_of",
           "terms_from_json", "terms_json"]
