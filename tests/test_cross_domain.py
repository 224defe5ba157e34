"""A change and its consequences in other domains commit together or not at all.

Each test makes the process fail between the two steps (a receiver of the emitting
domain's signal raises after the real receivers ran) and checks that nothing is half-done.
"""

from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from sv_platform.accounts import services as accounts
from sv_platform.accounts.signals import sessions_ending, user_anonymized
from sv_platform.advisory import availability, chat, lifecycle
from sv_platform.advisory.models import Consultation
from sv_platform.advisory.signals import consultation_changed
from sv_platform.enrollment import services as enrollment
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
from sv_platform.enrollment.signals import (
    enrollment_cancelled,
    enrollment_graduated,
    enrollment_promoted,
)
from sv_platform.extensions import db
from tests.conftest import PASSWORD

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


class Crash(Exception):
    """The process dies here."""


@contextmanager
def crashing(signal):
    """While inside: every send of `signal` fails after the real receivers ran."""

    def boom(*_args, **_kwargs):
        raise Crash()

    signal.connect(boom)
    try:
        with pytest.raises(Crash):
            yield
    finally:
        signal.disconnect(boom)


def _fresh(model, row_id):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


@pytest.fixture
def ongoing(make_window, make_user, advisor_user):
    """An entrepreneur's consulta, taken and answered by the legal advisor."""
    make_window(area="legal", capacity=5)
    person = make_user()
    consultation = lifecycle.open_consultation(
        person, area="legal", subject="Registro de marca", description="¿Cómo registro mi marca?"
    )
    lifecycle.take(consultation.id, advisor_user, now=NOW)
    chat.post_message(consultation.id, advisor_user, "Te ayudo.", "a-1", now=NOW)
    return consultation


def test_resolving_graduates_the_enrolment_or_nothing(ongoing, advisor_user):
    with crashing(enrollment_graduated):
        lifecycle.resolve(ongoing.id, advisor_user, now=NOW)
    assert _fresh(Consultation, ongoing.id).status == "en_curso"
    assert _fresh(Enrollment, ongoing.enrollment_id).status == "active"
    # Without the failure both change together.
    resolved = lifecycle.resolve(ongoing.id, advisor_user, now=NOW)
    assert resolved.status == "resuelta"
    assert _fresh(Enrollment, ongoing.enrollment_id).status == "graduated"


def test_cancelling_withdraws_the_consulta_or_nothing(ongoing):
    owner = ongoing.user
    with crashing(enrollment_cancelled):
        enrollment.cancel(ongoing.enrollment_id, actor=owner, now=NOW)
    assert _fresh(Enrollment, ongoing.enrollment_id).status == "active"
    assert _fresh(Consultation, ongoing.id).status == "en_curso"


def test_cancelling_withdraws_the_consulta_with_it(ongoing):
    enrollment.cancel(ongoing.enrollment_id, actor=ongoing.user, now=NOW)
    assert _fresh(Enrollment, ongoing.enrollment_id).status == "cancelled"
    assert _fresh(Consultation, ongoing.id).status == "cerrada"


def test_a_promotion_opens_the_waiting_consulta_or_nothing(make_window, make_user):
    window = make_window(area="legal", capacity=1)
    first, second = make_user(), make_user()
    kwargs = dict(area="legal", subject="Contrato de arriendo", description="¿Qué cláusulas?" * 3)
    holder = lifecycle.open_consultation(first, **kwargs)
    waiting = lifecycle.open_consultation(second, **kwargs)
    assert waiting.status == "en_espera"
    with crashing(enrollment_promoted):
        enrollment.cancel(holder.enrollment_id, actor=first, now=NOW)
    assert _fresh(Consultation, waiting.id).status == "en_espera"
    assert _fresh(Enrollment, waiting.enrollment_id).status == "waitlisted"
    assert _fresh(Consultation, holder.id).status == "nueva"
    assert _fresh(EnrollmentWindow, window.id).used == 1


def test_a_promotion_opens_the_waiting_consulta(make_window, make_user):
    make_window(area="legal", capacity=1)
    first, second = make_user(), make_user()
    kwargs = dict(area="legal", subject="Contrato de arriendo", description="¿Qué cláusulas?" * 3)
    holder = lifecycle.open_consultation(first, **kwargs)
    waiting = lifecycle.open_consultation(second, **kwargs)
    enrollment.cancel(holder.enrollment_id, actor=first, now=NOW)
    opened = _fresh(Consultation, waiting.id)
    assert opened.status == "nueva" and opened.first_response_due_at is not None
    assert _fresh(Enrollment, waiting.enrollment_id).status == "active"


def test_a_status_change_fails_whole_when_a_receiver_fails(ongoing, advisor_user):
    with crashing(consultation_changed):
        lifecycle.ask(ongoing.id, advisor_user, now=NOW)
    assert _fresh(Consultation, ongoing.id).status == "en_curso"


def test_deleting_an_account_anonymizes_every_domain_or_nothing(ongoing):
    owner_id = ongoing.user_id
    owner = ongoing.user
    with crashing(user_anonymized):
        accounts.delete_account(owner, PASSWORD, now=NOW)
    person = _fresh(type(owner), owner_id)
    assert person.deleted_at is None and person.rut
    assert _fresh(Consultation, ongoing.id).subject == "Registro de marca"
    assert _fresh(Enrollment, ongoing.enrollment_id).status == "active"


def test_a_password_change_ends_the_advisors_availability_or_nothing(advisor_user):
    availability.set_available(advisor_user, True, now=NOW)
    advisor_id, hashed = advisor_user.id, advisor_user.password_hash
    with crashing(sessions_ending):
        accounts.change_password(advisor_user, PASSWORD, "Otra-Clave-Para-Asesorar-2026")
    assert _fresh(type(advisor_user), advisor_id).password_hash == hashed
    assert availability.is_available(advisor_id, now=NOW)
    # Without the failure both change together.
    accounts.change_password(
        _fresh(type(advisor_user), advisor_id), PASSWORD, "Otra-Clave-Para-Asesorar-2026"
    )
    assert _fresh(type(advisor_user), advisor_id).password_hash != hashed
    assert not availability.is_available(advisor_id, now=NOW)


def test_reopening_keeps_one_open_consulta_per_area(make_window, make_user, advisor_user):
    make_window(area="legal", capacity=5)
    person = make_user()
    kwargs = dict(area="legal", subject="Registro de marca", description="¿Cómo registro mi marca?")
    first = lifecycle.open_consultation(person, **kwargs)
    lifecycle.take(first.id, advisor_user, now=NOW)
    chat.post_message(first.id, advisor_user, "Listo.", "a-1", now=NOW)
    lifecycle.resolve(first.id, advisor_user, now=NOW)
    second = lifecycle.open_consultation(person, **kwargs)  # allowed: the first one ended
    assert second.status == "nueva"
    with pytest.raises(lifecycle.AlreadyOpen):
        lifecycle.reopen(first.id, person, now=NOW)
    assert _fresh(Consultation, first.id).status == "resuelta"
    open_ones = db.session.scalars(
        db.select(Consultation).where(
            Consultation.user_id == person.id, Consultation.status != "resuelta"
        )
    ).all()
    assert [c.id for c in open_ones] == [second.id]
