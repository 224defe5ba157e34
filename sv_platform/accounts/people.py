"""The admin's register of people: search keys, search with filters, a person's file."""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, delete, event, insert, inspect, intersect, or_, select
from sqlalchemy.orm import Session

from sv_platform.accounts import territory
from sv_platform.accounts.models import (
    SEXES,
    AuditEntry,
    Company,
    Notification,
    PersonKey,
    User,
)
from sv_platform.accounts.services import record_audit
from sv_platform.core.domain import InvalidInput, NotAllowed, NotFound
from sv_platform.core.paging import Page, keyset_page
from sv_platform.core.rut import normalize_rut
from sv_platform.core.timeutil import chile_day_end, chile_day_start
from sv_platform.extensions import db, write_transaction

ROLE_LABELS = {
    "entrepreneur": "Emprendedor/a",
    "advisor": "Asesor/a",
    "admin": "Administrador/a",
}
MAX_TERMS = 5
_WORD = re.compile(r"[a-z0-9]+")
_RUTLIKE = re.compile(r"^[0-9.\s]+-?\s*[0-9kK]?$")


# --- search keys ------------------------------------------------------------------------


def fold(text: str | None) -> str:
    """Lower case without accents: "Núñez" → "nunez"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str | None) -> list[str]:
    """The folded words of a name or razón social."""
    return _WORD.findall(fold(text))


def _rut_digits(rut: str | None) -> str | None:
    return rut.split("-", 1)[0] if rut and "-" in rut else None


def keys_for(
    *,
    name: str | None,
    email: str | None,
    rut: str | None,
    company_rut: str | None = None,
    company_name: str | None = None,
) -> set[str]:
    """Every search key of one person (see PersonKey)."""
    keys = {f"n:{w}" for w in words(name) + words(company_name)}
    if email:
        keys.add(f"e:{email.strip().lower()}")
    for value in (rut, company_rut):
        digits = _rut_digits(value)
        if digits:
            keys.add(f"r:{digits}")
    return {k[:140] for k in keys}


def reindex(connection, user_ids) -> None:
    """Rewrite the search keys of these people from their stored rows (same transaction)."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return
    rows = connection.execute(
        select(User.id, User.name, User.email, User.rut, Company.rut, Company.legal_name)
        .select_from(User)
        .outerjoin(Company, Company.user_id == User.id)
        .where(User.id.in_(user_ids))
    ).all()
    connection.execute(delete(PersonKey).where(PersonKey.user_id.in_(user_ids)))
    values = [
        {"key": key, "user_id": user_id}
        for user_id, name, email, rut, company_rut, company_name in rows
        for key in keys_for(
            name=name,
            email=email,
            rut=rut,
            company_rut=company_rut,
            company_name=company_name,
        )
    ]
    if values:
        connection.execute(insert(PersonKey), values)


_WATCHED = {User: ("name", "email", "rut"), Company: ("rut", "legal_name", "user_id")}


def _changed(obj) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in _WATCHED[type(obj)])


@event.listens_for(Session, "after_flush")
def _keep_keys(session, _context) -> None:
    """Every flush that adds a person or changes a name, email, RUT or company rewrites
    that person's keys in the same transaction: the register never lags behind."""
    ids = set()
    for obj in list(session.new) + list(session.dirty):
        if type(obj) in _WATCHED and (obj in session.new or _changed(obj)):
            ids.add(obj.id if isinstance(obj, User) else obj.user_id)
    ids |= {obj.user_id for obj in session.deleted if isinstance(obj, Company)}
    ids.discard(None)
    if ids:
        reindex(session.connection(), ids)


# --- search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeopleFilters:
    """What the admin asked for on /admin/personas (already validated)."""

    q: str = ""
    region_code: str | None = None
    comuna_code: str | None = None
    sex: str | None = None
    role: str | None = None
    registered_from: date | None = None
    registered_to: date | None = None

    @property
    def active(self) -> bool:
        return any(
            [
                self.q,
                self.region_code,
                self.comuna_code,
                self.sex,
                self.role,
                self.registered_from,
                self.registered_to,
            ]
        )


