"""Type for the printed documents: fonts per language, shaped Indic text, large sizes.

Every document embeds its fonts: Latin text (English, Spanish, Swahili, and the digits and
member numbers of every language) is set in Noto Sans, and Kannada, Bengali and Hindi in the
Noto font of their script, from the system (Debian `fonts-noto-core`, or the directory in
COOP_FONT_DIR). A PDF's standard Helvetica is never used: it is not embedded, and a viewer
without it substitutes a font whose widths do not match ("C o-operative", "S ociety" on a
Debian viewer). If a font is missing the document is refused with an error naming the file,
never printed with boxes.

Four traps (reference/ecosystem.md §1), each handled here:
- conjuncts are only shaped (HarfBuzz, via uharfbuzz) in a platypus Paragraph whose style has
  `shaping=1` and whose base font is a TrueType font; canvas.drawString does not shape. So Indic
  text on a canvas is drawn through a Paragraph, once per distinct text, as a reusable form;
- the Noto Indic fonts have no Latin letters, so mixed text is split into per-script runs;
- a PDF text extractor cannot read shaped conjuncts back; tests compare rendered images;
- ReportLab breaks a word too wide for its column between any two letters, after shaping:
  the pieces are shaped apart, so a cluster cut in two prints a box ("ಕ್ರ.ಸಂ." in a narrow
  table heading came out as "ಕ□." over "ಸಂ."). Words are never split here
  (`splitLongWords=0`); a cell's type is made smaller until its longest word fits
  (`Typesetter.cell_size`), and a single line shrinks before it is ever cut (`fitted`).
"""

from __future__ import annotations

import math
import os
import re
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from coop.errors import CoopError
from coop.i18n import Translator, check_language

FONT_DIR_DEFAULT = "/usr/share/fonts/truetype/noto"

SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0900, 0x097F, "Devanagari"),
)
"""Unicode blocks of the complex scripts we print, and the Noto family for each."""

SCRIPT_OF_LANGUAGE = {"kn": "Kannada", "bn": "Bengali", "hi": "Devanagari"}
JOINERS = "\u200c\u200d"  # ZWNJ and ZWJ belong to the run they sit in
DANDAS = "\u0964\u0965"  # the full stops of Bengali and Hindi (in the Devanagari block)


_WORDS = re.compile(r" +|[^ ]+")


@lru_cache(maxsize=16)
def _cmap(font: str) -> frozenset[int]:
    return frozenset(pdfmetrics.getFont(font).face.charToGlyph)


def _covers(font: str, text: str) -> bool:
    covered = _cmap(font)
    return all(ord(char) in covered for char in text)


class FontsMissing(CoopError):
    code = "fonts_missing"
    kind = "unavailable"
    title = "Fonts for this language are not installed"


def font_dir() -> Path:
    return Path(os.environ.get("COOP_FONT_DIR") or FONT_DIR_DEFAULT)


def font_files(language: str) -> tuple[str, ...]:
    """The font files a document in `language` embeds (`coop doctor` looks for them)."""
    script = SCRIPT_OF_LANGUAGE.get(language)
    families = ("Sans", f"Sans{script}") if script else ("Sans",)
    return tuple(f"Noto{family}-{weight}.ttf" for family in families
                 for weight in ("Regular", "Bold"))


@lru_cache(maxsize=32)
def _register(directory: Path, family: str, weight: str) -> str:
    """Register Noto `family` (e.g. "Sans", "SansKannada") in `weight`; its ReportLab name."""
    filename = f"Noto{family}-{weight}.ttf"
    path = directory / filename
    if not path.is_file():
        raise FontsMissing.said(
            "the font {filename} is not in {directory}: install Debian's fonts-noto-core or set "
            "COOP_FONT_DIR to a directory that has it",
            filename=filename, directory=directory)
    name = f"coop-Noto{family}-{weight}"
    pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


def latin_fonts() -> dict[bool, str]:
    """The embedded Latin fonts (Noto Sans), registered: {bold: ReportLab's name}."""
    directory = font_dir()
    return {bold: _register(directory, "Sans", "Bold" if bold else "Regular")
            for bold in (False, True)}


def script_of(char: str) -> str | None:
    code = ord(char)
    if char in DANDAS:
        return None
    for low, high, script in SCRIPTS:
        if low <= code <= high:
            return script
    return None


def is_complex(text: str) -> bool:
    return any(script_of(char) is not None or char in DANDAS for char in text)


