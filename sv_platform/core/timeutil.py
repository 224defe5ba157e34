"""UTC storage, America/Santiago display."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

CHILE = ZoneInfo("America/Santiago")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime; naive values are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def chile_day_start(day: date) -> datetime:
    """00:00 of `day` in Chile, as aware UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=CHILE).astimezone(UTC)


def chile_day_end(day: date) -> datetime:
    """23:59:59 of `day` in Chile, as aware UTC."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=CHILE).astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (portable across SQLite and PostgreSQL), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return as_utc(value)
