"""Baseline at registration and in the profile, the exit survey once per egreso (course
and consulta, through the real services), and the annual survey."""

import pytest
from sqlalchemy import func, select

from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import Notification
from sv_platform.advisory import lifecycle
from sv_platform.enrollment import services as enrollment
from sv_platform.enrollment.signals import enrollment_graduated
from sv_platform.extensions import db
from sv_platform.reports import surveys
from sv_platform.reports.models import AnnualSurveyAnswer, ChannelBaseline, ExitSurvey
from tests.advisory.conftest import NOW
from tests.courses.conftest import finish_course
from tests.reports.conftest import SURVEY_FORM

GOOD = {**SURVEY_FORM, "channels": ["instagram", "whatsapp"], "comment": "Muy útil, gracias."}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def course_enrolment(user):
    return next(e for e in enrollment.enrollments_for(user.id) if e.offering.kind == "course")


# --- baseline ---------------------------------------------------------------------------


def test_registration_stores_the_baseline_with_its_date(app):
    user = accounts.register_entrepreneur(
        rut="12.345.678-5",
        name="María José Rojas",
        email="maria@ejemplo.cl",
        phone="+56 9 5555 1234",
        password="mi-negocio-crece-2026",
        region_code="13",
        comuna_code="13101",
        sex="femenino",
        birth_date=__import__("datetime").date(1985, 6, 15),
        education_level="universitaria",
        consent=True,
        channels=["whatsapp", "facebook"],
    )
    [row] = surveys.channel_history(user.id)
    assert row.channel_codes == ["whatsapp", "facebook"] and row.sells_digital
    assert row.source == "registro" and row.answered_at is not None


@pytest.mark.parametrize(
    "channels, message",
    [
        ([], "Elige al menos una opción"),
        (["ninguno", "web"], "no marques otros"),
        (["myspace"], "Elige los canales de la lista"),
    ],
)
def test_bad_channel_answers_store_nothing(client, channels, message):
    from tests.accounts.test_registration import VALID

    response = client.post("/registro", data={**VALID, "channels": channels})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(ChannelBaseline) == 0
    assert accounts.find_by_identifier(VALID["email"]) is None


def test_profile_edit_keeps_the_history_and_the_baseline(client, auth, user):
    surveys.record_baseline(user.id, ["ninguno"])
    db.session.commit()
    auth.login(user)
    page = client.get("/perfil").get_data(as_text=True)
    assert "¿Qué canales digitales usa hoy tu negocio para vender?" in page
    response = client.post("/perfil/canales", data={"canales-channels": ["web", "tiktok"]})
    assert response.status_code == 302
    page = client.get("/perfil").get_data(as_text=True)
    assert "Tus canales digitales fueron actualizados." in page
    assert "al registrarte" in page and "Página web propia, TikTok" in page
    history = surveys.channel_history(user.id)
    assert [h.channel_codes for h in history] == [["ninguno"], ["web", "tiktok"]]
    assert history[0].source == "registro"  # still the baseline
    client.post("/perfil/canales", data={"canales-channels": ["web", "tiktok"]})
    assert len(surveys.channel_history(user.id)) == 2  # same answer: nothing new
    client.post("/perfil/canales", data={"canales-channels": ["ninguno", "web"]})
    assert len(surveys.channel_history(user.id)) == 2


# --- exit survey: course ----------------------------------------------------------------


def test_course_egreso_offers_the_survey_once(client, auth, student, course):
    finish_course(student)
    seat = course_enrolment(student)
    assert seat.status == "graduated"
    auth.login(student)
    page = client.get(f"/cursos/{course.slug}/certificado").get_data(as_text=True)
    assert "Responder la encuesta" in page and f"/encuestas/egreso/{seat.id}" in page
    form = client.get(f"/encuestas/egreso/{seat.id}").get_data(as_text=True)
    assert '<label class="form-check-label" for="channels-0">Página web propia</label>' in form
    response = client.post(f"/encuestas/egreso/{seat.id}", data=GOOD)
    assert response.status_code == 302
    [survey] = db.session.scalars(select(ExitSurvey)).all()
    assert survey.service == "course" and survey.sells_digital and survey.satisfaction == 6
    assert survey.channel_codes == ["instagram", "whatsapp"] and survey.sold_last_3_months
    page = client.get(f"/cursos/{course.slug}/certificado").get_data(as_text=True)
    assert "Responder la encuesta" not in page
    again = client.post(f"/encuestas/egreso/{seat.id}", data=GOOD)
    assert again.status_code == 409
    assert "Ya respondiste esta encuesta" in again.get_data(as_text=True)
    assert count(ExitSurvey) == 1


