"""Shell: security headers, error pages, health check, migrations match the models."""

import pytest
from sqlalchemy import create_engine, inspect

from sv_platform.core.web import safe_next
from sv_platform.extensions import db
from tests.conftest import PASSWORD


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logged_in_pages_are_not_cached(client, auth, user):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    auth.login(user)
    assert client.get("/perfil").headers["Cache-Control"] == "no-store"


def test_no_inline_scripts_in_pages(client):
    html = client.get("/registro").get_data(as_text=True)
    assert "<script>" not in html and "onclick=" not in html


def test_production_sets_hsts_and_secure_cookies(make_app):
    from sv_platform.config import ProductionConfig

    app = make_app(
        HSTS=ProductionConfig.HSTS, SESSION_COOKIE_SECURE=ProductionConfig.SESSION_COOKIE_SECURE
    )
    response = app.test_client().get("/")
    assert "max-age" in response.headers["Strict-Transport-Security"]
    assert "Secure" in response.headers.get("Set-Cookie", "")


def test_404_page_is_spanish(client):
    response = client.get("/no-existe")
    assert response.status_code == 404
    assert "Página no encontrada" in response.get_data(as_text=True)


def test_500_page_never_shows_a_traceback(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    boom.sv_public = True
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Algo salió mal" in body
    assert "secret internals" not in body and "Traceback" not in body


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "db": "ok"}


