"""Kannada, Bengali and Hindi passbook pages look right: each is rendered to a PNG with
pdftoppm and compared with a checked-in reference image (checked by eye when it was made).
Shaped Indic text cannot be read back from a PDF, so pixels are the test; the same page with
shaping switched off must differ from the reference, which proves the comparison can fail.

Set COOP_UPDATE_IMAGES=1 to write new references (then look at them before committing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from coop.i18n import Translator
from coop.passbooks import passbook
from coop.passbooks.layout import Book, Line, place
from coop.passbooks.narrations import particulars
from coop.passbooks.typeset import Typesetter

REFERENCES = Path(__file__).parent / "images"
DPI = 60
MEAN_DIFFERENCE_MAX = 1.5  # out of 255, over the whole page
DIFFERENT_PIXELS_MAX = 0.004  # share of pixels that differ by more than a quarter of black


def _lines(language: str) -> list[Line]:
    tr = Translator(language)
    narrations = [("deposit", "Deposit"), ("withdrawal", "Withdrawal"),
                  ("share_purchase", "2 shares bought from savings"),
                  ("loan_disbursement", "Loan 7 disbursed to savings"),
                  ("loan_repayment", "Loan 7 repayment from savings"),
                  ("savings_interest", "Interest 2025-04-01 to 2025-06-30"),
                  ("dividend_payment", "Dividend and rebate, fiscal year 2024-25"),
                  ("reversal", "Reversal of entry 41: keyed twice")]
    lines, balance = [], 0
    for n in range(12):
        kind, narration = narrations[n % len(narrations)]
        out = 35_000 if kind in ("withdrawal", "share_purchase", "loan_repayment") else 0
        into = 0 if out else 125_050 * (n + 1)
        balance += into - out
        lines.append(Line(n + 1, date(2025, 4, 1) + timedelta(days=7 * n),
                          particulars(tr, kind, narration), out, into, balance))
    return lines


def _page_png(language: str, tmp_path: Path) -> Image.Image:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils (make test does)")
    lines = _lines(language)
    book = Book(1, "M-7Q4K2X-1", 0, per_page=14, pages=20)
    face = passbook.Face("Test Society", "M-7Q4K2X", None, "INR", date(2025, 6, 30),
                         (4321, "0123456789abcdef" * 4))
    pdf = passbook.render([passbook.Run(book, True, place(book, lines, 0, len(lines)))],
                          face, language=language, locale="en_IN", exponent=2)
    source = tmp_path / f"{language}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", "-f", "2", "-l", "2",
                    "-singlefile", str(source), str(tmp_path / language)], check=True)
    return Image.open(tmp_path / f"{language}.png").convert("L")


def _difference(one: Image.Image, other: Image.Image) -> tuple[float, float]:
    assert one.size == other.size
    delta = ImageChops.difference(one, other)
    mean = ImageStat.Stat(delta).mean[0]
    histogram = delta.histogram()
    different = sum(histogram[64:]) / (one.size[0] * one.size[1])
    return mean, different


@pytest.mark.parametrize("language", ["kn", "bn", "hi"])
def test_an_indic_page_matches_its_reference(language: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    image = _page_png(language, tmp_path)
    reference = REFERENCES / f"passbook-{language}.png"
    if os.environ.get("COOP_UPDATE_IMAGES"):
        REFERENCES.mkdir(exist_ok=True)
        image.save(reference, optimize=True)
    mean, different = _difference(image, Image.open(reference).convert("L"))
    print(f"{language}: mean difference {mean:.3f}, pixels different {different:.4%}")
    assert mean <= MEAN_DIFFERENCE_MAX
    assert different <= DIFFERENT_PIXELS_MAX

    # the same page with its conjuncts left unshaped must fail the same comparison
    original = Typesetter.style

    def unshaped(self: Typesetter, *args: object, **kwargs: object) -> object:
        style = original(self, *args, **kwargs)  # type: ignore[arg-type]
        style.shaping = 0
        return style

    monkeypatch.setattr(Typesetter, "style", unshaped)
    elsewhere = tmp_path / "unshaped"
    elsewhere.mkdir()
    broken = _page_png(language, elsewhere)
    mean, different = _difference(broken, Image.open(reference).convert("L"))
    print(f"{language} unshaped: mean difference {mean:.3f}, pixels different {different:.4%}")
    assert different > DIFFERENT_PIXELS_MAX