def test_no_survey_before_egreso_nor_for_someone_else(client, auth, student, make_user):
    seat = course_enrolment(student)
    auth.login(student)
    response = client.get(f"/encuestas/egreso/{seat.id}")
    assert response.status_code == 403
    assert "al terminar el servicio" in response.get_data(as_text=True)
    finish_course(student)
    other = make_user()
    auth.logout()
    auth.login(other)
    assert client.get(f"/encuestas/egreso/{seat.id}").status_code == 404
    assert client.post(f"/encuestas/egreso/{seat.id}", data=GOOD).status_code == 404
    assert count(ExitSurvey) == 0


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("satisfaction", "8", "Elige una nota de 1 a 7."),
        ("satisfaction", "", "Elige una nota de 1 a 7."),
        ("sales_range", "millones", "Elige un rango de ventas mensuales."),
        ("sold_last_3_months", "", "Indica si vendiste"),
        ("helped_with", [], "Elige al menos una opción sobre en qué te ayudó."),
        ("comment", "x" * 1001, "hasta 1000 caracteres"),
    ],
)
def test_bad_answers_are_explained_and_nothing_is_stored(
    client, auth, student, field, value, message
):
    finish_course(student)
    seat = course_enrolment(student)
    auth.login(student)
    response = client.post(f"/encuestas/egreso/{seat.id}", data={**GOOD, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(ExitSurvey) == 0


def test_answer_service_refuses_a_second_answer(student):
    finish_course(student)
    seat = course_enrolment(student)
    surveys.answer_exit_survey(student, seat.id, **GOOD)
    with pytest.raises(surveys.AlreadyAnswered):
        surveys.answer_exit_survey(student, seat.id, **GOOD)


def test_graduation_signal_leaves_a_notice_in_its_transaction(student):
    seat = course_enrolment(student)
    before = count(Notification)
    enrollment_graduated.send(seat, now=NOW)
    db.session.rollback()  # a receiver never commits: rolling back the egreso drops it
    assert count(Notification) == before
    enrollment_graduated.send(seat, now=NOW)
    db.session.commit()
    notice = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    assert notice.url == f"/encuestas/egreso/{seat.id}" and "encuesta de egreso" in notice.text


def _survey_notices(user_id: int) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == user_id, Notification.url.like("/encuestas/egreso/%")
            )
        )
    )


def test_finishing_a_course_leaves_one_survey_notice(student):
    finish_course(student)
    seat = course_enrolment(student)
    [notice] = _survey_notices(student.id)
    assert notice.url == f"/encuestas/egreso/{seat.id}"
    assert "Felicitaciones por tu egreso de «Curso de prueba" in notice.text
    enrollment.graduate(seat.id)  # a repeated egreso changes nothing and offers nothing
    assert len(_survey_notices(student.id)) == 1


def test_resolving_a_consulta_leaves_one_survey_notice(in_progress, legal_advisor):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    [notice] = _survey_notices(in_progress.user_id)
    assert notice.url == f"/encuestas/egreso/{in_progress.enrollment_id}"


def test_a_failing_survey_offer_rolls_back_the_egreso(student, monkeypatch):
    """The receiver runs inside the egreso's transaction: both commit or neither."""
    finish_lessons_only = student
    seat = course_enrolment(finish_lessons_only)

    def broken(*_args, **_kwargs):
        raise RuntimeError("notice store down")

    monkeypatch.setattr(surveys.accounts, "notify", broken)
    with pytest.raises(RuntimeError):
        enrollment.graduate(seat.id)
    db.session.rollback()
    assert enrollment.get_enrollment(seat.id).status == "active"
    assert _survey_notices(student.id) == []


