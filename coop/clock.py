"""The business date and the time: injectable, so domain code never calls date.today() itself.

The business date is the society's local date (its time zone, default Asia/Kolkata) unless it is
pinned with COOP_BUSINESS_DATE (for a demo, a drill or a back-office catch-up day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def today(self) -> date:
        """The business date."""
        ...

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The wall clock, with the business date taken in the society's time zone."""

    timezone: str = "Asia/Kolkata"
    pinned_date: date | None = None

    def today(self) -> date:
        if self.pinned_date is not None:
            return self.pinned_date
        return datetime.now(ZoneInfo(self.timezone)).date()

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and batch runs: the date moves only when told to."""

    business_date: date
    instant: datetime | None = None

    def today(self) -> date:
        return self.business_date

    def now(self) -> datetime:
        if self.instant is not None:
            return self.instant
        return datetime(
            self.business_date.year, self.business_date.month, self.business_date.day,
            tzinfo=UTC,
        )
