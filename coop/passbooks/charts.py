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


@dataclass(frozen=True, slots=True)
class Bar:
    month: str  # MM
    year: str  # YYYY under the first bar and each January, else ""
    value: Decimal
    x: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def text(self) -> str:
        """The value over the bar, one decimal ("57.9"); a full bar says "100"."""
        return "100" if self.value == 100 else f"{self.value:.1f}"


@dataclass(frozen=True, slots=True)
class Tick:
    value: Decimal
    y: float

    @property
    def text(self) -> str:
        return f"{self.value:g}"


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
        picture.add(Rect(bar.x, chart.bottom, bar.width, bar.height, fillColor=colors.black,
                         strokeColor=None))
        picture.add(String(bar.centre, chart.bottom + bar.height + 3, bar.text, fontName=font,
                           fontSize=chart.value_text, textAnchor="middle"))
        picture.add(String(bar.centre, chart.bottom - size - 2, bar.month, fontName=font,
                           fontSize=size, textAnchor="middle"))
        if bar.year:
            picture.add(String(bar.centre, chart.bottom - 2 * size - 4, bar.year,
                               fontName=font, fontSize=size, textAnchor="middle"))
    picture.add(Line(chart.left, chart.bottom, right, chart.bottom, strokeColor=colors.black,
                     strokeWidth=1))
    return picture


__all__ = ["Bar", "BarChart", "Tick", "bar_chart", "drawing", "scale_for"]
