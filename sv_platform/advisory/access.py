"""Who may see a consulta, and the locked read that every change of one starts with."""

from sqlalchemy import bindparam, select, update
from sqlalchemy import inspect as sa_inspect

from sv_platform.advisory.models import Consultation
from sv_platform.core.domain import NotAllowed, NotFound
from sv_platform.extensions import add_row_as_loaded, db, held_in_session

_COLUMN_KEYS = tuple(attribute.key for attribute in sa_inspect(Consultation).column_attrs)

# The enrolment offering behind each area.
OFFERING_SLUGS = {"legal": "asesoria-legal", "sustainability": "asesoria-sustentabilidad"}


def can_view(user, consultation: Consultation) -> bool:
    """Owner, advisors of the consulta's area, and admins; nobody else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    if user.role == "advisor":
        return user.specialty == consultation.area
    return user.role == "entrepreneur" and consultation.user_id == user.id


def is_staff(user) -> bool:
    """Advisors and admins: the consulta's staff side."""
    return user.role in ("advisor", "admin")


def consultation_key(consultation_id) -> int:
    """A consulta's id as a caller gave it (a path part, a socket payload's value), as an
    int. Raises NotFound."""
    try:
        return int(consultation_id)
    except (TypeError, ValueError) as exc:
        raise NotFound("Esa consulta no existe.") from exc


def _visible_to(user, consultation: Consultation | None) -> Consultation:
    """The consulta, if it exists and `user` may see it. Raises NotFound, NotAllowed."""
    if consultation is None:
        raise NotFound("Esa consulta no existe.")
    if not can_view(user, consultation):
        raise NotAllowed("No tienes acceso a esta consulta.")
    return consultation


def get_consultation(consultation_id, user) -> Consultation:
    """The consulta if `user` may see it. Raises NotFound, NotAllowed."""
    return _visible_to(user, db.session.get(Consultation, consultation_key(consultation_id)))


def url_for_consultation(consultation_id: int) -> str:
    """The path of a consulta's page (for notices and links)."""
    return f"/consultas/{consultation_id}"


def lock_consultation(consultation_id: int) -> Consultation:
    """Inside a write transaction: the consulta's row, fresh and locked until the commit
    (`SELECT … FOR UPDATE` on PostgreSQL; SQLite holds its write lock from BEGIN), so two
    changes of one consulta never both pass their checks. Raises NotFound."""
    consultation = db.session.get(
        Consultation, consultation_id, populate_existing=True, with_for_update=True
    )
    if consultation is None:
        raise NotFound("Esa consulta no existe.")
    return consultation


_TOUCH = (
    update(Consultation.__table__)
    .where(Consultation.__table__.c.id == bindparam("consultation_id"))
    .values(last_message_at=bindparam("now"))
    .returning(*(getattr(Consultation, key) for key in _COLUMN_KEYS))
)
# The same for a consulta the session already holds: the ORM refreshes that object.
_TOUCH_HELD = select(Consultation).from_statement(_TOUCH).execution_options(populate_existing=True)


def lock_for_message(consultation_id: int, author, now) -> Consultation:
    """`lock_visible` for a new message: the row locked, its `last_message_at` set to `now`
    and read back fresh, in one statement (UPDATE … RETURNING) instead of a locked read and
    a later update. The caller's checks that fail roll the update back with the rest.
    Raises NotFound, NotAllowed."""
    params = {"consultation_id": consultation_id, "now": now}
    if held_in_session(Consultation, consultation_id) is not None:
        consultation = db.session.scalars(_TOUCH_HELD, params).one_or_none()
    else:  # a socket event's new session: the row becomes the object directly
        row = db.session.connection().execute(_TOUCH, params).first()
        consultation = None if row is None else add_row_as_loaded(Consultation, _COLUMN_KEYS, row)
    return _visible_to(author, consultation)


def lock_visible(consultation_id: int, actor) -> Consultation:
    """Inside a transaction: the fresh consulta, if `actor` may see it. Raises NotFound,
    NotAllowed."""
    return _visible_to(actor, lock_consultation(consultation_id))
