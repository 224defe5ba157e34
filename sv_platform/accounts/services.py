"""Account rules: registration, login, passwords, profile, personal data, notices, audit."""

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts import territory
from sv_platform.accounts.models import (
    COMPANY_SIZES,
    EDUCATION_LEVELS,
    SECTORS,
    SEXES,
    SPECIALTIES,
    AuditEntry,
    Company,
    ConsentEvent,
    Notification,
    User,
)
from sv_platform.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from sv_platform.accounts.signals import (
    account_created,
    data_exported,
    email_changed,
    password_changed,
    registration_attempted,
    sessions_ended,
    sessions_ending,
    user_anonymized,
)
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.paging import Page, keyset_page
from sv_platform.core.prepared import Prepared
from sv_platform.core.rut import normalize_rut
from sv_platform.core.timeutil import CHILE, UTCDateTime, utcnow
from sv_platform.extensions import (
    add_row_as_loaded,
    commit_keeping_loaded,
    db,
    held_in_session,
    write_transaction,
)

log = logging.getLogger("sv_platform.security")


CONSENT_VERSION = "2026-11"


class DuplicateAccount(DomainError):
    message = "Ya existe una cuenta con esos datos."


class RegistrationNotPossible(DomainError):
    """The RUT or email of a registration already belongs to an account. The message says
    neither which nor whether: a stranger must not learn who is registered."""

    message = (
        "No pudimos crear una cuenta nueva con estos datos. Revisa tu correo: si ya tienes "
        "una cuenta, ingresa con tu RUT o correo o recupera tu contraseña desde "
        "«¿Olvidaste tu contraseña?»."
    )


class LoginFailed(DomainError):
    code = "unauthenticated"
    status = 401
    message = "RUT, correo o contraseña incorrectos."


def normalize_email(value: str | None) -> str:
    """An email as stored: trimmed and lower case."""
    return (value or "").strip().lower()


def _clean_name(name: str | None) -> str:
    """A full name with single spaces. Raises InvalidInput."""
    name = " ".join((name or "").split())
    if len(name) < 3:
        raise InvalidInput("Ingresa tu nombre completo.", field="name")
    return name


