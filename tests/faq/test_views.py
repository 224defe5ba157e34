"""Public FAQ pages, votes, the suggestions API and the admin editor, through HTTP."""

import re

import pytest
from sqlalchemy import select

from sv_platform.accounts.models import AuditEntry
from sv_platform.extensions import db
from sv_platform.faq import services
from sv_platform.faq.models import FaqEntry, FaqVote
from tests.conftest import csrf_from, login_with_csrf


def entry_path(entry) -> str:
    return f"/preguntas-frecuentes/{entry.id}-{entry.slug}"


@pytest.fixture
def entry(make_entry):
    return make_entry(
        question="¿Cómo emito una factura electrónica?",
        answer="Entra a **sii.cl** y usa el *facturador* gratuito.",
        tags=["factura", "SII"],
    )


def test_index_is_public_and_lists_entries(client, entry):
    response = client.get("/preguntas-frecuentes")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert entry.question in html
    assert 'label class="form-label" for="q"' in html
    assert "Más consultadas" in html
    assert "js/faq." in html  # content-hashed name: js/faq.<hash>.js


def test_search_page_highlights_matches(client, entry):
    html = client.get("/preguntas-frecuentes?q=facturas").get_data(as_text=True)
    assert "<mark>factura</mark>" in html
    assert f"{entry_path(entry)}?q=facturas" in html


def test_search_page_shows_the_typo_correction(client, entry):
    html = client.get("/preguntas-frecuentes?q=factrua").get_data(as_text=True)
    assert "Mostrando resultados para «<strong>factura</strong>»" in html
    assert "¿Cómo emito una <mark>factura</mark> electrónica?" in html


def test_search_page_area_filter(client, entry):
    html = client.get("/preguntas-frecuentes?q=factura&area=sustainability").get_data(as_text=True)
    assert "No encontramos preguntas" in html
    assert entry.question not in html


NO_WORDS = "Escribe al menos una palabra con letras o números"
NO_HITS = "No encontramos preguntas para"


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        ('"', NO_WORDS),
        ("*", NO_WORDS),
        ("🙂💼", NO_WORDS),
        ("-(", NO_WORDS),
        ("NEAR(", NO_HITS),
        ("') OR 1=1 --", NO_HITS),
        ("a" * 5000, NO_HITS),
        ('"><script>alert(1)</script>', NO_HITS),
        ("", "Todas las preguntas"),
    ],
)
def test_hostile_queries_get_a_normal_page(client, entry, hostile, message):
    response = client.get("/preguntas-frecuentes", query_string={"q": hostile})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)" not in html
    assert message in html


def test_entry_page_counts_views(client, entry):
    for _ in range(3):
        assert client.get(entry_path(entry)).status_code == 200
    db.session.expire_all()
    assert db.session.get(FaqEntry, entry.id).view_count == 3
    popular = client.get("/preguntas-frecuentes").get_data(as_text=True)
    assert entry.question in popular.split("Más consultadas")[1]


def test_entry_page_redirects_to_its_canonical_slug(client, entry):
    response = client.get(f"/preguntas-frecuentes/{entry.id}-otro-slug?q=factura")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"{entry_path(entry)}?q=factura")


def test_entry_page_highlights_the_query_in_the_answer(client, entry):
    html = client.get(entry_path(entry) + "?q=facturador").get_data(as_text=True)
    assert "<em><mark>facturador</mark></em>" in html


def test_unpublished_entry_is_not_found(client, make_entry):
    draft = make_entry(question="¿Borrador secreto sobre patentes?", answer="No.", published=False)
    assert client.get(entry_path(draft)).status_code == 404
    assert "Borrador secreto" not in client.get("/preguntas-frecuentes").get_data(as_text=True)
    assert client.get("/api/faq/sugerencias?q=patentes").get_json() == {"results": []}


def test_unknown_entry_is_not_found(client):
    response = client.get("/preguntas-frecuentes/999-nada")
    assert response.status_code == 404
    assert "Página no encontrada" in response.get_data(as_text=True)


def test_xss_in_an_answer_comes_out_inert(client, make_entry):
    evil = make_entry(
        question="¿Es segura esta respuesta <b>maliciosa</b>?",
        answer='Hola <script>alert("x")</script> <img src=x onerror="alert(1)"> '
        '[enlace](javascript:alert(2)) <a href="#" onclick="alert(3)">clic</a>',
    )
    for url in (
        entry_path(evil),
        entry_path(evil) + "?q=hola+segura",
        "/preguntas-frecuentes?q=respuesta",
    ):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "onerror" not in html and "onclick" not in html
        assert "javascript:" not in html
        assert "<b>maliciosa</b>" not in html
    data = client.get("/api/faq/sugerencias?q=segura").get_json()
    assert data["results"][0]["question"] == evil.question  # plain text, escaped by faq.js


def _vote(client, entry, value):
    page = client.get(entry_path(entry)).get_data(as_text=True)
    return client.post(
        f"/preguntas-frecuentes/{entry.id}/voto",
        data={"helpful": value, "csrf_token": csrf_from(page)},
    )


