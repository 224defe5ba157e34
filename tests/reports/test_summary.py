"""The beneficiaries' summary equals a full recomputation after every kind of change, and
the dashboard read from it equals the reference computation from the source tables."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from sv_platform.accounts import services as accounts
from sv_platform.advisory import chat, lifecycle
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from sv_platform.reports import reference, services, summary, surveys
from sv_platform.reports.models import BeneficiaryYear, SummaryState
from tests.advisory.conftest import NOW
from tests.conftest import PASSWORD
from tests.courses.conftest import SLUG
from tests.reports.conftest import SURVEY_FORM

FILTERS = [
    {},
    {"region": "13"},
    {"region": "08"},
    {"region": "11"},
    {"sex": "femenino"},
    {"service": "course"},
    {"service": "legal"},
    {"service": "sustainability"},
    {"region": "13", "sex": "masculino", "service": "course"},
]


def _plain(row) -> tuple:
    return tuple(int(v) if isinstance(v, bool) else v for v in row)


def stored_rows() -> set[tuple]:
    columns = [BeneficiaryYear.__table__.c[name] for name in summary.COLUMNS]
    return {_plain(r) for r in db.session.execute(select(*columns))}


def recomputed_rows() -> set[tuple]:
    """What a rebuild would write now (the same query, for everyone, nothing written)."""
    first = summary._first_year(db.session)
    if first is None:
        return set()
    query = summary.rows_query(first, summary.horizon())
    return {_plain(r) for r in db.session.execute(query)}


def assert_exact(years=(2025, 2026)):
    """The incremental table is a full recomputation, and every figure the dashboard reads
    from it equals the reference computation, for several filters."""
    db.session.commit()
    assert stored_rows() == recomputed_rows()
    for year in years:
        assert summary.covers(year)
        for extra in FILTERS:
            f = services.Filters(year, **extra)
            assert services.dashboard(f) == reference.dashboard(f), (year, extra)
            assert services.beneficiary_ids(f) == reference.beneficiary_ids(f)


def test_the_fixed_data_set_is_summarized_exactly(dataset):
    assert_exact()
    counted = services.beneficiaries(services.Filters(2026))
    assert counted.persons == 3  # A, B, E: the hand-computed figure of test_indicators


def test_incremental_summary_equals_a_rebuild_after_every_event(
    app, make_user, course, make_consultation, legal_advisor, admin_user
):
    window = enrollment.create_window(offering_slug=SLUG, capacity=1)
    offering = enrollment.get_offering(SLUG)
    ana = make_user(region_code="13", comuna_code="13101", sex="femenino")
    beto = make_user(region_code="08", comuna_code="08101", sex="masculino")
    assert window.capacity == 1

    first = enrollment.enroll(ana, offering)  # a seat
    waiting = enrollment.enroll(beto, offering)  # the waitlist
    assert (first.status, waiting.status) == ("active", "waitlisted")
    assert_exact()
    assert services.beneficiaries(services.Filters(2026)).persons == 1

    enrollment.cancel(first.id, actor=ana)  # Beto is promoted in the same transaction
    db.session.refresh(waiting)
    assert waiting.status == "active"
    assert_exact()

    enrollment.graduate(waiting.id)  # egreso of the course
    assert_exact()
    surveys.answer_exit_survey(beto, waiting.id, **SURVEY_FORM)
    assert_exact()
    assert services.purpose_indicator(services.Filters(2026)).total.numerator == 1

    # A consulta opened in 2025 and resolved: a legal seat, then its egreso.
    consulta = make_consultation(ana)
    lifecycle.take(consulta.id, legal_advisor, now=NOW)
    chat.post_message(consulta.id, legal_advisor, "Hola, te ayudo.", "m-1", now=NOW)
    assert_exact()
    lifecycle.resolve(consulta.id, legal_advisor, now=datetime(2025, 9, 18, 14, tzinfo=UTC))
    assert_exact()
    assert services.egresos(services.Filters(2025)).by_service[1] == ("legal", 1)

    # The annual survey: invited from the summary, answered once.
    survey = surveys.open_annual_survey(2026, actor=admin_user)
    assert survey.invited == 1
    surveys.answer_annual_survey(beto, 2026, **{**SURVEY_FORM, "channels": ["ninguno"]})
    assert_exact()
    assert services.purpose_indicator(services.Filters(2026)).total.numerator == 0

    # A profile edit moves Beto to the Metropolitana; a company and a channel answer.
    accounts.update_profile(
        beto,
        name=beto.name,
        email=beto.email,
        phone=beto.phone,
        region_code="13",
        comuna_code="13114",
        sex="masculino",
        birth_date=date(1985, 5, 5),
        education_level="universitaria",
    )
    assert_exact()
    assert services.beneficiaries(services.Filters(2026, region="13")).persons == 1
    assert services.beneficiaries(services.Filters(2026, region="08")).persons == 0
    accounts.update_company(
        beto,
        rut="76.086.428-5",
        legal_name="Beto SpA",
        sector=None,
        region_code=None,
        comuna_code=None,
        started_on=None,
        size=None,
    )
    surveys.update_channels(beto, ["web"])
    assert_exact()
    assert services.beneficiaries(services.Filters(2026)).companies == 1

    # Ana joins the waitlist again, then deletes her account: her place is cancelled and
    # her comuna erased, in the deletion's transaction; her 2025 egreso stays counted.
    assert enrollment.enroll(ana, offering).status == "waitlisted"
    assert_exact()
    accounts.delete_account(ana, PASSWORD)
    assert_exact()
    rows = db.session.scalars(select(BeneficiaryYear).where(BeneficiaryYear.user_id == ana.id))
    assert [(r.year, r.comuna) for r in rows] == [(2025, None)]


def test_a_rolled_back_change_leaves_the_summary_as_it_was(app, make_user, course):
    enrollment.create_window(offering_slug=SLUG, capacity=5)
    ana = make_user()
    seat = enrollment.enroll(ana, enrollment.get_offering(SLUG))
    before = stored_rows()
    seat.status = "cancelled"
    db.session.flush()
    db.session.rollback()
    assert stored_rows() == before == recomputed_rows()


def test_rebuild_command_recomputes_from_scratch(dataset, runner):
    db.session.query(BeneficiaryYear).delete()  # a summary that lost its rows
    db.session.commit()
    assert stored_rows() == set()
    result = runner.invoke(args=["sv", "report", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Resumen de beneficiarios recalculado" in result.output
    assert stored_rows() == recomputed_rows() != set()
    assert_exact()


def test_years_after_the_horizon_come_from_the_source_tables(dataset):
    state = db.session.get(SummaryState, 1)
    state.horizon = 2025
    db.session.execute(
        BeneficiaryYear.__table__.delete().where(BeneficiaryYear.__table__.c.year > 2025)
    )
    db.session.commit()
    assert not summary.covers(2026)
    f = services.Filters(2026)
    assert services.dashboard(f) == reference.dashboard(f)
    assert services.beneficiaries(f).persons == 3

    # The periodic job adds the year when the calendar reaches it, then reads it.
    added = summary.extend(now=datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert added == 3 and summary.covers(2026)
    assert summary.extend(now=datetime(2026, 6, 1, tzinfo=UTC)) == 0  # idempotent
    assert_exact()


@pytest.mark.parametrize("year", [2019, 2027])
def test_years_without_rows_match_the_reference(dataset, year):
    f = services.Filters(year)
    assert services.dashboard(f) == reference.dashboard(f)


def test_an_upgrade_with_data_leaves_the_build_to_the_job(dataset, make_user):
    """The migration does not run application code: on a database that already has seat
    enrolments the summary starts "not built", every figure comes from the source tables
    (changes meanwhile write nothing to it), and the periodic job builds it exactly."""
    from flask_migrate import downgrade, upgrade

    db.session.commit()
    db.session.remove()
    downgrade(revision="0012_advisor_availability")
    upgrade()
    assert summary.horizon() == summary.NOT_BUILT and stored_rows() == set()
    assert not summary.covers(2026)
    f = services.Filters(2026)
    assert services.beneficiaries(f).persons == 3
    assert services.dashboard(f) == reference.dashboard(f)

    newcomer = make_user(region_code="11", sex="femenino")
    enrollment.enroll(newcomer, enrollment.get_offering("curso-a"))
    assert stored_rows() == set()
    assert services.beneficiaries(f).persons == 4

    built = summary.job(datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert built == len(recomputed_rows()) > 0
    assert summary.horizon() == 2026
    assert services.beneficiaries(f).persons == 4
    assert_exact()
    assert summary.job(datetime(2026, 6, 1, 13, tzinfo=UTC)) == 0  # nothing left to do