def _clean_email(email: str | None) -> str:
    """A syntactically valid lowercase email. Raises InvalidInput."""
    try:
        email = validate_email(normalize_email(email), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(
            "Ingresa un correo electrónico válido, como nombre@dominio.cl.", field="email"
        ) from exc
    return email.lower()


def _clean_identity(name: str | None, email: str | None) -> tuple[str, str]:
    """A full name with single spaces and a syntactically valid lowercase email."""
    return _clean_name(name), _clean_email(email)


def normalize_phone(value: str | None) -> str:
    """A Chilean phone number (mobile `+56 9 …` or fixed), as `+56 9 6123 4567`.
    Rule: it must be a valid number of Chile by the `phonenumbers` metadata. Raises
    InvalidInput."""
    raw = (value or "").strip()
    problem = InvalidInput(
        "Ingresa un teléfono de Chile válido, por ejemplo +56 9 6123 4567.", field="phone"
    )
    if not raw or len(raw) > 20:
        raise problem
    try:
        number = phonenumbers.parse(raw, "CL")
    except phonenumbers.NumberParseException:
        raise problem from None
    if not phonenumbers.is_valid_number(number) or number.country_code != 56:
        raise problem
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _check_territory(region_code: str | None, comuna_code: str | None) -> None:
    if region_code not in territory.region_names():
        raise InvalidInput("Elige una región de la lista.", field="region_code")
    if not territory.comuna_in_region(comuna_code, region_code):
        raise InvalidInput(
            "La comuna elegida no pertenece a la región seleccionada.", field="comuna_code"
        )


def _check_unique(rut: str | None, email: str | None, *, exclude_id: int | None = None):
    if rut:
        q = select(User.id).where(User.rut == rut)
        if exclude_id:
            q = q.where(User.id != exclude_id)
        if db.session.scalar(q):
            raise DuplicateAccount(
                "Ya existe una cuenta con ese RUT. Si es tuya, ingresa o recupera tu contraseña.",
                field="rut",
            )
    if email:
        q = select(User.id).where(func.lower(User.email) == email)
        if exclude_id:
            q = q.where(User.id != exclude_id)
        if db.session.scalar(q):
            raise DuplicateAccount(
                "Ya existe una cuenta con ese correo electrónico.", field="email"
            )


def _check_sex(sex: str | None) -> None:
    if sex not in SEXES:
        raise InvalidInput("Elige una opción de sexo.", field="sex")


def _check_education(education: str | None) -> None:
    if education not in EDUCATION_LEVELS:
        raise InvalidInput("Elige tu nivel educacional.", field="education_level")


def _check_birth_date(birth_date: date | None, today: date) -> None:
    if birth_date is None:
        raise InvalidInput("Ingresa tu fecha de nacimiento.", field="birth_date")
    age = (today - birth_date).days // 365
    if age < 15 or age > 110:
        raise InvalidInput(
            "Revisa tu fecha de nacimiento: debes tener entre 15 y 110 años.", field="birth_date"
        )


def _check_person(
    sex: str | None, birth_date: date | None, education: str | None, *, today: date | None = None
) -> None:
    _check_sex(sex)
    _check_education(education)
    _check_birth_date(birth_date, today or date.today())


class RegistrationInvalid(InvalidInput):
    """Several registration fields are wrong: `problems` holds one InvalidInput per field,
    so the form reports every one of them in one round."""

    def __init__(self, problems: list[InvalidInput]):
        count = len(problems)
        super().__init__(
            "Revisa el dato marcado." if count == 1 else f"Revisa los {count} datos marcados."
        )
        self.problems = problems


@dataclass(frozen=True)
class CleanRegistration:
    """A registration's values as stored, once every check passed."""

    rut: str
    name: str
    email: str
    phone: str


def _registration_checks(
    *,
    rut,
    name,
    email,
    phone,
    password,
    region_code,
    comuna_code,
    sex,
    birth_date,
    education_level,
    consent,
    channels,
    today: date,
) -> tuple[CleanRegistration | None, list[InvalidInput]]:
    """Every registration rule run on its own, so one wrong field never hides another:
    the cleaned values (None when something is wrong) and one problem per wrong field."""
    from sv_platform.reports import surveys

    problems: list[InvalidInput] = []

    def check(function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except InvalidInput as problem:
            problems.append(problem)
            return None

    clean_rut = check(normalize_rut, rut)
    clean_name = check(_clean_name, name)
    clean_email = check(_clean_email, email)
    clean_phone = check(normalize_phone, phone)
    problem = password_problem(password or "", rut=clean_rut, email=clean_email or email)
    if problem:
        problems.append(InvalidInput(problem, field="password"))
    check(_check_territory, region_code, comuna_code)
    check(_check_sex, sex)
    check(_check_birth_date, birth_date, today)
    check(_check_education, education_level)
    if channels is not None:
        check(surveys.check_channels, channels)
    if not consent:
        problems.append(
            InvalidInput(
                "Para registrarte debes aceptar el uso de tus datos personales.", field="consent"
            )
        )
    if problems:
        return None, problems
    return CleanRegistration(clean_rut, clean_name, clean_email, clean_phone), []


def registration_problems(*, now: datetime | None = None, **fields) -> list[InvalidInput]:
    """What is wrong in a registration form, one problem per field, without writing
    anything (takes the same fields as `register_entrepreneur`). Whether the RUT or the
    email already has an account is never said here: only registering answers that, and
    neutrally."""
    now = now or utcnow()
    return _registration_checks(**fields, today=now.astimezone(CHILE).date())[1]


def register_entrepreneur(
    *,
    rut: str,
    name: str,
    email: str,
    phone: str,
    password: str,
    region_code: str,
    comuna_code: str,
    sex: str,
    birth_date: date,
    education_level: str,
    consent: bool,
    channels: list[str] | None = None,
    now: datetime | None = None,
) -> User:
    """Self-registration. Enforces a valid unique RUT, unique email (any case), a Chilean
    phone, comuna in región, a strong password and explicit consent, each checked on its
    own; `channels` (the digital sales channels question) is stored as the person's
    baseline by the reports domain. Raises RegistrationInvalid (every wrong field at once)
    or RegistrationNotPossible (the RUT or email already has an account; never says which)."""
    from sv_platform.reports import surveys

    now = now or utcnow()
    clean, problems = _registration_checks(
        rut=rut,
        name=name,
        email=email,
        phone=phone,
        password=password,
        region_code=region_code,
        comuna_code=comuna_code,
        sex=sex,
        birth_date=birth_date,
        education_level=education_level,
        consent=consent,
        channels=channels,
        today=now.astimezone(CHILE).date(),
    )
    if problems:
        raise RegistrationInvalid(problems)
    rut, name, email, phone = clean.rut, clean.name, clean.email, clean.phone
    # Hashed before the write lock is taken (argon2's ~25 ms), and whether or not the
    # account can be created: both answers cost the same time.
    password_hash = hash_password(password)
    with write_transaction():
        owners = _owners_of(rut, email)
        if owners:
            registration_attempted_on_existing(owners, now=now)
            raise RegistrationNotPossible()
        user = User(
            rut=rut,
            email=email,
            name=name,
            phone=phone,
            password_hash=password_hash,
            role="entrepreneur",
            region_code=region_code,
            comuna_code=comuna_code,
            sex=sex,
            birth_date=birth_date,
            education_level=education_level,
            consent_at=now,
            consent_version=CONSENT_VERSION,
            created_at=now,
        )
        db.session.add(user)
        try:
            db.session.flush()
            db.session.add(
                ConsentEvent(
                    user_id=user.id, action="given", version=CONSENT_VERSION, created_at=now
                )
            )
            if channels is not None:
                surveys.record_baseline(user.id, channels, source="registro", now=now)
            account_created.send(user, now=now)
            db.session.commit()
        except IntegrityError:  # a parallel registration took the RUT or email first
            db.session.rollback()
            raise RegistrationNotPossible() from None
    log.info("registered user=%s", user.id)
    return user


def _owners_of(rut: str, email: str) -> list[int]:
    """Ids of the accounts holding this RUT or this email (any case)."""
    return list(
        db.session.scalars(
            select(User.id).where((User.rut == rut) | (func.lower(User.email) == email))
        )
    )


def registration_attempted_on_existing(user_ids: list[int], *, now: datetime) -> None:
    """Someone tried to register with the RUT or email of existing accounts: tell each
    owner (never the person at the form) with an in-app notice and, through
    `registration_attempted`, an email."""
    when = now.astimezone(CHILE).strftime("%d-%m-%Y")
    for user_id in user_ids:
        notify(
            user_id,
            f"El {when} alguien intentó crear una cuenta nueva con tu RUT o tu correo. "
            "Si fuiste tú, ya tienes cuenta: ingresa o recupera tu contraseña.",
            commit=False,
        )
        owner = db.session.get(User, user_id)
        if owner is not None and owner.email:
            registration_attempted.send(owner, now=now)
    db.session.commit()
    log.warning("registration with existing data users=%s", ",".join(map(str, user_ids)))


def consent_history(user_id: int) -> list[ConsentEvent]:
    """The person's consent steps, oldest first."""
    return list(
        db.session.scalars(
            select(ConsentEvent).where(ConsentEvent.user_id == user_id).order_by(ConsentEvent.id)
        )
    )


def withdraw_consent(user: User, *, now: datetime | None = None) -> User:
    """Rule: consent can be withdrawn at any time; from then on the person's data is not
    used for the programme, so they cannot enrol in a new service (the profile counts as
    incomplete) until they give it again; what they already have stays. Recorded in the
    history. Raises InvalidInput when there is no consent to withdraw."""
    if user.consent_at is None:
        raise InvalidInput("No tienes un consentimiento vigente que retirar.")
    now = now or utcnow()
    db.session.add(
        ConsentEvent(
            user_id=user.id, action="withdrawn", version=user.consent_version, created_at=now
        )
    )
    user.consent_at, user.consent_version = None, None
    db.session.commit()
    return user


def give_consent(user: User, *, now: datetime | None = None) -> User:
    """Give (again) consent to the current policy version; recorded in the history.
    Raises InvalidInput when it is already given for this version."""
    if user.consent_at is not None and user.consent_version == CONSENT_VERSION:
        raise InvalidInput("Tu consentimiento ya está vigente.")
    now = now or utcnow()
    db.session.add(
        ConsentEvent(user_id=user.id, action="given", version=CONSENT_VERSION, created_at=now)
    )
    user.consent_at, user.consent_version = now, CONSENT_VERSION
    db.session.commit()
    return user


def find_by_identifier(identifier: str) -> User | None:
    """A user by RUT (any spelling) or by email (any case)."""
    identifier = (identifier or "").strip()
    if "@" in identifier:
        return db.session.scalar(
            select(User).where(func.lower(User.email) == normalize_email(identifier))
        )
    try:
        rut = normalize_rut(identifier)
    except InvalidInput:
        return None
    return db.session.scalar(select(User).where(User.rut == rut))


def authenticate(identifier: str, password: str, *, now: datetime | None = None) -> User:
    """The user whose RUT/email and password match. One message for every failure, so it
    never tells whether an account exists. Raises LoginFailed.

    The password is checked (and hashed anew when the hashing settings changed) before
    anything is written: on SQLite the write lock is held for the last-login UPDATE only,
    not for argon2's ~25 ms, so logins arriving together do not queue behind each other's
    hashing (and no other writer waits for it). The caller's reads must take no lock
    (a view marked `reads_without_lock`)."""
    user = find_by_identifier(identifier)
    if user is None or not user.is_active:
        hash_password(password or "x")  # same work either way: no timing oracle
        log.warning("login failed identifier_exists=no")
        raise LoginFailed()
    checked = user.password_hash
    if not verify_password(checked, password or ""):
        log.warning("login failed user=%s", user.id)
        raise LoginFailed()
    values = {"last_login_at": now or utcnow()}
    if needs_rehash(checked):
        values["password_hash"] = hash_password(password)
    user_id = user.id
    with write_transaction(keep_loaded=True):
        # Only if still as read: not disabled, and its sessions not ended meanwhile (every
        # password change ends them, so the hash just checked is still the stored one).
        as_read = update(User).where(
            User.id == user_id,
            User.active.is_(True),
            User.deleted_at.is_(None),
            User.session_version == user.session_version,
        )
        if not db.session.execute(as_read.values(**values)).rowcount:
            db.session.rollback()
            log.warning("login failed user=%s changed_meanwhile=yes", user_id)
            raise LoginFailed()
        commit_keeping_loaded()  # the UPDATE kept the loaded user as the row now is
    log.info("login user=%s role=%s", user.id, user.role)
    return user


@functools.cache
def _session_user_query():
    """The user's columns and the navigation badge every logged-in page shows, in one
    statement built once (every request runs it), and the attribute names of the columns."""
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == User.id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    keys = tuple(attribute.key for attribute in sa_inspect(User).column_attrs)
    columns = [getattr(User, key) for key in keys]
    return Prepared(select(*columns, unread).where(User.id == bindparam("user_id"))), keys


def load_session_user(session_id: str) -> User | None:
    """Flask-Login loader: `id:version`; a stale version (logout, password change) is None.

    The row is read on the session's connection, straight from the driver (core.prepared),
    and becomes the session's persistent `User` as if the ORM had loaded it (every column
    loaded, nothing pending); a user the session already holds is that same object."""
    try:
        user_id, version = (int(x) for x in session_id.split(":", 1))
    except (TypeError, ValueError):
        return None
    statement, keys = _session_user_query()
    row = statement.first({"user_id": user_id})
    if row is None:
        return None
    # A user the session holds stays that object, its unsaved changes kept, as the ORM would.
    user = held_in_session(User, user_id) or add_row_as_loaded(User, keys, row[:-1])
    user.unread_count = row[-1]
    if user.session_version != version or not user.is_active:
        return None
    return user


def end_sessions(user: User) -> User:
    """Invalidate every session and remember-me cookie of `user` (logout everywhere)."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    sessions_ending.send(user.id)
    db.session.commit()
    db.session.refresh(user)
    sessions_ended.send(user.id)
    return user


def change_password(user: User, current: str, new: str) -> User:
    """Requires the current password; the new one must pass the policy. Ends other sessions.
    Raises InvalidInput.

    Both argon2 runs (the check and the new hash) happen before the write lock is taken
    (the caller's reads must take none: a view marked `reads_without_lock`); under it the
    password is the one checked still, or the change is refused as a wrong password."""
    wrong = InvalidInput("La contraseña actual no es correcta.", field="current_password")
    checked, user_id = user.password_hash, user.id
    if not verify_password(checked, current or ""):
        raise wrong
    problem = password_problem(new, rut=user.rut, email=user.email)
    if problem:
        raise InvalidInput(problem, field="new_password")
    hashed = hash_password(new)
    with write_transaction():
        user = db.session.get(User, user_id, populate_existing=True, with_for_update=True)
        if user.password_hash != checked:  # changed meanwhile (a reset, another session)
            raise wrong
        set_password(user, new, hashed=hashed)
        db.session.commit()
    log.info("password changed user=%s", user_id)
    sessions_ended.send(user_id)
    return user


def set_password(user: User, new: str, *, hashed: str, now: datetime | None = None) -> User:
    """Inside the caller's transaction (no commit): store a new password that passes the
    registration rules and end every session (`sessions_ending` here; the caller sends
    `sessions_ended` after its commit); receivers of `password_changed` tell the owner and
    void recovery links.
    `hashed` is `new` hashed by the caller, before it took SQLite's write lock.
    Raises InvalidInput."""
    problem = password_problem(new or "", rut=user.rut, email=user.email)
    if problem:
        raise InvalidInput(problem, field="new_password")
    user.password_hash = hashed
    user.session_version += 1
    sessions_ending.send(user.id)
    password_changed.send(user, now=now or utcnow())
    return user


def mark_email_confirmed(user: User, email: str, *, now: datetime) -> bool:
    """Inside the caller's transaction: the address a link was sent to is confirmed, if it
    is still the account's address. Returns whether it was."""
    if not user.is_active or normalize_email(user.email) != normalize_email(email):
        return False
    user.email_confirmed_at = user.email_confirmed_at or now
    return True


def update_profile(
    user: User,
    *,
    name: str,
    email: str,
    phone: str,
    region_code: str,
    comuna_code: str,
    sex: str,
    birth_date: date | None,
    education_level: str,
) -> User:
    """Edit personal data with the registration rules. Raises InvalidInput/DuplicateAccount."""
    name, email = _clean_identity(name, email)
    _check_territory(region_code, comuna_code)
    _check_person(sex, birth_date, education_level)
    phone = normalize_phone(phone)
    _check_unique(None, email, exclude_id=user.id)
    old_email = user.email
    user.name, user.email, user.phone = name, email, phone
    user.region_code, user.comuna_code = region_code, comuna_code
    user.sex, user.birth_date, user.education_level = sex, birth_date, education_level
    if normalize_email(old_email) != email:
        user.email_confirmed_at = None  # the new address must be confirmed
        email_changed.send(user, old_email=old_email, now=utcnow())
    db.session.commit()
    return user


def update_company(
    user: User,
    *,
    rut: str | None,
    legal_name: str | None,
    sector: str | None,
    region_code: str | None,
    comuna_code: str | None,
    started_on: date | None,
    size: str | None,
) -> Company:
    """Optional company data; what is given must be valid (a Chilean company RUT, a sector
    and size of the lists, comuna in región, a start date between 1900 and today). Raises
    InvalidInput."""
    company_rut = normalize_rut(rut) if (rut or "").strip() else None
    if sector and sector not in SECTORS:
        raise InvalidInput("Elige una actividad económica de la lista.", field="sector")
    if size and size not in COMPANY_SIZES:
        raise InvalidInput("Elige el tamaño de la empresa.", field="size")
    if region_code or comuna_code:
        _check_territory(region_code, comuna_code)
    if started_on and not date(1900, 1, 1) <= started_on <= date.today():
        raise InvalidInput(
            "La fecha de inicio de actividades debe estar entre 1900 y hoy.", field="started_on"
        )
    company = user.company or Company(user=user)
    company.rut, company.legal_name = company_rut, (legal_name or "").strip() or None
    company.sector, company.size = sector or None, size or None
    company.region_code, company.comuna_code = region_code or None, comuna_code or None
    company.started_on = started_on
    db.session.add(company)
    db.session.commit()
    return company


def create_staff(
    *,
    role: str,
    rut: str,
    email: str,
    name: str,
    password: str,
    specialty: str | None = None,
    actor: User | None = None,
) -> User:
    """Create an admin or an advisor (advisors need a specialty). Raises InvalidInput,
    DuplicateAccount."""
    if role not in ("admin", "advisor"):
        raise InvalidInput("Rol no válido.")
    if role == "advisor" and specialty not in SPECIALTIES:
        raise InvalidInput("Elige la especialidad: legal o sustentabilidad.", field="specialty")
    rut = normalize_rut(rut)
    name, email = _clean_identity(name, email)
    problem = password_problem(password, rut=rut, email=email)
    if problem:
        raise InvalidInput(problem, field="password")
    password_hash = hash_password(password)  # before the first read takes SQLite's lock
    _check_unique(rut, email)
    user = User(
        rut=rut,
        email=email,
        name=name,
        role=role,
        specialty=specialty if role == "advisor" else None,
        password_hash=password_hash,
    )
    db.session.add(user)
    db.session.flush()
    account_created.send(user, now=utcnow())
    record_audit(
        actor,
        f"create_{role}",
        "user",
        user.id,
        None,
        {"rut": rut, "email": email, "specialty": user.specialty},
        commit=False,
    )
    db.session.commit()
    return user


def set_active(user_id: int, active: bool, *, actor: User, reason: str | None = None) -> User:
    """An admin enables/disables another account (any role); a disabled user loses access
    at the next request. Audited. Raises NotAllowed (not an admin, own account), NotFound
    (unknown or deleted accounts)."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("La cuenta no existe.")
    if user.id == actor.id:
        raise NotAllowed("No puedes desactivar tu propia cuenta.")
    before = {"active": user.active}
    user.active = active
    user.session_version += 1
    record_audit(
        actor,
        "set_active",
        "user",
        user.id,
        before,
        {"active": active},
        commit=False,
        note=(reason or "").strip()[:300] or None,
    )
    sessions_ending.send(user.id)
    db.session.commit()
    sessions_ended.send(user.id)
    return user


def list_staff() -> list[User]:
    """Advisors and admins, for the admin's staff page."""
    return list(
        db.session.scalars(
            select(User).where(User.role.in_(("advisor", "admin"))).order_by(User.role, User.name)
        )
    )


def export_user_data(user: User) -> dict:
    """Everything stored about `user` and nothing about anyone else."""
    data = {
        "cuenta": {
            "id": user.id,
            "rut": user.rut,
            "nombre": user.name,
            "correo": user.email,
            "telefono": user.phone,
            "rol": user.role,
            "especialidad": user.specialty,
            "region": user.region_code,
            "comuna": user.comuna_code,
            "sexo": user.sex,
            "fecha_nacimiento": user.birth_date.isoformat() if user.birth_date else None,
            "nivel_educacional": user.education_level,
            "consentimiento": user.consent_at.isoformat() if user.consent_at else None,
            "version_consentimiento": user.consent_version,
            "creada": user.created_at.isoformat() if user.created_at else None,
            "ultimo_ingreso": user.last_login_at.isoformat() if user.last_login_at else None,
        },
        "empresa": None,
        "historial_consentimiento": [
            {"accion": e.action, "version": e.version, "fecha": e.created_at.isoformat()}
            for e in consent_history(user.id)
        ],
        "notificaciones": [
            {"texto": n.text, "url": n.url, "fecha": n.created_at.isoformat()}
            for n in db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id)
            )
        ],
    }
    if user.company:
        c = user.company
        data["empresa"] = {
            "rut": c.rut,
            "razon_social": c.legal_name,
            "actividad": c.sector,
            "region": c.region_code,
            "comuna": c.comuna_code,
            "tamano": c.size,
            "inicio_actividades": c.started_on.isoformat() if c.started_on else None,
        }
    for _receiver, part in data_exported.send(user.id):
        data.update(part or {})
    return data


def delete_account(user: User, password: str, *, now: datetime | None = None) -> User:
    """Anonymize personal data: name, RUT, email, phone and comuna are erased, birth date,
    registration date and company start date become their year, the company's RUT, name
    and comuna go; región, sexo, education, company sector, size and región stay for the
    program's statistics; every domain erases its own rows (user_anonymized); every
    session ends. Raises
    InvalidInput when the password is wrong."""
    if not verify_password(user.password_hash, password or ""):
        raise InvalidInput("La contraseña no es correcta.", field="password")
    now = now or utcnow()
    user_id = user.id
    with write_transaction():
        user = db.session.get(User, user_id, populate_existing=True, with_for_update=True)
        user_anonymized.send(user_id, now=now)
        _erase_identity(user, now)
        sessions_ending.send(user_id)
        db.session.commit()
    log.info("account anonymized user=%s", user_id)
    sessions_ended.send(user_id)
    return user


def _erase_identity(user: User, now: datetime) -> None:
    user.name = "Persona eliminada"
    user.rut = None
    user.email = None
    user.phone = None
    if user.birth_date:
        user.birth_date = date(user.birth_date.year, 1, 1)
    user.comuna_code = None  # the región stays: comuna and exact dates narrow to one person
    if user.created_at:
        user.created_at = user.created_at.replace(month=1, day=1, hour=0, minute=0, second=0)
    user.last_login_at = None
    user.password_hash = "!"  # noqa: S105 - an unusable hash: nobody can log in
    user.active = False
    user.deleted_at = now
    user.session_version += 1
    if user.company:
        user.company.rut = None
        user.company.legal_name = None
        user.company.comuna_code = None
        if user.company.started_on:
            user.company.started_on = date(user.company.started_on.year, 1, 1)


NOTICE_MAX = 300


def notify(user_id: int, text: str, url: str | None = None, *, commit: bool = True):
    """Leave an in-app notice for a user (shown as a badge until read)."""
    notice = Notification(user_id=user_id, text=text[:NOTICE_MAX], url=url)
    db.session.add(notice)
    if commit:
        db.session.commit()
    return notice


_NOTICE_UNLESS_UNREAD = text(
    "INSERT INTO notification (user_id, text, url, created_at)"
    " SELECT CAST(:user_id AS INTEGER), CAST(:text AS VARCHAR(300)), CAST(:url AS VARCHAR(300)),"
    " :now"
    " WHERE NOT EXISTS (SELECT 1 FROM notification WHERE user_id = :user_id AND url = :url"
    " AND read_at IS NULL)"
).bindparams(bindparam("now", type_=UTCDateTime()))


def notify_unless_unread(user_id: int, text: str, url: str, *, now: datetime) -> None:
    """A notice for `url` unless the person still has an unread one for it (opening the page
    reads them): one conditional INSERT in the caller's transaction, plain SQL because the
    chat runs it for every message."""
    db.session.connection().execute(
        _NOTICE_UNLESS_UNREAD,
        {"user_id": user_id, "text": text[:NOTICE_MAX], "url": url, "now": now},
    )


_UNREAD = text("SELECT count(*) FROM notification WHERE user_id = :user_id AND read_at IS NULL")


def unread_notifications(user_id: int) -> int:
    """The navigation badge, on every logged-in page: a plain indexed count (textual SQL
    skips the ORM statement overhead on this hot path)."""
    return db.session.execute(_UNREAD, {"user_id": user_id}).scalar() or 0


def notifications_for(user_id: int, *, limit: int = 50) -> list[Notification]:
    """The person's latest in-app notices, newest first (only their own)."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def notifications_page(user_id: int, *, cursor: int | None = None, size: int = 50) -> Page:
    """The person's notices (only their own), newest first, one keyset page."""
    query = select(Notification).where(Notification.user_id == user_id)
    return keyset_page(db.session, query, Notification.id, cursor=cursor, size=size)


def mark_notifications_read(user_id: int, *, now: datetime | None = None) -> None:
    """Mark every notice read (called from a GET page, hence its own write transaction)."""
    with write_transaction():
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now or utcnow())
        )
        db.session.commit()


