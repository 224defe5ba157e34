"""The admin's FAQ list: search by words of the question or tags, state filter, pages."""

from sqlalchemy import select

from sv_platform.extensions import db
from sv_platform.faq import admin
from sv_platform.faq.models import FaqEntry


def test_admin_list_searches_and_filters(client, auth, admin_user, make_entry, real_content):
    draft = make_entry(question="¿Cómo registro la marca Zorzalito?", published=False)
    auth.login(admin_user)
    html = client.get(
        "/admin/preguntas-frecuentes", query_string={"q": "ZORZALITÓ marca"}
    ).get_data(as_text=True)
    assert draft.question in html and "Borrador" in html
    assert html.count('/publicacion"') == 1  # one row: that entry
    html = client.get(
        "/admin/preguntas-frecuentes", query_string={"q": "zorzalito", "estado": "publicadas"}
    ).get_data(as_text=True)
    assert "Ninguna pregunta coincide con la búsqueda." in html
    assert "Página siguiente" in client.get("/admin/preguntas-frecuentes").get_data(as_text=True)


def test_admin_pages_are_stable_while_entries_are_added(make_entry, real_content):
    existing = set(db.session.scalars(select(FaqEntry.id)))
    seen, page = [], admin.admin_page(size=10)
    seen += [e.id for e in page.items]
    make_entry(question="¿Una pregunta nueva mientras tanto?")
    while page.after:
        page = admin.admin_page(size=10, cursor=page.after)
        seen += [e.id for e in page.items]
    assert len(seen) == len(set(seen)) and set(seen) == existing
