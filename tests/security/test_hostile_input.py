"""Hostile values in every field of every form, by every role: never a 5xx, nothing stored."""

import pytest
from sqlalchemy import func, select
from werkzeug.routing.converters import NumberConverter

from sv_platform.extensions import db
from tests.conftest import PASSWORD

FIELDS = (
    "advisor_id answer area attachments birth_date body capacity client_msg_id closes_on "
    "comment company_comuna company_region company_rut comuna_code confirm consent "
    "current_password description education_level email first_response_days identifier "
    "legal_name name new_password opens_on password phone published question rating "
    "region_code remember resolution_days rut sector sex size specialty started_on subject "
    "tags helpful active next q"
).split()
PREFIXES = ("", "p-", "c-", "w-", "legal-", "sustainability-")
HOSTILE = [
    "9999-12-31",
    "0001-01-01",
    str(2**63),
    "-1",
    "1e309",
    "NaN",
    "/\r\nX",
    "\x00",
    "hola",
    "A" * 10_000,
]


# Where a hostile-looking value is still valid input, or the action takes no input at all:
# a chat message or note may say "9999-12-31"; enrolling, taking a consulta or deleting an
# FAQ entry read no field; a checkbox is on whatever its value. Everything else must store
# nothing.
LEGITIMATE = {
    "advisory.consultation": {"message", "consultation_read", "consultation_event", "notification"},
    "advisory.add_note": {"consultation_note"},
    "advisory.consultation_action": {"consultation_event", "notification", "message"},
    # An enrolment or a cancellation changes the person's rows in the report summary.
    "enrollment.enroll": {
        "enrollment",
        "consultation",
        "consultation_event",
        "notification",
        "report_beneficiary_year",
    },
    "faq.admin_delete": {"faq_entry", "audit_entry", "faq_term"},
    "accounts.consent": {"consent_event"},  # giving consent reads no field
    "enrollment.cancel": {
        "consultation_event",
        "audit_entry",
        "notification",
        "report_beneficiary_year",
    },
    # A button that reads no field: it sends the confirmation link again.
    "notifications.resend_confirmation": {"account_token", "outbox_mail"},
    "notifications.admin_send_reset": {"account_token", "audit_entry", "outbox_mail"},
    "accounts.admin_person_reset": {"account_token", "audit_entry", "outbox_mail"},
    "accounts.admin_person_confirmation": {"account_token", "audit_entry", "outbox_mail"},
    # Checkboxes: any value sent for one means "checked", so preferences are stored.
    "notifications.preferences": {"mail_preference"},
}


def _tables() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if not table.name.startswith("faq_fts")
    }


@pytest.fixture
def world(app, make_user, make_window):
    """One of everything a form can point at."""
    from sv_platform.advisory import lifecycle
    from sv_platform.faq import services as faq

    make_window(10, area="legal")
    admin = make_user("admin")
    advisor = make_user("advisor", specialty="legal")
    person = make_user()
    consultation = lifecycle.open_consultation(
        person, area="legal", subject="Boletas de honorarios", description="¿Cómo emito una boleta?"
    )
    entry = faq.create_entry(question="¿Qué es una boleta?", answer="Un documento.", area="legal")
    return {
        "admin": admin,
        "advisor": advisor,
        "entrepreneur": person,
        "ids": {"consultation_id": consultation.id, "entry_id": entry.id},
    }


def _post_routes(app, ids):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint == "static":
            continue
        for huge in (False, True):
            values = {}
            for name in rule.arguments:
                if isinstance(rule._converters[name], NumberConverter):
                    values[name] = 2**63 if huge else ids.get(name, 1)
                else:
                    values[name] = {"slug": "asesoria-legal", "action": "take"}.get(name, "x")
            yield rule.endpoint, rule.build(values, append_unknown=False)[1]


@pytest.mark.parametrize("role", ["anonymous", "entrepreneur", "advisor", "admin"])
def test_hostile_values_in_every_form(app, world, role):
    client = app.test_client()
    if role != "anonymous":
        response = client.post(
            "/ingresar", data={"identifier": world[role].email, "password": PASSWORD}
        )
        assert response.status_code == 302
    urls = sorted(set(_post_routes(app, world["ids"])))
    urls = [(e, u) for e, u in urls if u != "/salir"]
    failures, stored = [], {}
    for endpoint, url in urls:
        before = _tables()
        for value in HOSTILE:
            data = {f"{p}{f}": value for p in PREFIXES for f in FIELDS}
            response = client.post(f"{url}?next=/%0d%0aX", data=data)
            if response.status_code >= 500:
                failures.append((url, value[:20], response.status_code))
        after = _tables()
        changed = {t for t in before if before[t] != after[t]}
        if changed - LEGITIMATE.get(endpoint, set()):
            stored[url] = sorted(changed)
    assert failures == []
    assert stored == {}
