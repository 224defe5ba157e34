"""Business-day arithmetic for service levels: Chilean calendar, weekends and holidays off."""

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from sv_platform.core.timeutil import CHILE, as_utc, chile_day_end


@lru_cache(maxsize=32)
def _holidays_for(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CL", years=year).keys())


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a Chilean national holiday."""
    return day.weekday() < 5 and day not in _holidays_for(day.year)


def add_business_days(start: date, days: int) -> date:
    """The `days`-th business day after `start` (`start` itself never counts)."""
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    if days <= 0:
        while not is_business_day(day):
            day += timedelta(days=1)
    return day


def due_at(opened_at: datetime, days: int) -> datetime:
    """End (23:59:59 Chile) of the `days`-th business day after the day a consulta opened."""
    local_day = as_utc(opened_at).astimezone(CHILE).date()
    return chile_day_end(add_business_days(local_day, days))


def business_days_between(start: date, end: date) -> int:
    """Business days in (start, end]; negative when `end` is before `start`."""
    if end < start:
        return -business_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def chile_date(value: datetime) -> date:
    return as_utc(value).astimezone(CHILE).date()