# --- exit survey: consulta --------------------------------------------------------------


def test_resolved_consulta_closes_through_the_survey(client, auth, in_progress, legal_advisor):
    lifecycle.resolve(in_progress.id, legal_advisor)  # now: not auto-closed as too old
    owner = in_progress.user
    auth.login(owner)
    page = client.get(f"/consultas/{in_progress.id}").get_data(as_text=True)
    url = f"/encuestas/egreso/{in_progress.enrollment_id}"
    assert url in page and "Cerrar y calificar" not in page  # one form per egreso
    response = client.post(url, data={**GOOD, "satisfaction": "7"})
    assert response.status_code == 302
    closed = db.session.get(type(in_progress), in_progress.id)
    db.session.refresh(closed)
    assert closed.status == "cerrada" and closed.rating == 5
    assert closed.rating_comment == "Muy útil, gracias."
    [survey] = db.session.scalars(select(ExitSurvey)).all()
    assert survey.service == "legal" and survey.satisfaction == 7
    assert client.post(url, data=GOOD).status_code == 409
    page = client.get(f"/consultas/{in_progress.id}").get_data(as_text=True)
    assert url not in page


@pytest.mark.parametrize("grade, rating", [(1, 1), (2, 2), (4, 3), (6, 4), (7, 5)])
def test_grade_on_the_consulta_scale(grade, rating):
    assert surveys.five_point(grade) == rating


# --- annual survey ----------------------------------------------------------------------


def test_annual_survey_invites_every_beneficiary_once(dataset, admin_user, client, auth):
    db.session.execute(AnnualSurveyAnswer.__table__.delete())
    from sv_platform.reports.models import AnnualSurvey

    db.session.execute(AnnualSurvey.__table__.delete())
    db.session.commit()
    survey = surveys.open_annual_survey(2026, actor=admin_user)
    assert survey.invited == 3  # A, B and E
    with pytest.raises(surveys.SurveyAlreadyOpen):
        surveys.open_annual_survey(2026, actor=admin_user)
    urls = db.session.scalars(
        select(Notification.user_id).where(Notification.url == "/encuestas/anual/2026")
    ).all()
    assert sorted(urls) == sorted([dataset.a.id, dataset.b.id, dataset.e.id])
    [campaign] = surveys.annual_campaigns()
    assert campaign.answered == 0 and campaign.response_rate == 0

    auth.login(dataset.b)
    assert "Encuesta anual 2026" in client.get("/encuestas/anual/2026").get_data(as_text=True)
    assert client.post("/encuestas/anual/2026", data=GOOD).status_code == 302
    assert client.post("/encuestas/anual/2026", data=GOOD).status_code == 409
    [campaign] = surveys.annual_campaigns()
    assert campaign.answered == 1 and campaign.response_rate == pytest.approx(1 / 3)
    auth.logout()
    auth.login(dataset.c)  # not a beneficiary of 2026: not invited
    assert client.get("/encuestas/anual/2026").status_code == 403
    assert client.get("/encuestas/anual/2019").status_code == 404


def test_admin_opens_the_annual_survey_from_the_page(dataset, admin_user, client, auth):
    from sv_platform.reports.models import AnnualSurvey

    db.session.execute(AnnualSurveyAnswer.__table__.delete())
    db.session.execute(AnnualSurvey.__table__.delete())
    db.session.commit()
    auth.login(admin_user)
    response = client.post("/admin/reportes/encuesta-anual", data={"year": "2026"})
    assert response.status_code == 302
    page = client.get("/admin/reportes/encuesta-anual").get_data(as_text=True)
    assert "Se abrió la Encuesta anual 2026: 3 personas invitadas." in page
    assert "Encuesta anual 2026" in page and "0,0 %" in page
    again = client.post("/admin/reportes/encuesta-anual", data={"year": "2026"})
    assert again.status_code == 409
    assert "ya fue abierta" in again.get_data(as_text=True)