def record_audit(
    actor: User | None,
    action: str,
    target_type: str,
    target_id,
    before: dict | None,
    after: dict | None,
    *,
    commit: bool = True,
    note: str | None = None,
    subject_id: int | None = None,
) -> AuditEntry:
    """Append to the audit log (who, when, before → after, and the person it is about: the
    account itself when the target is a user)."""
    if subject_id is None and target_type == "user" and target_id is not None:
        subject_id = int(target_id)
    entry = AuditEntry(
        subject_id=subject_id,
        actor_id=actor.id if actor else None,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
        note=note,
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def audit_log(*, limit: int = 200) -> list[AuditEntry]:
    """The latest audit entries, newest first."""
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


DEMO_PASSWORD = "Servicios-Demo-2026"  # noqa: S105 - public demo credential (README)
DEMO_ACCOUNTS = [
    dict(
        role="admin",
        rut="11111111-1",
        email="admin@demo.serviciosvirtuales.cl",
        name="Ana Administradora",
    ),
    dict(
        role="advisor",
        specialty="legal",
        rut="12222222-5",
        email="legal@demo.serviciosvirtuales.cl",
        name="Luis Asesor Legal",
    ),
    dict(
        role="advisor",
        specialty="sustainability",
        rut="13333333-9",
        email="sustentabilidad@demo.serviciosvirtuales.cl",
        name="Sofía Asesora de Sustentabilidad",
    ),
    dict(
        role="entrepreneur",
        rut="15555555-6",
        email="emprendedora@demo.serviciosvirtuales.cl",
        name="Carolina Emprendedora Pérez",
        region_code="13",
        comuna_code="13101",
        sex="femenino",
        birth_date=date(1988, 4, 12),
        education_level="tecnica",
        phone="+56 9 6123 4567",
    ),
    dict(
        role="entrepreneur",
        rut="16666666-K",
        email="emprendedor@demo.serviciosvirtuales.cl",
        name="Pedro Emprendedor Soto",
        region_code="08",
        comuna_code="08101",
        sex="masculino",
        birth_date=date(1979, 9, 30),
        education_level="media",
        phone="+56 9 8765 4321",
    ),
]


def ensure_demo_accounts() -> list[User]:
    """Create the demo accounts that do not exist yet (idempotent)."""
    users = []
    for spec in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.rut == normalize_rut(spec["rut"])))
        if user is None:
            fields = {k: v for k, v in spec.items()}
            fields["rut"] = normalize_rut(fields["rut"])
            user = User(password_hash=hash_password(DEMO_PASSWORD), **fields)
            if user.role == "entrepreneur":
                user.consent_at, user.consent_version = utcnow(), CONSENT_VERSION
            user.email_confirmed_at = utcnow()  # demo addresses need no confirmation
            db.session.add(user)
        users.append(user)
    db.session.commit()
    return users
