"""After "eliminar cuenta" nothing narrows the data down to one person."""

from datetime import UTC, date, datetime

from sv_platform.accounts import services
from sv_platform.accounts.models import User
from sv_platform.extensions import db
from tests.conftest import PASSWORD


def test_comuna_and_exact_dates_are_generalized(app, make_user):
    user = make_user(
        comuna_code="13114",
        birth_date=date(1987, 7, 23),
        created_at=datetime(2026, 3, 9, tzinfo=UTC),
    )
    services.update_company(
        user,
        rut="76.543.210-3",
        legal_name="Empanadas Doña Rosa SpA",
        sector="alimentos",
        region_code="13",
        comuna_code="13114",
        started_on=date(2019, 5, 14),
        size="micro",
    )
    services.delete_account(user, PASSWORD)
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert (stored.region_code, stored.comuna_code) == ("13", None)
    assert stored.birth_date == date(1987, 1, 1)
    assert (stored.created_at.month, stored.created_at.day) == (1, 1)
    assert stored.last_login_at is None
    company = stored.company
    assert (company.rut, company.legal_name, company.comuna_code) == (None, None, None)
    assert company.started_on == date(2019, 1, 1)
    assert (company.sector, company.size, company.region_code) == ("alimentos", "micro", "13")
