"""Indicator functions on the fixed data set of conftest.py; every expected value is
worked out by hand in the comments from that data set."""

import pytest

from sv_platform.reports import services
from sv_platform.reports.services import Filters


def as_dict(pairs) -> dict:
    return dict(pairs)


def test_beneficiaries_of_the_year(dataset):
    # A (course + both areas), B (course active since 2025) and E (31 Dec 23:30 Chile).
    # Not C (cancelled / waitlisted), D (egreso in 2025), F (2027).
    b = services.beneficiaries(Filters(2026))
    assert b.persons == 3
    assert b.companies == 1  # A and B gave the same company RUT; E none
    assert as_dict(b.by_service) == {"course": 3, "legal": 1, "sustainability": 1}
    regions = as_dict(b.by_region)
    assert len(regions) == 16
    assert regions["13"] == 2 and regions["08"] == 1 and regions["05"] == 0
    assert as_dict(b.by_sex)["femenino"] == 2 and as_dict(b.by_sex)["masculino"] == 1
    # Ages reached in 2026: A 36, B 26, E 27.
    ages = as_dict(b.by_age)
    assert ages["25–34"] == 2 and ages["35–44"] == 1 and ages["65 y más"] == 0
    assert as_dict(b.by_education) == {
        "basica": 0,
        "media": 1,
        "tecnica": 1,
        "universitaria": 1,
        "postgrado": 0,
        "sin_estudios": 0,
    }
    assert as_dict(b.by_comuna) == {"13101": 1, "08101": 1, "13114": 1}


def test_other_years_and_filters(dataset):
    assert services.beneficiaries(Filters(2025)).persons == 2  # B (created Nov) and D
    # A (sustainability still active), B and E still active, F enrolled in 2027.
    assert services.beneficiaries(Filters(2027)).persons == 4
    assert services.beneficiaries(Filters(2026, service="legal")).persons == 1
    assert services.beneficiaries(Filters(2026, sex="masculino")).persons == 1
    assert services.beneficiaries(Filters(2026, region="13")).persons == 2


def test_empty_year_has_zeros_and_no_rates(dataset):
    board = services.dashboard(Filters(2020))
    assert board.beneficiaries.persons == 0
    assert board.services.total == 0 and board.egresos.total == 0
    assert board.purpose.total.official_rate is None
    assert board.purpose.total.response_rate is None
    assert board.consultations.total == 0
    assert board.consultations.median_first_response is None
    assert board.completion.rate is None and board.satisfaction.mean is None
    assert board.coverage.target_rate == 0


def test_region_without_beneficiaries(dataset):
    board = services.dashboard(Filters(2026, region="05"))
    assert board.beneficiaries.persons == 0
    assert board.purpose.total.beneficiaries == 0
    assert board.purpose.total.official_rate is None
    cells = {c.label: c for c in services.purpose_indicator(Filters(2026)).by_region}
    assert cells["Valparaíso"].beneficiaries == 0 and cells["Valparaíso"].official_rate is None


def test_services_delivered_count_each_use(dataset):
    # A: course 1 + legal 2 + sustainability 2 (one graduated, one active); B 1; E 1.
    delivered = services.services_delivered(Filters(2026))
    assert delivered.total == 7
    assert as_dict(delivered.by_service) == {"course": 3, "legal": 2, "sustainability": 2}


def test_egresos_by_type(dataset):
    # All four 2026 egresos are A's: course, legal twice, sustainability once.
    egresos = services.egresos(Filters(2026))
    assert egresos.total == 4 and egresos.persons == 1
    assert as_dict(egresos.by_service) == {"course": 1, "legal": 2, "sustainability": 1}
    assert services.egresos(Filters(2025)).total == 1  # D


def test_purpose_indicator(dataset):
    p = services.purpose_indicator(Filters(2026))
    total = p.total
    # Denominator A, B, E. Respondents: A (exit surveys) and E (annual). B answered none.
    assert (total.beneficiaries, total.respondents) == (3, 2)
    # A's latest 2026 answer (11 March, course) sells online; E's does not.
    assert total.numerator == 1
    assert total.official_rate == pytest.approx(1 / 3)
    assert total.respondent_rate == pytest.approx(1 / 2)
    assert total.response_rate == pytest.approx(2 / 3)
    # Baselines: A's first answer "ninguno" (not her later profile edit), B whatsapp; E none.
    assert (total.baseline_answers, total.baseline_digital) == (2, 1)
    assert total.baseline_rate == pytest.approx(0.5)
    regions = {c.label: c for c in p.by_region}
    rm = regions["Metropolitana de Santiago"]
    assert (rm.beneficiaries, rm.respondents, rm.numerator) == (2, 2, 1)
    biobio = regions["Biobío"]
    assert (biobio.beneficiaries, biobio.respondents, biobio.numerator) == (1, 0, 0)
    sexes = {c.label: c for c in p.by_sex}
    assert (sexes["Femenino"].beneficiaries, sexes["Femenino"].numerator) == (2, 1)
    assert (sexes["Masculino"].beneficiaries, sexes["Masculino"].respondents) == (1, 0)


