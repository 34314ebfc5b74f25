"""Passbook pages in English, Kannada, Bengali and Hindi look right: each is rendered to a PNG
with pdftoppm and compared with a checked-in reference image (checked by eye when it was
made). Shaped Indic text cannot be read back from a PDF, so pixels are the test; the same page
with shaping switched off must differ from the reference, which proves the comparison can
fail. The English page embeds Noto Sans: the same page in the PDF's own Helvetica, which is
not embedded and which a viewer replaces with a font of other widths ("C o-operative"), must
differ from it too.

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
from coop.passbooks import passbook, typeset
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


def matches(image: Image.Image, name: str) -> None:
    """`image` is the reference `name` (written anew with COOP_UPDATE_IMAGES=1)."""
    reference = REFERENCES / name
    if os.environ.get("COOP_UPDATE_IMAGES"):
        REFERENCES.mkdir(exist_ok=True)
        image.save(reference, optimize=True)
    mean, different = _difference(image, Image.open(reference).convert("L"))
    print(f"{name}: mean difference {mean:.3f}, pixels different {different:.4%}")
    assert mean <= MEAN_DIFFERENCE_MAX
    assert different <= DIFFERENT_PIXELS_MAX


def restyle(monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    """Every paragraph style of the documents changed so (e.g. `shaping=0`: unshaped)."""
    original = Typesetter.style

    def changed(self: Typesetter, *args: object, **kwargs: object) -> object:
        style = original(self, *args, **kwargs)  # type: ignore[arg-type]
        for name, value in changes.items():
            setattr(style, name, value)
        return style

    monkeypatch.setattr(Typesetter, "style", changed)


def differs(image: Image.Image, name: str, what: str) -> None:
    """`image` (the page made wrong on purpose) fails the comparison with `name`."""
    mean, different = _difference(image, Image.open(REFERENCES / name).convert("L"))
    print(f"{name}, {what}: mean difference {mean:.3f}, pixels different {different:.4%}")
    assert different > DIFFERENT_PIXELS_MAX


def _difference(one: Image.Image, other: Image.Image) -> tuple[float, float]:
    assert one.size == other.size
    delta = ImageChops.difference(one, other)
    mean = ImageStat.Stat(delta).mean[0]
    histogram = delta.histogram()
    different = sum(histogram[64:]) / (one.size[0] * one.size[1])
    return mean, different


def test_an_english_page_embeds_its_font_and_matches_its_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matches(_page_png("en", tmp_path), "passbook-en.png")

    # the same page in Helvetica, not embedded, must fail the same comparison
    monkeypatch.setattr(typeset, "latin_fonts",
                        lambda: {False: "Helvetica", True: "Helvetica-Bold"})
    elsewhere = tmp_path / "helvetica"
    elsewhere.mkdir()
    differs(_page_png("en", elsewhere), "passbook-en.png", "in Helvetica")


@pytest.mark.parametrize("language", ["kn", "bn", "hi"])
def test_an_indic_page_matches_its_reference(language: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    matches(_page_png(language, tmp_path), f"passbook-{language}.png")

    # the same page with its conjuncts left unshaped must fail the same comparison
    restyle(monkeypatch, shaping=0)
    elsewhere = tmp_path / "unshaped"
    elsewhere.mkdir()
    differs(_page_png(language, elsewhere), f"passbook-{language}.png", "unshaped")