def _counts(entry):
    db.session.expire_all()
    fresh = db.session.get(FaqEntry, entry.id)
    return fresh.helpful_count, fresh.not_helpful_count


@pytest.fixture
def csrf_app(make_app):
    """An app with CSRF on. Requests run without a pushed app context (each gets its own,
    as in production), so each client sees its own session's token."""
    app = make_app(WTF_CSRF_ENABLED=True)

    def in_app(func, *args, **kwargs):
        with app.app_context():
            return func(*args, **kwargs)

    app.run_in_context = in_app
    return app


class Ref:
    """An entry's id and slug, usable outside the app context that created it."""

    def __init__(self, entry):
        self.id, self.slug = entry.id, entry.slug


def test_votes_count_once_per_user(csrf_app, make_user):
    def setup():
        entry = services.create_entry(
            question="¿Cómo emito una boleta?", answer="En sii.cl.", area="legal", published=True
        )
        return Ref(entry), make_user().email

    entry, email = csrf_app.run_in_context(setup)
    client = csrf_app.test_client()
    login_with_csrf(client, email)
    for _ in range(3):
        assert _vote(client, entry, "si").status_code == 302
    assert csrf_app.run_in_context(_counts, entry) == (1, 0)
    _vote(client, entry, "no")  # changing one's mind moves the vote
    assert csrf_app.run_in_context(_counts, entry) == (0, 1)
    html = client.get(entry_path(entry)).get_data(as_text=True)
    assert "Respondiste: <strong>No me sirvió</strong>" in html
    voters = csrf_app.run_in_context(
        lambda: [
            (v.user_id is not None, v.session_key) for v in db.session.scalars(select(FaqVote))
        ]
    )
    assert voters == [(True, None)]


def test_anonymous_votes_count_once_per_session(csrf_app):
    entry = csrf_app.run_in_context(
        lambda: Ref(
            services.create_entry(
                question="¿Cómo emito una boleta?",
                answer="En sii.cl.",
                area="legal",
                published=True,
            )
        )
    )
    client = csrf_app.test_client()
    _vote(client, entry, "si")
    _vote(client, entry, "si")
    assert csrf_app.run_in_context(_counts, entry) == (1, 0)
    other = csrf_app.test_client()
    assert _vote(other, entry, "si").status_code == 302
    assert csrf_app.run_in_context(_counts, entry) == (2, 0)
    keys = csrf_app.run_in_context(
        lambda: {v.session_key for v in db.session.scalars(select(FaqVote))}
    )
    assert len(keys) == 2 and None not in keys


def test_vote_without_csrf_token_changes_nothing(csrf_app):
    entry = csrf_app.run_in_context(
        lambda: Ref(
            services.create_entry(
                question="¿Cómo emito una boleta?",
                answer="En sii.cl.",
                area="legal",
                published=True,
            )
        )
    )
    response = csrf_app.test_client().post(
        f"/preguntas-frecuentes/{entry.id}/voto", data={"helpful": "si"}
    )
    assert response.status_code == 400
    assert csrf_app.run_in_context(_counts, entry) == (0, 0)


@pytest.mark.parametrize("value", ["", "tal vez", "1"])
def test_vote_with_a_bad_value_is_refused(client, entry, value):
    response = client.post(f"/preguntas-frecuentes/{entry.id}/voto", data={"helpful": value})
    assert response.status_code == 400
    assert _counts(entry) == (0, 0)


def test_vote_on_unpublished_entry_is_not_found(client, make_entry):
    draft = make_entry(published=False)
    response = client.post(f"/preguntas-frecuentes/{draft.id}/voto", data={"helpful": "si"})
    assert response.status_code == 404
    assert _counts(draft) == (0, 0)
    assert db.session.scalar(select(FaqVote)) is None


def test_suggestions_api_returns_json(client, entry):
    response = client.get("/api/faq/sugerencias", query_string={"q": "facturación"})
    assert response.status_code == 200
    assert response.get_json() == {
        "results": [
            {
                "id": entry.id,
                "question": entry.question,
                "url": entry_path(entry),
                "snippet": "Entra a sii.cl y usa el facturador gratuito.",
            }
        ]
    }
    assert client.get("/api/faq/sugerencias?q=factura&area=general").get_json() == {"results": []}
    assert client.get("/api/faq/sugerencias").get_json() == {"results": []}