def test_consultations_medians_and_service_levels(dataset):
    k = services.consultations(Filters(2026))
    assert k.total == 3
    assert k.by_status["cerrada"]["legal"] == 1
    assert k.by_status["resuelta"]["legal"] == 1
    assert k.by_status["en_curso"]["sustainability"] == 1
    # First responses after 2, 0 and 1 business days; resolutions after 5 and 2.
    assert k.median_first_response == 1
    assert k.median_resolution == 3.5
    assert k.first_response_on_time == (3, 3)
    assert k.resolution_on_time == (1, 2)
    assert services.consultations(Filters(2026, service="course")).total == 0


def test_course_completion_and_time_to_egreso(dataset):
    c = services.course_completion(Filters(2026))
    # Course seats created in 2026: A (graduated) and E (active). B's is from 2025.
    assert (c.started, c.graduated) == (2, 1)
    assert c.rate == pytest.approx(0.5)
    # A: 5 January → 10 March 2026 = 64 days.
    assert c.median_days == pytest.approx(64)
    assert c.median_months == pytest.approx(64 / 30.44)


def test_satisfaction(dataset):
    s = services.satisfaction(Filters(2026))
    assert s.answers == 2 and s.mean == pytest.approx(6.0)  # grades 5 and 7
    assert s.top_share == pytest.approx(0.5)
    assert dict((g, n) for g, n in s.distribution)[7] == 1
    by_service = {svc: (n, mean) for svc, n, mean in s.by_service}
    assert by_service["legal"] == (1, 5.0) and by_service["course"] == (1, 7.0)


def test_coverage_uses_the_configured_populations(dataset, app):
    c = services.coverage(Filters(2026))
    assert c.beneficiaries == 3
    assert c.target_rate == pytest.approx(3 / 302_888)
    assert c.potential_rate == pytest.approx(3 / 677_207)
    app.config["REPORT_TARGET_POPULATION"] = 300
    assert services.coverage(Filters(2026)).target_rate == pytest.approx(0.01)


def test_waitlist_now_and_by_month(dataset):
    w = services.waitlist(Filters(2026))
    assert w.now == 1  # C in the legal window
    months = {m: (entered, promoted) for m, entered, promoted in w.by_month}
    assert months[7] == (1, 0) and months[8] == (1, 0) and months[9] == (0, 1)
    assert sum(e for e, _ in months.values()) == 2


def test_cupos_per_window(dataset):
    rows = {w.name: w for w in services.cupos(Filters(2026))}
    assert set(rows) == {
        "Curso A 2026 · Nacional",
        "Legal 2026 · RM",
        "Sustentabilidad 2026 · Nacional",
    }
    assert rows["Legal 2026 · RM"].waitlisted == 1
    assert rows["Curso A 2026 · Nacional"].remaining == 7
    assert rows["Curso A 2026 · Nacional"].use_rate == pytest.approx(0.3)
    biobio = {w.name for w in services.cupos(Filters(2026, region="08"))}
    assert "Legal 2026 · RM" not in biobio


def test_beneficiary_ids_match_the_count(dataset):
    ids = services.beneficiary_ids(Filters(2026))
    assert ids == sorted([dataset.a.id, dataset.b.id, dataset.e.id])


@pytest.mark.parametrize("n, shown", [(0, 0), (1, "<5"), (4, "<5"), (5, 5), (120, 120)])
def test_small_cell_suppression(n, shown):
    assert services.publish(n) == shown


def test_every_indicator_has_a_definition():
    for key, text in services.DEFINITIONS.items():
        assert len(text) > 60, key
    assert "año t" in services.DEFINITIONS["purpose"]


def test_business_days_skip_weekends_and_holidays():
    from tests.reports.conftest import cl

    # Thu 17 Sep 2026 → Mon 21 Sep: 18 and 19 Sep are holidays, then the weekend.
    assert services.business_days(cl(2026, 9, 17), cl(2026, 9, 21)) == 1
    assert services.business_days(cl(2026, 3, 2), cl(2026, 3, 9)) == 5