def test_healthz_reports_broken_database(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/x.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["db"] == "error"


def test_migrations_give_the_same_schema_as_the_models(app, database_url):
    """`flask db upgrade` on an empty database == the models (tables, columns, indexes), on
    SQLite and, under SV_TEST_DATABASE_URL, on PostgreSQL (this test's database is a copy
    of the migrated template)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, db.metadata) if not _is_fts_table(d)]
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert diff == []
    assert {"user", "company", "offering", "enrollment_window", "enrollment"} <= tables


def _is_fts_table(diff) -> bool:
    """The full-text index lives only in migrations, by design: FTS5 virtual tables and
    their shadow tables on SQLite, the generated `search_vector` column and its GIN index
    on PostgreSQL."""
    if diff[0] == "remove_column":
        return diff[2] == "faq_entry" and diff[3].name == "search_vector"
    item = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    name = getattr(item, "name", "") or ""
    if diff[0] == "remove_index":
        return name == "ix_faq_entry_search_vector"
    return diff[0] == "remove_table" and "fts" in name


def test_cli_creates_admin_and_advisor(runner):
    result = runner.invoke(
        args=[
            "sv",
            "create-admin",
            "--rut",
            "9.876.543-3",
            "--email",
            "jefa@ejemplo.cl",
            "--name",
            "Jefa Admin",
            "--password",
            "clave-admin-segura",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "sv",
            "create-advisor",
            "--rut",
            "8.765.432-K",
            "--email",
            "asesor@ejemplo.cl",
            "--name",
            "Asesor Legal",
            "--password",
            "clave-asesor-segura",
            "--specialty",
            "legal",
        ]
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        args=[
            "sv",
            "create-admin",
            "--rut",
            "1-1",
            "--email",
            "x@ejemplo.cl",
            "--name",
            "X",
            "--password",
            "clave-admin-segura",
        ]
    )
    assert bad.exit_code != 0 and "RUT" in bad.output


def test_demo_accounts_are_idempotent(runner):
    from sqlalchemy import func, select

    from sv_platform.accounts.models import User

    for _ in range(2):
        result = runner.invoke(args=["sv", "demo"])
        assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 5
    from sv_platform.enrollment.models import EnrollmentWindow

    windows = db.session.scalars(select(EnrollmentWindow)).all()
    assert {w.offering.slug for w in windows} >= {"asesoria-legal", "asesoria-sustentabilidad"}
    assert len(windows) == len({w.offering_id for w in windows})  # one each, not two


def test_huge_ids_are_404_not_500(client, auth, user):
    auth.login(user)
    for path in (
        "/consultas/99999999999999999999",
        "/admin/ventanas/99999999999999999999",
        "/preguntas-frecuentes/99999999999999999999-x",
    ):
        assert client.get(path).status_code in (403, 404), path


def test_user_markdown_cannot_embed_images_but_content_can():
    from sv_platform.core.text import render_markdown

    assert "<img" not in render_markdown("![x](/notificaciones)", images=False)
    assert "<img" in render_markdown("![x](/static/img/favicon.svg)")
    assert "onerror" not in render_markdown('<img src=x onerror="alert(1)">')


def test_plain_chat_text_gets_the_html_markdown_would_make():
    """Text with nothing Markdown reads as markup skips Markdown (core.text._plain_html);
    the page must not tell: the same sanitized HTML for thousands of generated messages
    (spaces at line ends, blank lines, numbers that open a list, markup mixed in)."""
    import random

    import markdown

    from sv_platform.core import text

    renderer = markdown.Markdown(extensions=text.EXTENSIONS, output_format="html")
    rng = random.Random(2026)
    plain = list("abcñáéíóúüAZ019 ¿?¡!.,;:()'\"%$@/€°ºª…–—") + ["\n", "\n\n", "  ", "1. ", "2."]
    markup = list("*_`#>-+=|~[]<>&\\\t\r") + ["    código", "1) uno", "http://a.cl/x_y", "🙂"]
    skipped = 0
    for _ in range(4000):
        parts = [rng.choice(plain) for _ in range(rng.randint(1, 25))]
        if rng.random() < 0.25:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(markup))
        message = "".join(parts)
        expected = text.sanitize_html(renderer.reset().convert(message), images=False)
        assert text.render_markdown(message, hard_breaks=True, images=False) == expected, message
        skipped += text._plain_html(message) is not None
    assert skipped > 1000  # most generated messages took the short way
    assert text._plain_html("Hola, ¿cómo estás? Te mando la boleta.\nGracias.") is not None
    assert (
        text.render_markdown("Hola **sí**", hard_breaks=True) == "<p>Hola <strong>sí</strong></p>"
    )


def test_domain_errors_show_their_spanish_message(client, auth, user):
    """A refusal the view does not handle shows the rule's own message, not a generic one."""
    auth.login(user)
    response = client.post("/inscripciones/no-existe")
    assert response.status_code == 404
    assert "Ese servicio no existe." in response.get_data(as_text=True)
    response = client.get("/cursos/no-existe")
    assert response.status_code == 404
    assert "Página no encontrada" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/cursos", "/cursos"),
        ("/consultas/3?x=1", "/consultas/3?x=1"),
        ("//evil.example", None),
        ("https://evil.example/", None),
        ("/\r\nSet-Cookie: x=1", None),
        ("/%0d%0aX", "/%0d%0aX"),
        ("/\\evil.example", None),
        ("/a\x00b", None),
        ("cursos", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next_keeps_only_local_paths(target, expected):
    assert safe_next(target) == expected


def test_login_with_a_hostile_next_logs_in_and_goes_home(client, user):
    response = client.post(
        "/ingresar?next=/%0d%0aX-Evil:%201",
        data={"identifier": user.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "X-Evil" not in response.headers["Location"]
    assert "Hola," in client.get(response.headers["Location"]).get_data(as_text=True)


def test_jobs_run_closes_what_is_due_once(runner, app, make_window, make_user, advisor_user):
    from datetime import UTC, datetime, timedelta

    from sv_platform.advisory import chat, lifecycle
    from sv_platform.advisory.models import Consultation

    make_window(area="legal", capacity=5)
    consultation = lifecycle.open_consultation(
        make_user(), area="legal", subject="Registro de marca", description="¿Cómo la registro?" * 2
    )
    long_ago = datetime.now(UTC) - timedelta(days=20)
    lifecycle.take(consultation.id, advisor_user, now=long_ago)
    chat.post_message(consultation.id, advisor_user, "Listo.", "a-1", now=long_ago)
    lifecycle.resolve(consultation.id, advisor_user, now=long_ago)
    first = runner.invoke(args=["sv", "jobs", "run"])
    assert first.exit_code == 0, first.output
    assert "cierre_automatico: 1" in first.output
    db.session.expire_all()
    assert db.session.get(Consultation, consultation.id).status == "cerrada"
    again = runner.invoke(args=["sv", "jobs", "run"])
    assert "cierre_automatico: 0" in again.output


def test_pages_never_run_jobs(client, auth, make_window, make_user, advisor_user):
    """A GET of the queue or of a consulta changes nothing, even with work due."""
    from datetime import UTC, datetime, timedelta

    from sv_platform.advisory import chat, lifecycle
    from sv_platform.advisory.models import Consultation

    make_window(area="legal", capacity=5)
    owner = make_user()
    consultation = lifecycle.open_consultation(
        owner, area="legal", subject="Registro de marca", description="¿Cómo la registro?" * 2
    )
    long_ago = datetime.now(UTC) - timedelta(days=20)
    lifecycle.take(consultation.id, advisor_user, now=long_ago)
    chat.post_message(consultation.id, advisor_user, "Listo.", "a-1", now=long_ago)
    lifecycle.resolve(consultation.id, advisor_user, now=long_ago)
    auth.login(owner)
    assert client.get("/consultas").status_code == 200
    assert client.get(f"/consultas/{consultation.id}").status_code == 200
    db.session.expire_all()
    assert db.session.get(Consultation, consultation.id).status == "resuelta"
