"""Calendar arithmetic for date_interpretation: units (year, FY, quarter, month, week, day) as
integer indexes, so "last 3 quarters" is three indexes before the current one.

Fiscal years are named by the calendar year in which they end: with a fiscal-year start month of
4 (April), FY2024 is 2023-04-01..2024-03-31; with the default 1 it is the calendar year 2024.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

UNIT_PERIOD = {
    "year": "YEAR",
    "fy": "FY",
    "quarter": "QUARTER",
    "month": "MONTH",
    "week": "WEEK",
    "day": "DAY",
}


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def fy_bounds(fy: int, start_month: int) -> tuple[date, date]:
    """First and last day of fiscal year `fy` (named by the year it ends in)."""
    first_year = fy if start_month == 1 else fy - 1
    end_year, end_month = shift_month(first_year, start_month, 11)
    return date(first_year, start_month, 1), month_end(end_year, end_month)


def fiscal_quarter_bounds(fy: int, quarter: int, start_month: int) -> tuple[date, date]:
    start, _ = fy_bounds(fy, start_month)
    y, m = shift_month(start.year, start.month, 3 * (quarter - 1))
    ey, em = shift_month(y, m, 2)
    return date(y, m, 1), month_end(ey, em)


def fiscal_half_bounds(fy: int, half: int, start_month: int) -> tuple[date, date]:
    start, _ = fy_bounds(fy, start_month)
    y, m = shift_month(start.year, start.month, 6 * (half - 1))
    ey, em = shift_month(y, m, 5)
    return date(y, m, 1), month_end(ey, em)


def fy_of(day: date, start_month: int) -> int:
    """The fiscal year containing `day`."""
    if start_month == 1:
        return day.year
    return day.year + 1 if day.month >= start_month else day.year


def current_index(unit: str, as_of: date, start_month: int) -> int:
    """Index of the unit containing as_of."""
    if unit == "year":
        return as_of.year
    if unit == "fy":
        return fy_of(as_of, start_month)
    if unit == "quarter":
        return as_of.year * 4 + (as_of.month - 1) // 3
    if unit == "month":
        return as_of.year * 12 + as_of.month - 1
    if unit == "week":
        return (as_of.toordinal() - 1) // 7  # ordinal 1 (0001-01-01) is a Monday
    return as_of.toordinal()


def index_bounds(unit: str, index: int, start_month: int) -> tuple[date, date]:
    """First and last day of the unit with this index."""
    if unit == "year":
        return date(index, 1, 1), date(index, 12, 31)
    if unit == "fy":
        return fy_bounds(index, start_month)
    if unit == "quarter":
        year, q = divmod(index, 4)
        return date(year, 3 * q + 1, 1), month_end(year, 3 * q + 3)
    if unit == "month":
        year, m = divmod(index, 12)
        return date(year, m + 1, 1), month_end(year, m + 1)
    if unit == "week":
        monday = date.fromordinal(index * 7 + 1)
        return monday, monday + timedelta(days=6)
    day = date.fromordinal(index)
    return day, day


def span_bounds(unit: str, first: int, last: int, start_month: int) -> tuple[date, date]:
    """From the first day of unit `first` to the last day of unit `last`."""
    return index_bounds(unit, first, start_month)[0], index_bounds(unit, last, start_month)[1]
