"""Charts: one bar per month, drawn with ReportLab's own graphics in a PDF and as inline SVG on
a counter page, from the same geometry (`bar_chart`, pure), so the page and the paper agree.

Black bars on white with the value written over each bar and a labelled scale: readable
printed in black and white, and without colour. The scale's top is the smallest of 5, 10, 20,
25, 50 and 100 that holds the largest value (a percent never needs more), with five or so
gridlines. Labels are digits only (months as MM and the year under January and the first
bar), so any font has them and nothing needs shaping.

Geometry is in points with y upwards from the chart's bottom edge (ReportLab's way); the SVG
turns y over with `height - y`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors

from coop.errors import require

SCALES = ((Decimal(5), Decimal(1)), (Decimal(10), Decimal(2)), (Decimal(20), Decimal(5)),
          (Decimal(25), Decimal(5)), (Decimal(50), Decimal(10)), (Decimal(100), Decimal(20)))
"""(top of the scale, step between gridlines), the smallest that holds the largest value."""
RIGHT = 6.0
SERIES_FILLS = ("#000000", "#8c8c8c")
UNITS = (Decimal(1), Decimal(1000), Decimal(1000) ** 2, Decimal(1000) ** 3)
"""Amount charts count in units, thousands, millions or billions: at most three digits a bar."""


@dataclass(frozen=True, slots=True)
class Bar:
    month: str  # MM
    year: str  # YYYY under the first bar and each January, else ""
    value: Decimal
    x: float
    width: float
    height: float
    series: int = 0  # which of a month's bars (income 0, expenditure 1)
    label: str | None = None  # the value as written over the bar, when not a percent

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def fill(self) -> str:
        """Black for the first series, a grey that prints as grey for the second."""
        return SERIES_FILLS[self.series % len(SERIES_FILLS)]

    @property
    def text(self) -> str:
        """The value over the bar, one decimal ("57.9"); a full bar says "100"."""
        if self.label is not None:
            return self.label
        return "100" if self.value == 100 else f"{self.value:.1f}"


@dataclass(frozen=True, slots=True)
class Tick:
    value: Decimal
    y: float

    @property
    def text(self) -> str:
        """Plain digits, never an exponent: 80, 2.5, 0.2."""
        return format(self.value.normalize(), "f") if self.value else "0"


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    text: float  # the labels' size
    left: float
    bottom: float
    plot_width: float
    plot_height: float
    top: Decimal
    ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...]

    @property
    def value_text(self) -> float:
        """The size of the values over the bars: a little smaller, so neighbours never touch."""
        return round(self.text * 0.85, 1)

    def svg_y(self, y: float) -> float:
        """A y of the geometry (upwards) as an SVG y (downwards)."""
        return round(self.height - y, 2)


def scale_for(largest: Decimal) -> tuple[Decimal, Decimal]:
    for top, step in SCALES:
        if largest <= top:
            return top, step
    return SCALES[-1]


def bar_chart(points: Sequence[tuple[str, Decimal]], *, width: float, height: float,
              text: float = 9) -> BarChart:
    """Bars for (YYYY-MM, percent) points, left to right in the order given, with labels
    `text` tall: room for four characters of the scale's numbers on the left, two lines of
    month and year below, and the value over the tallest bar above."""
    require(bool(points), "a chart has at least one bar")
    require(all(Decimal(0) <= value <= 100 for _, value in points),
            "a percent is from 0 to 100")
    top, step = scale_for(max(value for _, value in points))
    left, bottom = 4 * text, 2 * text + 12
    plot_width = width - left - RIGHT
    plot_height = height - bottom - (text + 7)
    slot = plot_width / len(points)
    ticks = []
    value = Decimal(0)
    while value <= top:
        ticks.append(Tick(value, round(bottom + float(value / top) * plot_height, 2)))
        value += step
    bars = []
    for index, (name, amount) in enumerate(points):
        year, month = name.split("-")
        bars.append(Bar(month, year if index == 0 or month == "01" else "", amount,
                        round(left + index * slot + slot * 0.15, 2), round(slot * 0.7, 2),
                        round(float(amount / top) * plot_height, 2)))
    return BarChart(width, height, text, left, bottom, plot_width, plot_height, top,
                    tuple(ticks), tuple(bars))


def nice_scale(largest: Decimal) -> tuple[Decimal, Decimal]:
    """(top, step) for any non-negative value: the smallest of 1, 2, 2.5 and 5 times a power
    of ten that holds it, in four or five steps."""
    power = Decimal(1)
    while True:
        for top, step in ((1, Decimal("0.2")), (2, Decimal("0.5")), (Decimal("2.5"),
                          Decimal("0.5")), (5, 1)):
            if largest <= top * power:
                return top * power, step * power
        power *= 10


def unit_for(largest: Decimal) -> Decimal:
    """The unit an amount chart counts in: the largest of UNITS that leaves a value of at
    least one, so no bar needs more than three digits before the point."""
    chosen = UNITS[0]
    for unit in UNITS:
        if largest >= unit:
            chosen = unit
    return chosen


def short(value: Decimal) -> str:
    """Three significant digits: 123, 12.3, 1.23, 0 for nothing."""
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def amount_chart(points: Sequence[tuple[str, Sequence[Decimal]]], *, width: float,
                 height: float, text: float = 9) -> tuple[BarChart, Decimal]:
    """Bars of amounts (major units, one or more series a month, e.g. income beside
    expenditure) and the unit they are counted in (1, 1000, ...). Negative figures are drawn
    as nothing: these charts show balances and flows that are not below zero."""
    require(bool(points), "a chart has at least one bar")
    values = [[max(v, Decimal(0)) for v in series] for _, series in points]
    unit = unit_for(max((v for series in values for v in series), default=Decimal(0)))
    scaled = [[v / unit for v in series] for series in values]
    top, step = nice_scale(max((v for series in scaled for v in series), default=Decimal(0)))
    left, bottom = 4 * text, 2 * text + 12
    plot_width = width - left - 2 * text  # room for the last bar's figure
    plot_height = height - bottom - (text + 7)
    slot = plot_width / len(points)
    ticks, tick = [], Decimal(0)
    while tick <= top:
        ticks.append(Tick(tick, round(bottom + float(tick / top) * plot_height, 2)))
        tick += step
    bars = []
    for index, ((name, _), series) in enumerate(zip(points, scaled, strict=True)):
        year, month = name.split("-")
        each = slot * 0.8 / max(len(series), 1)
        for number, value in enumerate(series):
            bars.append(Bar(month, year if (index == 0 or month == "01") and number == 0
                            else "", value,
                            round(left + index * slot + slot * 0.1 + number * each, 2),
                            round(each * 0.9, 2), round(float(value / top) * plot_height, 2),
                            series=number, label=short(value)))
    return BarChart(width, height, text, left, bottom, plot_width, plot_height, top,
                    tuple(ticks), tuple(bars)), unit


def drawing(chart: BarChart, *, font: str = "Helvetica") -> Drawing:
    """The chart as a ReportLab Drawing (a flowable: it goes into a story as it is)."""
    picture = Drawing(chart.width, chart.height)
    size = chart.text
    right = chart.left + chart.plot_width
    for tick in chart.ticks:
        picture.add(Line(chart.left, tick.y, right, tick.y, strokeColor=colors.grey,
                         strokeWidth=0.4))
        picture.add(String(chart.left - 4, tick.y - size / 3, tick.text, fontName=font,
                           fontSize=size, textAnchor="end"))
    for bar in chart.bars:
        picture.add(Rect(bar.x, chart.bottom, bar.width, bar.height,
                         fillColor=colors.HexColor(bar.fill), strokeColor=None))
        picture.add(String(bar.centre, chart.bottom + bar.height + 3, bar.text, fontName=font,
                           fontSize=chart.value_text, textAnchor="middle"))
        if bar.series == 0:
            picture.add(String(bar.centre, chart.bottom - size - 2, bar.month, fontName=font,
                               fontSize=size, textAnchor="middle"))
        if bar.year:
            picture.add(String(bar.centre, chart.bottom - 2 * size - 4, bar.year,
                               fontName=font, fontSize=size, textAnchor="middle"))
    picture.add(Line(chart.left, chart.bottom, right, chart.bottom, strokeColor=colors.black,
                     strokeWidth=1))
    return picture


__all__ = ["Bar", "BarChart", "Tick", "amount_chart", "bar_chart", "drawing", "nice_scale",
           "scale_for", "short", "unit_for"]
