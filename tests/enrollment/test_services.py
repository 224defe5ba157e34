"""Enrolment rules: seats, waitlist, promotion, windows, egreso."""

import os
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sv_platform.accounts.models import AuditEntry, Notification
from sv_platform.enrollment import services
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
from sv_platform.extensions import db

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def course_offering(app):
    return services.ensure_offering("course", "curso-prueba", "curso-prueba", "Curso de prueba")


@pytest.fixture
def course_window(make_window, course_offering):
    """A window of the test course for 2026 unless told otherwise (the shared make_window)."""

    def factory(capacity=2, *, slug=None, **kwargs):
        kwargs.setdefault("opens_on", date(2026, 1, 1))
        kwargs.setdefault("closes_on", date(2026, 12, 31))
        return make_window(capacity, slug=slug or course_offering.slug, now=NOW, **kwargs)

    return factory


def test_enroll_takes_a_seat_then_waitlists_in_arrival_order(
    make_user, course_window, course_offering
):
    window = course_window(capacity=1)
    first, second, third = make_user(), make_user(), make_user()
    assert services.enroll(first, course_offering, now=NOW).status == "active"
    e2 = services.enroll(second, course_offering, now=NOW)
    e3 = services.enroll(third, course_offering, now=NOW)
    assert (e2.status, e3.status) == ("waitlisted", "waitlisted")
    assert services.waitlist_position(e2) == 1
    assert services.waitlist_position(e3) == 2
    db.session.refresh(window)
    assert window.used == 1
    state = services.offering_state(third, course_offering, now=NOW)
    assert state.code == "waitlisted"
    assert state.label == "En lista de espera (posición 2)"


def test_cancel_promotes_first_waitlisted_and_notifies(make_user, course_window, course_offering):
    window = course_window(capacity=1)
    a, b, c = make_user(), make_user(), make_user()
    ea = services.enroll(a, course_offering, now=NOW)
    eb = services.enroll(b, course_offering, now=NOW)
    ec = services.enroll(c, course_offering, now=NOW)
    services.cancel(ea.id, actor=a, now=NOW)
    db.session.refresh(eb)
    db.session.refresh(ec)
    assert (eb.status, ec.status) == ("active", "waitlisted")
    assert services.waitlist_position(ec) == 1
    db.session.refresh(window)
    assert window.used == 1
    notice = db.session.scalar(select(Notification).where(Notification.user_id == b.id))
    assert "Se liberó un cupo" in notice.text


def test_capacity_increase_promotes_and_below_used_is_refused(
    make_user, course_window, course_offering, admin_user
):
    window = course_window(capacity=1)
    users = [make_user() for _ in range(3)]
    enrollments = [services.enroll(u, course_offering, now=NOW) for u in users]
    kwargs = dict(
        name=window.name,
        region_code=None,
        opens_on=date(2026, 1, 1),
        closes_on=date(2026, 12, 31),
        actor=admin_user,
    )
    services.update_window(window.id, capacity=2, **kwargs)
    statuses = [db.session.get(Enrollment, e.id).status for e in enrollments]
    assert statuses == ["active", "active", "waitlisted"]
    with pytest.raises(services.CapacityBelowUsed) as refused:
        services.update_window(window.id, capacity=1, **kwargs)
    assert "ya hay 2 ocupados" in refused.value.message
    db.session.rollback()
    assert db.session.get(EnrollmentWindow, window.id).capacity == 2
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update_window"))
    entry = audit.one()
    assert (entry.before["capacity"], entry.after["capacity"]) == (1, 2)
    assert entry.actor_id == admin_user.id


def test_region_window_first_and_other_regions_ignored(make_user, course_window, course_offering):
    biobio = course_window(capacity=5, region_code="08")
    national = course_window(capacity=5)
    santiago_user = make_user(region_code="13", comuna_code="13101")
    biobio_user = make_user(region_code="08", comuna_code="08101")
    assert services.enroll(biobio_user, course_offering, now=NOW).window_id == biobio.id
    assert services.enroll(santiago_user, course_offering, now=NOW).window_id == national.id


def test_only_other_region_window_means_closed(make_user, course_window, course_offering):
    course_window(capacity=5, region_code="08")
    santiago_user = make_user(region_code="13", comuna_code="13101")
    with pytest.raises(services.WindowClosed):
        services.enroll(santiago_user, course_offering, now=NOW)


def test_full_regional_window_falls_back_to_national_seat(
    make_user, course_window, course_offering
):
    course_window(capacity=0, region_code="08")
    national = course_window(capacity=1)
    user = make_user(region_code="08", comuna_code="08101")
    enrollment = services.enroll(user, course_offering, now=NOW)
    assert (enrollment.status, enrollment.window_id) == ("active", national.id)


def test_closed_window_refused_with_next_opening(make_user, course_window, course_offering):
    course_window(capacity=5, opens_on=date(2027, 3, 1), closes_on=date(2027, 12, 31))
    user = make_user()
    with pytest.raises(services.WindowClosed) as closed:
        services.enroll(user, course_offering, now=NOW)
    assert closed.value.message == "Ventana cerrada: abre el 1 de marzo."
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 0
    assert (
        services.offering_state(user, course_offering, now=NOW).label
        == "Ventana cerrada: abre el 1 de marzo."
    )