def parse_day(value: str | None, field_name: str) -> date | None:
    """A YYYY-MM-DD filter value (None when empty). Raises InvalidInput."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("Escribe la fecha como AAAA-MM-DD.", field=field_name) from exc


def people_filters(args) -> PeopleFilters:
    """Read and check the filters of the people list. Raises InvalidInput (unknown región,
    comuna outside its región, unknown sexo or role, malformed or inverted dates)."""
    region = (args.get("region") or "").strip() or None
    comuna = (args.get("comuna") or "").strip() or None
    sex = (args.get("sexo") or "").strip() or None
    role = (args.get("rol") or "").strip() or None
    if region and region not in territory.region_names():
        raise InvalidInput("Elige una región de la lista.", field="region")
    if comuna and not (
        territory.comuna_in_region(comuna, region) if region else comuna in territory.comuna_names()
    ):
        raise InvalidInput("Esa comuna no existe o no es de la región elegida.", field="comuna")
    if sex and sex not in SEXES:
        raise InvalidInput("Elige una opción de sexo de la lista.", field="sexo")
    if role and role not in ROLE_LABELS:
        raise InvalidInput("Elige un rol de la lista.", field="rol")
    since = parse_day(args.get("desde"), "desde")
    until = parse_day(args.get("hasta"), "hasta")
    if since and until and until < since:
        raise InvalidInput("La fecha «hasta» no puede ser anterior a «desde».", field="hasta")
    return PeopleFilters(
        q=" ".join((args.get("q") or "").split())[:120],
        region_code=region,
        comuna_code=comuna,
        sex=sex,
        role=role,
        registered_from=since,
        registered_to=until,
    )


def _prefix(key: str):
    """Keys starting with `key` as an index range [key, key with its last character
    incremented): exact in code-point order (the key column's C collation), and the form
    PostgreSQL's planner estimates well (as it does for LIKE 'prefix%')."""
    return and_(PersonKey.key >= key, PersonKey.key < key[:-1] + chr(ord(key[-1]) + 1))


def _key_condition(q: str):
    """Which people a search text matches: an email (prefix; with "@", or one word with a
    dot, dash, plus or underscore), a RUT in any spelling (exact, or a prefix of its
    digits), or every word as a prefix of a word of the name or razón social."""
    q = q.strip()
    if "@" in q:
        return [_prefix(f"e:{q.lower()}")]
    if _RUTLIKE.match(q) and any(ch.isdigit() for ch in q):
        digits = re.sub(r"[^0-9kK]", "", q)
        options = [_prefix(f"r:{digits.rstrip('kK')}")]
        try:
            options.append(PersonKey.key == f"r:{_rut_digits(normalize_rut(q))}")
        except InvalidInput:
            pass
        return [or_(*options)]
    if " " not in q and any(ch in q for ch in "._-+"):  # the start of an email address
        return [or_(_prefix(f"e:{q.lower()}"), *[_prefix(f"n:{w}") for w in words(q)[:1]])]
    terms = sorted(set(words(q)), key=len, reverse=True)[:MAX_TERMS]
    return [_prefix(f"n:{term}") for term in terms]


def matching(user_id_column, q: str | None) -> list:
    """Conditions on a user id column for a search text (RUT in any spelling, email, name or
    company words); none for an empty text. Other domains filter their lists with it."""
    if not (q or "").strip():
        return []
    subqueries = [select(PersonKey.user_id).where(c) for c in _key_condition(q)]
    if not subqueries:
        return []
    # One set of ids (several words intersect inside it): the database then walks that set
    # in id order and reads only the rows of one page.
    return [user_id_column.in_(subqueries[0] if len(subqueries) == 1 else intersect(*subqueries))]


def search_people(filters: PeopleFilters, *, cursor: int | None = None, size: int = 25) -> Page:
    """People matching the search text and every filter, newest first, one keyset page.
    Each condition is an index range (search keys, or (column, id) indexes)."""
    query = select(User).where(*matching(User.id, filters.q))
    if filters.region_code:
        query = query.where(User.region_code == filters.region_code)
    if filters.comuna_code:
        query = query.where(User.comuna_code == filters.comuna_code)
    if filters.sex:
        query = query.where(User.sex == filters.sex)
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.registered_from or filters.registered_to:
        # The ids of the period come from the (created_at, id) index alone; the page then
        # reads 25 rows instead of sorting every row of the period.
        period = select(User.id)
        if filters.registered_from:
            period = period.where(User.created_at >= chile_day_start(filters.registered_from))
        if filters.registered_to:
            period = period.where(User.created_at <= chile_day_end(filters.registered_to))
        query = query.where(User.id.in_(period))
    return keyset_page(db.session, query, User.id, cursor=cursor, size=size)


# --- a person's file --------------------------------------------------------------------


@dataclass
class PersonFile:
    """What the admin sees about one person from the accounts domain."""

    person: User
    company: Company | None
    consents: list[dict] = field(default_factory=list)
    notices: list[Notification] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


def _consents(person: User) -> list[dict]:
    """The consent history, oldest first: each time it was given (with the policy version)
    or withdrawn."""
    from sv_platform.accounts.services import consent_history

    rows = [
        {"at": e.created_at, "version": e.version, "action": e.action}
        for e in consent_history(person.id)
    ]
    if not rows and person.consent_at:  # an account older than the history
        rows.append({"at": person.consent_at, "version": person.consent_version, "action": "given"})
    return rows


def get_person(user_id: int) -> User:
    """The account with this id. Raises NotFound."""
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound("Esa persona no existe.")
    return person


def person_file(user_id: int, *, actor, now: datetime | None = None) -> PersonFile:
    """An admin opens a person's file: the view itself is recorded in the audit log
    (personal data seen, by whom, when). Raises NotAllowed, NotFound."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    with write_transaction():
        person = get_person(user_id)
        entry = record_audit(actor, "view_person", "user", person.id, None, None, commit=False)
        if now is not None:
            entry.created_at = now
        db.session.commit()
    return PersonFile(
        person=person,
        company=person.company,
        consents=_consents(person),
        notices=list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == person.id)
                .order_by(Notification.id.desc())
                .limit(20)
            )
        ),
        audit=list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == person.id)
                .order_by(AuditEntry.id.desc())
                .limit(30)
            )
        ),
    )
