"""The society's eligibility rules, as worked examples a clerk would recognise (pure: no
database). The society in these examples: members may borrow after 90 days, one open loan at
a time, at most 50,000.00 from the society and three times savings and shares (plus what
guarantors hold for her)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from coop.loans import EligibilityFacts, EligibilityRules, Refusal, check_eligibility
from coop.society import SocietySettings

RULES = EligibilityRules(min_membership_days=90, max_open_loans=1,
                         max_principal_minor=50_000_00, cover_multiple=Decimal(3))

# Asha joined 200 days ago, has 3,000.00 saved and 1,000.00 in shares, no loan, and asks for
# 10,000.00 on a product that lends up to 20,000.00.
ASHA = EligibilityFacts(member_code="M-7Q4K2", membership_days=200, open_loans=0,
                        cover_minor=4_000_00, guaranteed_minor=0, principal_minor=10_000_00,
                        product_max_minor=20_000_00)


def test_a_member_within_every_rule_may_borrow() -> None:
    assert check_eligibility(ASHA, RULES) == []


def test_up_to_three_times_her_savings_and_shares_exactly() -> None:
    # 3 x 4,000.00 = 12,000.00: exactly that is allowed, a paisa more is not
    assert check_eligibility(replace(ASHA, principal_minor=12_000_00), RULES) == []
    refused = check_eligibility(replace(ASHA, principal_minor=12_000_01), RULES)
    assert refused == [Refusal("above_limit", "principal",
                               "the principal is above 3 times her savings and shares plus "
                               "guarantees ({amount})", 12_000_00)]


def test_a_guarantee_adds_to_her_cover() -> None:
    # 15,000.00 asked: 12,000.00 from her own cover, 3,000.00 held by a guarantor
    facts = replace(ASHA, principal_minor=15_000_00, guaranteed_minor=3_000_00)
    assert check_eligibility(facts, RULES) == []
    assert check_eligibility(replace(facts, guaranteed_minor=2_999_99), RULES)[0].kind == \
        "above_limit"


def test_a_new_member_waits_ninety_days() -> None:
    refused = check_eligibility(replace(ASHA, membership_days=89), RULES)
    assert refused == [Refusal("not_eligible", "member_code",
                               "members may borrow after 90 days of membership; M-7Q4K2 "
                               "joined 89 days ago")]
    assert check_eligibility(replace(ASHA, membership_days=90), RULES) == []


def test_one_open_loan_at_a_time() -> None:
    refused = check_eligibility(replace(ASHA, open_loans=1), RULES)
    assert [(r.kind, r.detail) for r in refused] == [
        ("not_eligible", "M-7Q4K2 has 1 open loan(s); the society allows 1")]
    assert check_eligibility(replace(ASHA, open_loans=1),
                             replace(RULES, max_open_loans=2)) == []


def test_the_products_maximum_and_the_societys() -> None:
    rich = replace(ASHA, cover_minor=100_000_00)
    assert [(r.detail, r.amount_minor) for r in check_eligibility(
        replace(rich, principal_minor=20_000_01), RULES)] == [
        ("the principal is above the product's maximum, {amount}", 20_000_00)]
    no_product_limit = replace(rich, product_max_minor=None, principal_minor=50_000_01)
    assert [(r.detail, r.amount_minor) for r in check_eligibility(no_product_limit, RULES)] \
        == [("the principal is above the society's maximum, {amount}", 50_000_00)]
    assert check_eligibility(no_product_limit, replace(RULES, max_principal_minor=None)) == []


def test_every_broken_rule_is_listed_in_the_order_the_clerk_is_told() -> None:
    # A member of ten days with a loan open, asking for 60,000.00 on 1,000.00 of savings
    facts = EligibilityFacts(member_code="M-2B9XZ", membership_days=10, open_loans=1,
                             cover_minor=1_000_00, guaranteed_minor=0,
                             principal_minor=60_000_00, product_max_minor=20_000_00)
    refused = check_eligibility(facts, RULES)
    assert [(r.kind, r.amount_minor) for r in refused] == [
        ("not_eligible", None),  # ten days a member
        ("above_limit", 20_000_00),  # the product's maximum
        ("above_limit", 50_000_00),  # the society's maximum
        ("not_eligible", None),  # a loan open already
        ("above_limit", 3_000_00),  # three times 1,000.00
    ]


def test_a_fractional_multiple_rounds_her_cover_down_to_the_paisa() -> None:
    # 2.5 x 333.33 = 833.325: the cover is 833.32 (a paisa short of 833.33 is refused)
    rules = replace(RULES, cover_multiple=Decimal("2.5"))
    facts = replace(ASHA, cover_minor=333_33, principal_minor=833_32)
    assert check_eligibility(facts, rules) == []
    refused = check_eligibility(replace(facts, principal_minor=833_33), rules)
    assert refused[0].amount_minor == 833_32
    assert "2.5 times" in refused[0].detail


def test_the_rules_come_from_the_societys_settings() -> None:
    settings = SocietySettings(loan_min_membership_days=30, loan_max_open_loans=2,
                               loan_max_principal="25000.00",
                               max_loan_multiple_of_savings="4")
    assert EligibilityRules.of(settings, currency="INR") == EligibilityRules(
        min_membership_days=30, max_open_loans=2, max_principal_minor=25_000_00,
        cover_multiple=Decimal(4))