def test_suggestions_api_is_rate_limited_with_json(make_app, make_entry):
    app = make_app(FAQ_SUGGEST_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        for _ in range(3):
            assert client.get("/api/faq/sugerencias?q=boleta").status_code == 200
        response = client.get("/api/faq/sugerencias?q=boleta")
    assert response.status_code == 429
    assert response.is_json
    assert response.get_json()["error"] == "Demasiados intentos"


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_admin_pages_refuse_other_roles(client, auth, make_user, entry, role):
    auth.login(make_user(role))
    for method, url in [
        ("GET", "/admin/preguntas-frecuentes"),
        ("GET", "/admin/preguntas-frecuentes/nueva"),
        ("POST", "/admin/preguntas-frecuentes/nueva"),
        ("GET", f"/admin/preguntas-frecuentes/{entry.id}"),
        ("POST", f"/admin/preguntas-frecuentes/{entry.id}/publicacion"),
        ("POST", f"/admin/preguntas-frecuentes/{entry.id}/eliminar"),
    ]:
        assert client.open(url, method=method, data={"question": "x"}).status_code == 403
    assert db.session.get(FaqEntry, entry.id).published


def test_admin_creates_previews_edits_and_publishes(client, auth, admin_user):
    auth.login(admin_user)
    form = {
        "question": "¿Qué es el Sello S de Chile?",
        "answer": "Es un **reconocimiento** <script>alert(1)</script>",
        "area": "sustainability",
        "tags": "sello, reciclaje",
    }
    preview = client.post("/admin/preguntas-frecuentes/nueva", data={**form, "preview": "1"})
    html = preview.get_data(as_text=True)
    assert "<strong>reconocimiento</strong>" in html and "<script>alert(1)" not in html
    assert db.session.scalar(select(FaqEntry)) is None  # a preview saves nothing

    response = client.post("/admin/preguntas-frecuentes/nueva", data={**form, "submit": "1"})
    assert response.status_code == 302
    created = db.session.scalar(select(FaqEntry))
    assert (created.published, created.tags) == (False, ["sello", "reciclaje"])
    assert services.search("sello").hits == []  # still a draft

    published = client.post(
        f"/admin/preguntas-frecuentes/{created.id}/publicacion",
        data={"published": "1"},
        follow_redirects=True,
    )
    assert "Pregunta publicada." in published.get_data(as_text=True)
    assert [h.entry.id for h in services.search("sello")] == [created.id]

    client.post(
        f"/admin/preguntas-frecuentes/{created.id}",
        data={
            **form,
            "question": "¿Qué es el Sello Cero Residuos?",
            "published": "y",
            "submit": "1",
        },
    )
    assert [h.entry.id for h in services.search("residuos")] == [created.id]
    actions = [a.action for a in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["faq.create", "faq.update", "faq.update"]
    assert {a.actor_id for a in db.session.scalars(select(AuditEntry))} == {admin_user.id}

    listing = client.get("/admin/preguntas-frecuentes").get_data(as_text=True)
    assert "¿Qué es el Sello Cero Residuos?" in listing and "Publicada" in listing


def test_admin_deletes_an_entry(client, auth, admin_user, entry):
    auth.login(admin_user)
    response = client.post(
        f"/admin/preguntas-frecuentes/{entry.id}/eliminar", follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Pregunta eliminada." in html and entry.question not in html
    assert db.session.get(FaqEntry, entry.id) is None
    assert services.search("factura").hits == []
    latest = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (latest.action, latest.actor_id) == ("faq.delete", admin_user.id)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"question": "", "answer": "Algo", "area": "legal"}, "Este campo es obligatorio."),
        (
            {"question": "¿Corta?", "answer": "Algo", "area": "legal"},
            "Escribe la pregunta (al menos 8 caracteres).",
        ),
        (
            {"question": "¿Una pregunta válida?", "answer": "Algo", "area": "marte"},
            "Elige un área: legal, sustentabilidad o general.",
        ),
        (
            {
                "question": "¿Una pregunta válida?",
                "answer": "Algo",
                "area": "legal",
                "tags": ", ".join(f"etiqueta{i}" for i in range(20)),
            },
            "Usa como máximo 15 etiquetas.",
        ),
    ],
)
def test_admin_bad_input_keeps_the_text(client, auth, admin_user, data, message):
    auth.login(admin_user)
    response = client.post("/admin/preguntas-frecuentes/nueva", data={**data, "submit": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert data["answer"] in html
    assert db.session.scalar(select(FaqEntry)) is None


def test_admin_edit_form_is_filled_and_labelled(client, auth, admin_user, entry):
    auth.login(admin_user)
    html = client.get(f"/admin/preguntas-frecuentes/{entry.id}").get_data(as_text=True)
    for field_id in ("question", "answer", "area", "tags", "published"):
        assert re.search(rf'<label[^>]+for="{field_id}"', html), field_id
    assert "factura, SII" in html


def test_repeat_search_in_the_same_browser_is_not_modified(client, app, make_entry):
    make_entry()
    url = "/preguntas-frecuentes?q=boleta"
    first = client.get(url)
    assert "boleta de honorarios" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    # Another browser (another session and CSRF secret) never gets the first one's copy.
    other = app.test_client().get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200
    # A new answer changes the results: the kept copy is not confirmed.
    make_entry(question="¿Debo dar boleta por ventas en Instagram?", answer="Sí, siempre.")
    changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and "Instagram" in changed.get_data(as_text=True)
