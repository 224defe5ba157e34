"""Advisors' workload for admins: counts by state, deadlines in business days, the median
first answer this month, and reassignment from the page."""

from datetime import UTC, datetime, timedelta

import pytest

from sv_platform.accounts.models import AuditEntry
from sv_platform.advisory import chat, lifecycle, workload
from sv_platform.extensions import db

# Tuesday 23 September 2025, 12:00 in Chile. 18 and 19 September are holidays.
TODAY = datetime(2025, 9, 23, 15, 0, tzinfo=UTC)
WED_10 = datetime(2025, 9, 10, 13, 0, tzinfo=UTC)  # Wednesday 10 September, 10:00 Chile
WED_17 = datetime(2025, 9, 17, 13, 0, tzinfo=UTC)


@pytest.fixture
def team(make_user, make_consultation):
    """Luis has one consulta due today and one overdue (no first answer); Sofía answered
    hers after 21 hours; one new consulta waits unassigned."""
    ana = make_user("admin", name="Ana Administradora")
    luis = make_user("advisor", specialty="legal", name="Luis Asesor")
    sofia = make_user("advisor", specialty="legal", name="Sofía Asesora")
    due_today = make_consultation(subject="Vence hoy", now=WED_17)  # due Tue 23 Sep
    overdue = make_consultation(subject="Atrasada", now=WED_10)  # due Fri 12 Sep
    answered = make_consultation(subject="Respondida", now=WED_10)
    waiting = make_consultation(subject="Sin asignar", now=WED_17)
    lifecycle.take(due_today.id, luis, now=WED_17)
    lifecycle.take(overdue.id, luis, now=WED_10)
    lifecycle.take(answered.id, sofia, now=WED_10)
    chat.post_message(answered.id, sofia, "Hola", "m-1", now=WED_10 + timedelta(hours=21))
    return ana, luis, sofia, (due_today, overdue, answered, waiting)


def _row(load, name):
    legal = next(a for a in load.areas if a.area == "legal")
    return next(r for r in legal.rows if (r.advisor.name if r.advisor else None) == name)


def test_counts_deadlines_and_median_per_advisor(team):
    ana, _luis, _sofia, (due_today, overdue, answered, waiting) = team
    load = workload.workload(ana, now=TODAY)
    luis = _row(load, "Luis Asesor")
    assert luis.by_state == {"asignada": 2}
    assert (luis.first_due_today, luis.first_overdue) == (1, 1)
    assert luis.oldest == WED_10
    assert luis.median_label == "—"
    sofia = _row(load, "Sofía Asesora")
    assert sofia.by_state == {"en_curso": 1}
    assert (sofia.first_due_today, sofia.first_overdue) == (0, 0)
    assert (sofia.resolution_due_today, sofia.resolution_overdue) == (0, 0)
    assert sofia.median_label == "21 h 0 min"
    unassigned = _row(load, None)
    assert unassigned.by_state == {"nueva": 1}
    assert [c.id for c in load.urgent][:2] == [overdue.id, due_today.id]


def test_the_median_counts_only_this_month(team):
    ana, *_ = team
    load = workload.workload(ana, now=datetime(2025, 10, 2, 15, 0, tzinfo=UTC))
    assert _row(load, "Sofía Asesora").median_label == "—"


def test_workload_page_and_reassignment_from_it(client, auth, team):
    ana, _luis, sofia, (_due_today, overdue, *_rest) = team
    auth.login(ana)
    html = client.get("/admin/asesoria").get_data(as_text=True)
    assert "Luis Asesor" in html and "Sofía Asesora" in html and "Sin asignar" in html
    assert f"n.º {overdue.id} · Atrasada" in html
    response = client.post(
        f"/consultas/{overdue.id}/asignar",
        data={"advisor_id": sofia.id, "next": "/admin/asesoria"},
    )
    assert response.headers["Location"].endswith("/admin/asesoria")
    db.session.refresh(overdue)
    assert overdue.advisor_id == sofia.id
    entry = db.session.query(AuditEntry).filter_by(action="assign_consultation").one()
    assert entry.after == {"advisor_id": sofia.id}


def test_workload_refuses_other_people(team, make_user):
    with pytest.raises(workload.NotAllowed):
        workload.workload(team[1])


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_workload_page_refuses_other_roles(client, auth, make_user, role):
    auth.login(make_user(role))
    assert client.get("/admin/asesoria").status_code == 403


def test_queue_search_and_pages(client, auth, team, make_user, make_consultation):
    ana, *_ = team
    pia = make_user(name="Pía Zamorano", rut="15555555-6")
    make_consultation(pia, subject="Contrato de arriendo del local")
    auth.login(ana)
    for query in ("15.555.555-6", "zamorano", "arriendo"):
        html = client.get("/asesor/consultas", query_string={"q": query}).get_data(as_text=True)
        assert "Contrato de arriendo del local" in html, query
        assert "Vence hoy" not in html, query
    _due, overdue, *_ = team[3]
    html = client.get("/asesor/consultas", query_string={"q": str(overdue.id)}).get_data(
        as_text=True
    )
    assert "Atrasada" in html and "Vence hoy" not in html


def test_queue_pages(advisor_user, make_consultation, make_user):
    from sv_platform.advisory import services

    for n in range(5):
        make_consultation(make_user(), subject=f"Consulta {n}")
    first = services.advisor_queue(advisor_user, size=2)
    second = services.advisor_queue(advisor_user, size=2, page=2)
    third = services.advisor_queue(advisor_user, size=2, page=3)
    seen = [c.id for c in first.items + second.items + third.items]
    assert len(seen) == len(set(seen)) == 5
    assert first.has_next and second.has_next and not third.has_next