def test_no_window_planned(make_user, course_offering):
    state = services.offering_state(make_user(), course_offering, now=NOW)
    assert state.code == "none"
    assert "no hay una nueva apertura planificada" in state.label


def test_open_state_counts_remaining(make_user, course_window, course_offering):
    course_window(capacity=12)
    assert services.offering_state(make_user(), course_offering, now=NOW).label == "Quedan 12 cupos"


def test_double_enrolment_refused(make_user, course_window, course_offering):
    course_window(capacity=5)
    user = make_user()
    services.enroll(user, course_offering, now=NOW)
    with pytest.raises(services.AlreadyEnrolled) as again:
        services.enroll(user, course_offering, now=NOW)
    assert again.value.message == "Ya tienes una inscripción vigente en este servicio."
    assert db.session.scalar(select(EnrollmentWindow.used)) == 1


def test_graduated_course_cannot_be_taken_again(make_user, course_window, course_offering):
    course_window(capacity=5)
    user = make_user()
    enrollment = services.enroll(user, course_offering, now=NOW)
    services.graduate(enrollment.id, now=NOW)
    with pytest.raises(services.AlreadyEnrolled) as again:
        services.enroll(user, course_offering, now=NOW)
    assert again.value.message.startswith("Ya egresaste de este curso.")


@pytest.mark.parametrize("graduated", [False, True])
def test_a_repeat_is_said_before_a_closed_window(
    make_user, course_window, course_offering, graduated
):
    """Once every window has closed, the person who is enrolled (or graduated) still
    hears that, not that the window is closed."""
    course_window(capacity=5, opens_on=date(2026, 5, 1), closes_on=date(2026, 5, 31))
    user = make_user()
    enrollment = services.enroll(user, course_offering, now=NOW)
    if graduated:
        services.graduate(enrollment.id, now=NOW)
    with pytest.raises(services.AlreadyEnrolled) as again:
        services.enroll(user, course_offering, now=NOW + timedelta(days=60))
    expected = "Ya egresaste de este curso." if graduated else services.AlreadyEnrolled.message
    assert again.value.message.startswith(expected)


def test_repeat_advisory_enrolment_allowed_after_the_first_ended(app, make_user, course_window):
    course_window(capacity=5, slug="asesoria-legal")
    legal = services.get_offering("asesoria-legal")
    user = make_user()
    first = services.enroll(user, legal, now=NOW)
    with pytest.raises(services.AlreadyEnrolled):
        services.enroll(user, legal, now=NOW)
    services.graduate(first.id, now=NOW)
    second = services.enroll(user, legal, now=NOW + timedelta(days=1))
    assert second.status == "active" and second.id != first.id


def test_graduate_exactly_once(make_user, course_window, course_offering):
    course_window(capacity=5)
    enrollment = services.enroll(make_user(), course_offering, now=NOW)
    first = services.graduate(enrollment.id, now=NOW)
    again = services.graduate(enrollment.id, now=NOW + timedelta(days=3))
    assert first.status == again.status == "graduated"
    assert again.graduated_at == NOW


def test_waitlisted_cannot_graduate(make_user, course_window, course_offering):
    course_window(capacity=0)
    enrollment = services.enroll(make_user(), course_offering, now=NOW)
    with pytest.raises(services.InvalidTransition):
        services.graduate(enrollment.id, now=NOW)


def test_incomplete_profile_and_staff_refused(make_user, course_window, course_offering):
    course_window(capacity=5)
    with pytest.raises(services.ProfileIncomplete):
        services.enroll(make_user(phone=None), course_offering, now=NOW)
    with pytest.raises(services.NotAllowed):
        services.enroll(make_user("advisor"), course_offering, now=NOW)


def test_someone_else_cannot_cancel(make_user, course_window, course_offering):
    course_window(capacity=5)
    owner, other = make_user(), make_user()
    enrollment = services.enroll(owner, course_offering, now=NOW)
    with pytest.raises(services.NotAllowed):
        services.cancel(enrollment.id, actor=other, now=NOW)
    assert db.session.get(Enrollment, enrollment.id).status == "active"


def test_promotion_sends_its_signal_inside_the_transaction(
    app, make_user, course_window, course_offering
):
    from sv_platform.enrollment.signals import enrollment_promoted

    course_window(capacity=1)
    seen = []

    def receiver(seat, **extra):
        seen.append((seat.id, seat.status, db.session().in_transaction()))

    enrollment_promoted.connect(receiver)
    try:
        a, b = make_user(), make_user()
        ea = services.enroll(a, course_offering, now=NOW)
        eb = services.enroll(b, course_offering, now=NOW)
        services.cancel(ea.id, actor=a, now=NOW)
    finally:
        enrollment_promoted.disconnect(receiver)
    assert seen == [(eb.id, "active", True)]


