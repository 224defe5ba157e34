"""Jinja filters: dates in America/Santiago, numbers in es-CL, RUTs with dots, counts with
the noun in singular or plural."""

import functools

from flask_babel import format_date, format_datetime, format_decimal, get_locale

from sv_platform.core.rut import format_rut
from sv_platform.core.timeutil import as_utc


def datetime_cl(value, fmt: str = "d 'de' MMMM 'de' y, HH:mm") -> str:
    if value is None:
        return ""
    return format_datetime(as_utc(value), fmt)


def date_cl(value, fmt: str = "d 'de' MMMM 'de' y") -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        return format_datetime(as_utc(value), fmt)
    return _format_day(value, fmt, str(get_locale()))


@functools.lru_cache(maxsize=2048)
def _format_day(value, fmt: str, _locale: str) -> str:
    """A calendar date in words depends only on the date, the pattern and the locale."""
    return format_date(value, fmt)


def number_cl(value) -> str:
    return format_decimal(value or 0)


def plural(count, one: str, many: str) -> str:
    """`1 cupo`, `3 cupos`, `1.250 cupos`: the count in es-CL and the noun that agrees."""
    return f"{number_cl(count)} {one if count == 1 else many}"


def init_app(app) -> None:
    app.add_template_filter(datetime_cl, "datetime_cl")
    app.add_template_filter(date_cl, "date_cl")
    app.add_template_filter(number_cl, "number_cl")
    app.add_template_filter(format_rut, "rut_cl")
    app.add_template_filter(plural, "plural")
