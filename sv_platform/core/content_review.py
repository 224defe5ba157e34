"""Is content still true? Review age and wording that presents a past date as current."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

REVIEW_MONTHS = 12  # review_deadline() goes back one year
MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
_MONTH = "|".join(MONTHS) + "|setiembre"
# "1 de enero de 2025", "enero de 2025", "2025-01-01" or just "2025"
_DATE = (
    rf"(?:(?P<day>\d{{1,2}})(?:º|°)? de )?(?:(?P<month>{_MONTH}) (?:de |del )?)?(?P<year>20\d\d)"
    r"(?:-(?P<imonth>\d{2})-(?P<iday>\d{2}))?"
)
_AS_CURRENT = re.compile(
    r"\b(?:en|para|durante) (?:el año |el |este año )?(?P<year>20\d\d)\b", re.I
)
_FROM_DATE = re.compile(rf"\ba partir (?:de|del) (?:año )?{_DATE}\b", re.I)
_FUTURE_START = re.compile(
    r"\b(?:entrará|entraría|comenzará|empezará|comenzaría) (?:a regir|en vigencia|en vigor)"
    r"|\bregirá\b",
    re.I,
)
_ANY_DATE = re.compile(_DATE, re.I)
_PARTICIPLE = re.compile(r"(?:ad|id)[oa]s?$", re.I)


SOURCES_MESSAGE = (
    "las fuentes (fuentes) deben ser una lista de enlaces https a la página específica "
    "(no a la portada del sitio), cada uno como «- nombre: …» y «url: …»."
)


def review_date(value) -> date | None:
    """`revisado` as a date (YAML reads 2026-12-01 as a date; a quoted one is a string)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def read_sources(value) -> tuple[list[dict], bool]:
    """`fuentes` as [{"nombre", "url"}] and whether every item was valid. Absent is [].
    An item is a URL or a mapping with `url` and optional `nombre`; a URL must be https
    and point at a page, not at the bare home page of a site."""
    if value is None:
        return [], True
    if not isinstance(value, list):
        return [], False
    sources = []
    for item in value:
        name, url = None, None
        if isinstance(item, str):
            url = item.strip()
        elif isinstance(item, dict):
            url, name = _clean(item.get("url")), _clean(item.get("nombre"))
        if not url or not is_deep_link(url):
            return [], False
        sources.append({"nombre": name or urlsplit(url).hostname, "url": url})
    return sources, True


def is_deep_link(url: str) -> bool:
    """An https URL with a host and a path or query beyond the site's home page."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or " " in url:
        return False
    return parts.path.strip("/") != "" or bool(parts.query)


def _clean(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@dataclass(frozen=True)
class StaleItem:
    """A piece of content due for review, for the admins' list."""

    kind: str  # "Lección", "Evaluación", "Curso", "Pregunta frecuente"
    title: str
    where: str  # what it belongs to (course title, FAQ area)
    url: str | None
    reviewed_on: date | None
    reasons: list[str] = field(default_factory=list)


def format_date(value: date) -> str:
    return f"{value.day} de {MONTHS[value.month - 1]} de {value.year}"


def review_deadline(today: date) -> date:
    """The oldest review date still current on `today` (12 months back)."""
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return date(today.year - 1, 2, 28)


def age_problem(reviewed_on: date | None, today: date) -> str | None:
    """Rule: content must have been checked within the last 12 months."""
    if reviewed_on is None:
        return "no tiene fecha de revisión (revisado)."
    if reviewed_on < review_deadline(today):
        return (
            f"se revisó el {format_date(reviewed_on)}, hace más de {REVIEW_MONTHS} meses: "
            "comprueba sus cifras y actualiza «revisado»."
        )
    if reviewed_on > today:
        return f"la fecha de revisión ({format_date(reviewed_on)}) está en el futuro."
    return None


def _period_start(match: re.Match) -> date:
    year = int(match.group("year"))
    if match.group("imonth"):
        return date(year, int(match.group("imonth")), int(match.group("iday")))
    name = (match.group("month") or "").lower()
    month = 9 if name == "setiembre" else (MONTHS.index(name) + 1 if name else 1)
    day = int(match.group("day")) if match.group("day") and name else 1
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, month, 1)


def _quote(text: str, start: int, end: int) -> str:
    stop = text.find("\n", end)
    stop = len(text) if stop < 0 else min(stop, end + 30)
    snippet = " ".join(text[start:stop].split())
    return f"«{snippet}…»" if stop < len(text) and text[stop] != "\n" else f"«{snippet}»"


def dated_phrases(text: str, today: date) -> list[tuple[int, str]]:
    """(offset, reason) for wording that treats a past year or date as current or future:
    "en 2025 …" (a past year as the present; "publicada en 2016" is history and passes),
    "a partir de <a date before today>", and
    "entrará en vigencia" (unless a date after today follows in the same sentence)."""
    found = []
    for match in _AS_CURRENT.finditer(text or ""):
        before = text[max(0, match.start() - 20) : match.start()].split()
        if before and _PARTICIPLE.search(before[-1]):
            continue  # "publicada en 2016": history, not the present
        if int(match.group("year")) < today.year:
            found.append(
                (
                    match.start(),
                    f"habla de {match.group('year')} como si fuera el presente: "
                    f"{_quote(text, match.start(), match.end())}",
                )
            )
    for match in _FROM_DATE.finditer(text or ""):
        if _period_start(match) < today:
            found.append(
                (
                    match.start(),
                    "anuncia como futuro algo que ya empezó: "
                    f"{_quote(text, match.start(), match.end())}",
                )
            )
    for match in _FUTURE_START.finditer(text or ""):
        sentence_end = re.search(r"[.;\n]", text[match.end() :])
        stop = match.end() + (sentence_end.start() if sentence_end else len(text))
        dates = [_period_start(d) for d in _ANY_DATE.finditer(text, match.end(), stop)]
        if not any(d > today for d in dates):
            found.append(
                (
                    match.start(),
                    "anuncia una entrada en vigencia: revisa si ya rige y escríbelo en "
                    f"presente: {_quote(text, match.start(), match.end())}",
                )
            )
    return sorted(found)


def review_problems(text: str, reviewed_on: date | None, today: date) -> list[str]:
    """Every reason why a piece of content is due for review on `today` (empty when not)."""
    reasons = [reason for _offset, reason in dated_phrases(text, today)]
    age = age_problem(reviewed_on, today)
    return ([age] if age else []) + reasons