def test_enrolment_sends_its_signal_inside_the_transaction_and_says_its_place(
    app, make_user, course_window, course_offering
):
    from sv_platform.enrollment.signals import enrollment_created

    window = course_window(capacity=1)
    seen = []

    def receiver(enrollment, **extra):
        seen.append((enrollment.user_id, enrollment.status, db.session().in_transaction()))

    enrollment_created.connect(receiver)
    try:
        a, b, c = make_user(), make_user(), make_user()
        made = [services.enroll(person, course_offering, now=NOW) for person in (a, b, c)]
    finally:
        enrollment_created.disconnect(receiver)
    assert seen == [(a.id, "active", True), (b.id, "waitlisted", True), (c.id, "waitlisted", True)]
    assert [e.arrival_position for e in made] == [None, 1, 2]
    # what enroll() returns is the stored row, and the window it changed is read again
    db.session.expire_all()
    stored = [db.session.get(Enrollment, e.id) for e in made]
    assert [(e.status, e.window_id, e.offering_id) for e in stored] == [
        ("active", window.id, course_offering.id),
        ("waitlisted", window.id, course_offering.id),
        ("waitlisted", window.id, course_offering.id),
    ]
    assert db.session.get(EnrollmentWindow, window.id).used == 1


def test_a_racing_double_submit_gives_one_enrolment_and_one_seat(
    monkeypatch, make_user, course_window, course_offering
):
    """Both submits read the rules before either wrote: the unique constraint refuses the
    second INSERT and its rollback gives back the seat it had taken."""
    window = course_window(capacity=5)
    person = make_user()
    stale = services._seat_plan(person, course_offering, now=NOW)
    services.enroll(person, course_offering, now=NOW)
    monkeypatch.setattr(services, "_seat_plan", lambda *args, **kwargs: stale)
    with pytest.raises(services.AlreadyEnrolled):
        services.enroll(person, course_offering, now=NOW)
    db.session.expire_all()
    assert db.session.get(EnrollmentWindow, window.id).used == 1
    count = select(func.count()).select_from(Enrollment).where(Enrollment.user_id == person.id)
    assert db.session.scalar(count) == 1


def test_window_seen_before_an_enrolment_shows_the_seat_it_took(
    make_user, course_window, course_offering
):
    window = course_window(capacity=2)
    assert window.used == 0  # loaded in this session before the enrolment
    services.enroll(make_user(), course_offering, now=NOW)
    assert (window.used, window.remaining) == (1, 1)


def test_window_defaults_and_validation(app, course_offering):
    window = services.create_window(offering_slug=course_offering.slug, capacity=3, now=NOW)
    assert window.opens_at == NOW
    assert window.closes_at.astimezone(services.CHILE).date() == date(2026, 12, 31)
    with pytest.raises(services.InvalidInput):
        services.create_window(
            offering_slug=course_offering.slug, capacity=3, region_code="99", now=NOW
        )
    with pytest.raises(services.NotFound):
        services.create_window(offering_slug="no-existe", capacity=3, now=NOW)


def test_concurrent_claims_never_overbook(make_app, make_user):
    """200 concurrent enrolments, each thread with its own connection, for 50 cupos."""
    from sqlalchemy.pool import NullPool

    # SQLite: a new connection per claim. PostgreSQL (SV_TEST_DATABASE_URL): a pool of 40
    # connections, below the server's connection limit; claims wait for a free one.
    options = {"poolclass": NullPool}
    if os.environ.get("SV_TEST_DATABASE_URL", "").startswith("postgresql"):
        options = {"pool_size": 40, "max_overflow": 0, "pool_timeout": 120}
    race_app = make_app(SQLALCHEMY_ENGINE_OPTIONS=options)
    with race_app.app_context():
        offering = services.ensure_offering("course", "carrera", "carrera", "Curso carrera")
        window = services.create_window(offering_slug="carrera", capacity=50, now=NOW)
        user_ids = [make_user().id for _ in range(200)]
        offering_id, window_id = offering.id, window.id
    barrier = threading.Barrier(len(user_ids))
    results, errors = {}, []

    def claim(user_id):
        from sv_platform.accounts.models import User
        from sv_platform.enrollment.models import Offering

        with race_app.app_context():
            user = db.session.get(User, user_id)
            offering = db.session.get(Offering, offering_id)
            db.session.commit()  # hold no lock while waiting for the others
            barrier.wait()
            try:
                results[user_id] = services.enroll(user, offering, now=NOW).status
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with race_app.app_context():
        rows = list(
            db.session.scalars(
                select(Enrollment).where(Enrollment.window_id == window_id).order_by(Enrollment.id)
            )
        )
        used = db.session.get(EnrollmentWindow, window_id).used
        assert len(rows) == 200
        assert [r.status for r in rows] == ["active"] * 50 + ["waitlisted"] * 150
        assert used == 50 == sum(1 for r in rows if r.status == "active")
        positions = [services.waitlist_position(r) for r in rows[50:]]
        assert positions == list(range(1, 151))
        assert sorted(results.values()).count("active") == 50
        db.session.remove()
