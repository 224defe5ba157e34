"""Votes cannot be stuffed with fresh sessions; the HTML search is limited like its API."""

from sqlalchemy import select

from sv_platform.extensions import db
from sv_platform.faq.models import FaqEntry
from tests.conftest import PASSWORD


def test_fifty_fresh_anonymous_sessions_add_at_most_the_limit(make_app, make_entry):
    app = make_app(FAQ_ANONYMOUS_VOTE_LIMIT="5 per day")
    with app.app_context():
        entry_id = make_entry(question="¿Cómo emito una boleta?").id
        for _ in range(50):
            fresh = app.test_client()  # a new cookie jar: a new anonymous session each time
            response = fresh.post(f"/preguntas-frecuentes/{entry_id}/voto", data={"helpful": "si"})
            assert response.status_code == 302
        helpful = db.session.scalar(select(FaqEntry.helpful_count).where(FaqEntry.id == entry_id))
    assert helpful == 5


def test_logged_in_people_vote_once_each_beyond_the_anonymous_limit(
    make_app, make_entry, make_user
):
    app = make_app(FAQ_ANONYMOUS_VOTE_LIMIT="1 per day")
    with app.app_context():
        entry_id = make_entry().id
        emails = [make_user().email for _ in range(3)]
    for email in emails:
        client = app.test_client()
        client.post("/ingresar", data={"identifier": email, "password": PASSWORD})
        for _ in range(3):
            client.post(f"/preguntas-frecuentes/{entry_id}/voto", data={"helpful": "si"})
    with app.app_context():
        helpful = db.session.scalar(select(FaqEntry.helpful_count).where(FaqEntry.id == entry_id))
    assert helpful == 3


def test_html_search_is_rate_limited_like_the_api(make_app, make_entry):
    app = make_app(FAQ_SUGGEST_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        make_entry(question="¿Cómo emito una boleta?")
        codes = [client.get("/preguntas-frecuentes?q=boleta").status_code for _ in range(4)]
        listing = client.get("/preguntas-frecuentes")  # browsing without a query is not a search
    assert codes == [200, 200, 200, 429]
    assert listing.status_code == 200
