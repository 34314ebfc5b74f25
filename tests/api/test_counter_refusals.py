"""Issue 17: every refusal at the counter in the counter's language, its amounts as people
write them (currency symbol, lakh grouping), and the cursor back on the refused field."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

from coop.api.counter.web import Page
from coop.errors import CoopError, InvalidInput
from coop.i18n import Translator
from coop.ledger.model import InsufficientFunds
from coop.money import Amount
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE
from tests.api.test_counter_pages import C, Counter, balance, counter, fields  # noqa: F401

KANNADA_AVAILABLE = Translator("kn")("the available balance is {amount}")


def speak(api: Api, language: str) -> None:
    response = api.client.patch(f"{BASE}/society", json={"settings": {"language": language}},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text


def autofocused(html: str) -> list[str]:
    return re.findall(r'<(?:input|select|button)[^>]*\bid="([^"]+)"[^>]*\bautofocus', html)


def test_the_kannada_words_exist() -> None:
    assert KANNADA_AVAILABLE != "the available balance is {amount}"
    assert "{amount}" in KANNADA_AVAILABLE


def test_a_refused_withdrawal_in_kannada_with_grouped_money_and_the_cursor_on_it(
        api: Api, counter: Counter) -> None:  # noqa: F811
    speak(api, "kn")
    client = counter()
    code = api.member_codes["member"]
    page = client.get(f"{C}/members/{code}")
    deposit = client.post(f"{C}/members/{code}/deposit",
                          data={**fields(page.text, "deposit-form"), "amount": "11,814.52"},
                          follow_redirects=True)
    assert deposit.status_code == 200, deposit.text
    page = client.get(f"{C}/members/{code}")
    assert autofocused(page.text) == ["deposit-amount"]  # no refusal: the deposit box
    refused = client.post(f"{C}/members/{code}/withdrawal",
                          data={**fields(page.text, "withdrawal-form"), "amount": "20,000"})
    assert refused.status_code == 422, refused.text
    words = KANNADA_AVAILABLE.format(amount="₹11,814.52")
    said = re.search(r'id="withdrawal-error"[^>]*>([^<]*)<', refused.text)
    assert said and said.group(1) == words, (said and said.group(1), words)
    print(f"refusal in Kannada: {words}")
    # the cursor is back in the withdrawal box, never in the deposit box
    assert autofocused(refused.text) == ["withdrawal-amount"], autofocused(refused.text)
    assert 'aria-describedby="withdrawal-error"' in refused.text
    assert balance(refused.text) == "₹11,814.52"


def test_an_ambiguous_amount_is_refused_in_words_next_to_its_box(
        api: Api, counter: Counter) -> None:  # noqa: F811
    speak(api, "kn")
    client = counter()
    code = api.member_codes["member"]
    page = client.get(f"{C}/members/{code}")
    refused = client.post(f"{C}/members/{code}/deposit",
                          data={**fields(page.text, "deposit-form"), "amount": "1,5"})
    assert refused.status_code == 422, refused.text
    said = re.search(r'id="deposit-error"[^>]*>([^<]*)<', refused.text)
    assert said and re.search("[\u0c80-\u0cff]", said.group(1)), refused.text
    assert "1,00,000.50" in said.group(1)  # the example, grouped as people write it
    assert autofocused(refused.text) == ["deposit-amount"]
    assert balance(refused.text) == "₹0.00"


@pytest.mark.parametrize("language", ["kn", "hi", "bn", "es", "sw"])
def test_explain_translates_the_template_and_shows_each_figure_for_people(
        language: str) -> None:
    society = SimpleNamespace(locale="en_IN", settings=SimpleNamespace(language=language))
    view = Page(None, society, None)  # type: ignore[arg-type]
    error = InsufficientFunds.said(
        "the safe holds {safe}", safe=Amount(12345678950, "INR"), field="opening_float")
    words = view.explain(error)
    assert words == Translator(language)("the safe holds {safe}").format(
        safe="₹12,34,56,789.50")
    assert words != "the safe holds ₹12,34,56,789.50"  # translated, not the English
    late = InvalidInput.said("value_date is before the loan's last movement on "
                             "{last_event_on}", last_event_on=date(2026, 12, 5))
    assert "2026" in view.explain(late) and "2026-12-05" not in view.explain(late)
    plain = InvalidInput("a hold is more than zero", field="amount")
    assert view.explain(plain) == Translator(language)("a hold is more than zero")
    assert view.explain(plain) != plain.detail
    view.errors = {"amount": plain}
    assert view.errors["amount"] == view.explain(plain)
    assert dict(view.errors.items()) == {"amount": view.explain(plain)}


def test_the_api_keeps_its_english_detail() -> None:
    error = InsufficientFunds.said("the available balance is {amount}",
                                   amount=Amount(1181452, "INR"), field="amount")
    assert error.detail == "the available balance is 11814.52"
    assert error.msgid == "the available balance is {amount}"
    plain = InvalidInput("a hold is more than zero", field="amount")
    assert plain.msgid == plain.detail and plain.template is None
    assert isinstance(error, CoopError) and error.field == "amount"


def test_it_printed_right_only_after_a_print_was_produced(
        api: Api, counter: Counter) -> None:  # noqa: F811
    client = counter()
    code = api.member_codes["member"]
    page = client.get(f"{C}/members/{code}")
    client.post(f"{C}/members/{code}/deposit",
                data={**fields(page.text, "deposit-form"), "amount": "250"})
    page = client.get(f"{C}/members/{code}")
    assert 'id="print-passbook"' in page.text and 'id="confirm-printed"' not in page.text
    serial = re.search(r'id="passbook-state">\S+ (\S+):', page.text)
    assert serial, page.text
    csrf = fields(page.text, "deposit-form")["csrf"]
    # a confirmation sent anyway (an old page, a hand-made post) is refused in words
    refused = client.post(f"{C}/members/{code}/passbook/printed",
                          data={"csrf": csrf, "book": serial.group(1), "through": "1"})
    assert refused.status_code == 409, refused.text
    assert "Print the new lines first" in refused.text
    assert client.get(f"{C}/members/{code}/passbook.pdf").status_code == 200
    page = client.get(f"{C}/members/{code}")
    assert 'id="confirm-printed"' in page.text and 'id="printed-check"' not in page.text
    form = page.text.split('action="/counter/members/' + code + '/passbook/printed"')[1]
    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                           form.split("</form>")[0]))
    assert sent["book"] == serial.group(1)
    done = client.post(f"{C}/members/{code}/passbook/printed", data=sent)
    assert done.status_code == 200 and "Passbook printed" in done.text, done.text