class Typesetter:
    """Fonts and text drawing for one document in one language."""

    def __init__(self, language: str) -> None:
        self.language = check_language(language)
        self.tr = Translator(language)
        script = SCRIPT_OF_LANGUAGE.get(language)
        self.shaped = script is not None
        directory = font_dir()
        self.latin = latin_fonts()
        self.script_fonts: dict[tuple[str, bool], str] = {} if script is None else {
            (script, bold): _register(directory, f"Sans{script}", "Bold" if bold else "Regular")
            for bold in (False, True)}
        self._forms: dict[tuple[str, float, bool], tuple[str, float, float]] = {}
        self._widths: dict[tuple[str, float, bool], float] = {}
        self._fitted: dict[tuple[str, float, bool, float], str] = {}

    # -- runs and paragraphs ------------------------------------------------------------------

    def markup(self, text: str, *, bold: bool = False) -> str:
        """Paragraph markup with each word in the font of its script.

        Fonts change only between words: ReportLab shapes a word as one piece, and a word
        made of two fonts comes out as boxes ("A" + "ಖಾತೆ"), so "ಖಾತೆ:" is set wholly in the
        Kannada font, which has the colon. Spaces join the run before them."""
        runs: list[tuple[str, list[str]]] = []
        for word in _WORDS.findall(text):
            font = runs[-1][0] if word.isspace() and runs else self._word_font(word, bold)
            if font is None:  # a word mixing scripts ("INR-এ"): split it with a hair space
                pieces: list[tuple[str, list[str]]] = []
                for char in word:
                    self._append(pieces, self._char_font(char, bold, pieces), char)
                for index, (piece_font, chars) in enumerate(pieces):
                    gap = "\u200a" if index < len(pieces) - 1 else ""
                    self._append(runs, piece_font, "".join(chars) + gap)
                continue
            self._append(runs, font, word)
        return "".join(f'<font name="{font}">{escape("".join(chars))}</font>'
                       for font, chars in runs)

    @staticmethod
    def _append(runs: list[tuple[str, list[str]]], font: str, text: str) -> None:
        if runs and runs[-1][0] == font:
            runs[-1][1].append(text)
        else:
            runs.append((font, [text]))

    def _word_font(self, word: str, bold: bool) -> str | None:
        scripts = {script_of(char) for char in word} - {None}
        if not scripts:
            return self._own(bold) if any(c in DANDAS for c in word) else self.latin[bold]
        if len(scripts) > 1:
            return None
        script = str(scripts.pop())
        font = self.script_fonts.get((script, bold)) or self._foreign(script, bold)
        return font if _covers(font, word) else None

    def _char_font(self, char: str, bold: bool, runs: list[tuple[str, list[str]]]) -> str:
        script = script_of(char)
        if script is not None:
            return self.script_fonts.get((script, bold)) or self._foreign(script, bold)
        if runs and _covers(runs[-1][0], char):
            return runs[-1][0]  # joiners, digits and stops stay with the run they follow
        return self.latin[bold]

    def _own(self, bold: bool) -> str:
        script = SCRIPT_OF_LANGUAGE.get(self.language, "Devanagari")
        return self.script_fonts.get((script, bold)) or self._foreign(script, bold)

    def _foreign(self, script: str, bold: bool) -> str:
        """A script other than the document's own (e.g. a Hindi narration in Kannada)."""
        name = _register(font_dir(), f"Sans{script}", "Bold" if bold else "Regular")
        self.script_fonts[(script, bold)] = name
        return name

    def style(self, size: float, *, bold: bool = False, align: str = "left",
              leading: float | None = None) -> ParagraphStyle:
        alignment = {"left": TA_LEFT, "right": TA_RIGHT, "centre": TA_CENTER}[align]
        return ParagraphStyle(
            f"coop-{size}-{bold}-{align}", fontName=self.latin[bold], fontSize=size,
            leading=leading or round(size * 1.3, 1), alignment=alignment,
            shaping=1 if self.shaped else 0, splitLongWords=0)

    def paragraph(self, text: str, size: float, *, bold: bool = False, align: str = "left",
                  leading: float | None = None) -> Paragraph:
        return Paragraph(self.markup(text, bold=bold),
                         self.style(size, bold=bold, align=align, leading=leading))

    def cell_size(self, text: str, size: float, width: float, *, bold: bool = False,
                  smallest: float | None = None) -> float:
        """The type size, at most `size`, at which the longest word of `text` fits in
        `width` (a table cell wraps between words, never inside one); not below `smallest`
        (three quarters of `size` unless given)."""
        floor = smallest if smallest is not None else size * 0.75
        widest = max((self.width(word, size, bold=bold) for word in text.split()), default=0.0)
        if widest <= width:
            return size
        return max(floor, math.floor(size * width / widest * 2) / 2)

    # -- single lines on a canvas -------------------------------------------------------------

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        if not is_complex(text):
            return float(stringWidth(text, self.latin[bold], size))
        key = (text, size, bold)
        known = self._widths.get(key)
        if known is None:  # shaping is the slow part: once per text and size
            paragraph = self.paragraph(text, size, bold=bold)
            paragraph.wrap(10_000, 1_000)
            known = self._widths[key] = float(max(paragraph.getActualLineWidths0() or [0.0]))
        return known

    def fitted(self, text: str, size: float, width: float, *, bold: bool = False,
               smallest: float | None = None) -> tuple[str, float]:
        """One line in `width`: at `size` if it fits, else in smaller type (down to
        `smallest`, 80 % of `size` unless given), and cut at a word only if even that is too
        wide. Returns the text and its size."""
        floor = smallest if smallest is not None else size * 0.8
        wide = self.width(text, size, bold=bold)
        if wide <= width:
            return text, size
        smaller = max(floor, math.floor(size * width / wide * 2) / 2)
        while smaller > floor and self.width(text, smaller, bold=bold) > width:
            smaller -= 0.5
        return self.fit(text, smaller, width, bold=bold), smaller

    def wrapped(self, text: str, size: float, width: float, *, lines: int = 2,
                smallest: float = 7) -> tuple[list[str], float]:
        """`text` broken between words into at most `lines` lines of `width`, at the largest
        size from `size` down to `smallest` (in half points) at which it fits; at `smallest`
        the last line is cut with an ellipsis if it must be."""
        trial = size
        while True:
            packed = self._pack(text, trial, width)
            if len(packed) <= lines or trial <= smallest:
                break
            trial = max(smallest, trial - 0.5)
        if len(packed) > lines:
            packed = [*packed[:lines - 1], self.fit(" ".join(packed[lines - 1:]), trial, width)]
        return packed, trial

    def _pack(self, text: str, size: float, width: float) -> list[str]:
        """Words into lines no wider than `width` (a word wider than that on its own)."""
        packed: list[str] = []
        for word in text.split():
            joined = f"{packed[-1]} {word}" if packed else word
            if packed and self.width(joined, size) <= width:
                packed[-1] = joined
            else:
                packed.append(word)
        return packed

    def fit(self, text: str, size: float, width: float, *, bold: bool = False) -> str:
        """The text, cut at a word (or a letter) with an ellipsis if it is wider than `width`."""
        key = (text, size, bold, width)
        if key not in self._fitted:
            self._fitted[key] = self._fit(text, size, width, bold=bold)
        return self._fitted[key]

    def _fit(self, text: str, size: float, width: float, *, bold: bool) -> str:
        if self.width(text, size, bold=bold) <= width:
            return text
        # after shaped text the ellipsis is a word of its own (the Indic fonts have none)
        mark = " …" if is_complex(text) else "…"
        words = text.split(" ")
        while len(words) > 1:
            words.pop()
            shorter = " ".join(words).rstrip(",;:") + mark
            if self.width(shorter, size, bold=bold) <= width:
                return shorter
        while text and self.width(text + mark, size, bold=bold) > width:
            text = text[:-1]
        return text + mark

    def draw(self, canvas: Canvas, text: str, x: float, y: float, size: float, *,
             bold: bool = False, align: str = "left") -> None:
        """One line of text with its baseline at y, aligned left, right or centred on x."""
        if not text:
            return
        if not is_complex(text):
            font = self.latin[bold]
            canvas.setFont(font, size)
            if align == "left":
                canvas.drawString(x, y, text)
            elif align == "right":
                canvas.drawRightString(x, y, text)
            else:
                canvas.drawCentredString(x, y, text)
            return
        name, width, descent = self._form(canvas, text, size, bold)
        left = {"left": x, "right": x - width, "centre": x - width / 2}[align]
        canvas.saveState()
        canvas.translate(left, y - descent)
        canvas.doForm(name)
        canvas.restoreState()

    def _form(self, canvas: Canvas, text: str, size: float,
              bold: bool) -> tuple[str, float, float]:
        """Shape a text once per document into a form XObject; (name, width, descent)."""
        key = (text, size, bold)
        found = self._forms.get(key)
        if found is not None:
            return found
        paragraph = self.paragraph(text, size, bold=bold)
        _, height = paragraph.wrap(10_000, 1_000)
        width = float(max(paragraph.getActualLineWidths0() or [0.0]))
        descent = float(height) - size  # the paragraph's box starts below the baseline
        name = f"t{len(self._forms)}-{int(bold)}"
        canvas.beginForm(name, lowerx=0, lowery=0, upperx=width + 2, uppery=float(height) + 2)
        paragraph.drawOn(canvas, 0, 0)
        canvas.endForm()
        self._forms[key] = (name, width, descent)
        return self._forms[key]


__all__ = ["FONT_DIR_DEFAULT", "FontsMissing", "Typesetter", "font_dir", "is_complex",
           "latin_fonts", "script_of"]
