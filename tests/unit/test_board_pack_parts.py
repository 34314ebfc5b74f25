"""The board pack's parts that need no database: the month asked for (and every way it can be
wrong), the twelve months of the PAR30 chart, and the chart's geometry, which the PDF and the
counter page draw alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from coop.errors import InvalidInput
from coop.passbooks.board_figures import Month, months_ending, parse_month
from coop.passbooks.charts import bar_chart, scale_for

TODAY = date(2025, 6, 17)


def test_a_month_is_its_first_and_last_day() -> None:
    assert parse_month("2024-02", today=TODAY) == Month("2024-02", date(2024, 2, 1),
                                                        date(2024, 2, 29), date(2024, 2, 29))
    assert parse_month(" 2024-12 ", today=TODAY).last == date(2024, 12, 31)


def test_the_month_not_over_is_read_to_the_business_date() -> None:
    june = parse_month("2025-06", today=TODAY)
    assert (june.last, june.through, june.to_date) == (date(2025, 6, 30), TODAY, True)
    assert not parse_month("2025-05", today=TODAY).to_date


@pytest.mark.parametrize("text", ["", "2025", "2025-6", "2025-13", "2025-00", "06-2025",
                                  "2025-07", "2026-01", "1899-12", "２０２５-０５", "2025-05-01",
                                  None])
def test_a_month_that_is_not_a_month_or_is_to_come_is_refused(text: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_month(text, today=TODAY)
    assert refused.value.field == "month"


def test_twelve_months_end_with_the_one_asked_for() -> None:
    months = months_ending(parse_month("2025-03", today=TODAY), 12, today=TODAY)
    assert [m.name for m in months] == [
        "2024-04", "2024-05", "2024-06", "2024-07", "2024-08", "2024-09", "2024-10",
        "2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    assert [m.through for m in months][:2] == [date(2024, 4, 30), date(2024, 5, 31)]


@pytest.mark.parametrize(("largest", "scale"), [
    ("0", (5, 1)), ("5", (5, 1)), ("5.01", (10, 2)), ("18", (20, 5)), ("24.9", (25, 5)),
    ("40", (50, 10)), ("57.88", (100, 20)), ("100", (100, 20))])
def test_the_scale_is_the_smallest_that_holds_the_tallest_bar(largest: str,
                                                              scale: tuple[int, int]) -> None:
    assert scale_for(Decimal(largest)) == (Decimal(scale[0]), Decimal(scale[1]))


def test_bars_are_as_tall_as_their_share_of_the_scale() -> None:
    # labels 9 points tall: 146 points, less 2 x 9 + 12 = 30 below the plot (month and year)
    # and 9 + 7 = 16 above it, leave 100; 342 less 4 x 9 = 36 on the left (the scale) and 6
    # on the right leave 300
    chart = bar_chart([("2024-12", Decimal("0")), ("2025-01", Decimal("10")),
                       ("2025-02", Decimal("20"))], width=342, height=146, text=9)
    assert chart.plot_height == 100 and chart.top == Decimal(20)
    assert [b.height for b in chart.bars] == [0, 50, 100]
    assert [t.text for t in chart.ticks] == ["0", "5", "10", "15", "20"]
    assert [t.y for t in chart.ticks] == [30, 55, 80, 105, 130]
    # the bars share the plot's width equally, each 70 % of its slot
    assert chart.plot_width == 300 and [b.x for b in chart.bars] == [51, 151, 251]
    assert [b.width for b in chart.bars] == [70, 70, 70]
    # the year is written under the first bar and each January
    assert [(b.month, b.year) for b in chart.bars] == [("12", "2024"), ("01", "2025"),
                                                       ("02", "")]
    assert [b.text for b in chart.bars] == ["0.0", "10.0", "20.0"]
    full = bar_chart([("2025-01", Decimal("100")), ("2025-02", Decimal("57.88"))], width=342,
                     height=146)
    assert [b.text for b in full.bars] == ["100", "57.9"] and full.value_text == 7.6
    assert chart.svg_y(130) == 16


def test_a_percent_above_100_is_not_charted() -> None:
    with pytest.raises(Exception, match="percent"):
        bar_chart([("2025-01", Decimal("100.01"))], width=300, height=150)
