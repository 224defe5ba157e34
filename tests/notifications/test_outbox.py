"""The outbox and its sender against a real SMTP server on loopback."""

import threading
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db
from sv_platform.notifications import sender, services
from sv_platform.notifications.models import OutboxMail
from tests.notifications.conftest import deliver


def _queue(user, n=1, *, now=None, subject="Prueba"):
    now = now or utcnow()
    mails = [
        services.queue(
            user,
            "cupo_asignado",
            {
                "subject": f"{subject} {i}",
                "lines": ["Una línea."],
                "action_url": "https://sv.example.cl/consultas",
                "action_label": "Ver",
                "reason": "Porque sí.",
            },
            now=now,
        )
        for i in range(n)
    ]
    db.session.commit()
    return mails


def test_a_queued_mail_arrives_with_text_html_and_one_click_unsubscribe(person, inbox):
    user = person()
    _queue(user, subject="Tienes un cupo")
    assert deliver() == 1
    (message,) = inbox.messages
    assert user.email in message["To"]
    assert message["Subject"].startswith("Tienes un cupo 0 · Servicios Virtuales")
    assert message.get_body(("plain",)).get_content().startswith("Servicios Virtuales")
    assert "<a href=" in message.get_body(("html",)).get_content()
    assert message["List-Unsubscribe"].startswith("<https://sv.example.cl/correos/baja/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mail = db.session.scalar(select(OutboxMail))
    assert mail.status == "sent" and mail.sent_at is not None
    assert deliver() == 0  # nothing sent twice


def test_smtp_down_then_up_delivers_each_mail_exactly_once(person, smtp_server, inbox):
    user = person()
    now = utcnow()
    mails = _queue(user, 5, now=now)
    smtp_server.stop()
    report = sender.send_batch(now=now)
    assert (report.sent, report.retried) == (0, 5)
    row = db.session.get(OutboxMail, mails[0].id)
    assert row.status == "pending" and row.attempts == 1
    assert "Sin conexión" in row.last_error
    smtp_server.start()
    assert sender.send_batch(now=now).total == 0  # backoff: not due yet
    later = now + sender.backoff(1) + timedelta(seconds=1)
    assert sender.deliver_due(later) == 5
    assert sender.deliver_due(later + timedelta(hours=1)) == 0
    assert sorted(inbox.ids()) == sorted(m.id for m in mails)


def test_a_temporary_refusal_is_retried_later(person, inbox):
    user = person()
    now = utcnow()
    (mail,) = _queue(user, now=now)
    inbox.reply = "451 4.3.0 Intente más tarde"
    assert sender.send_batch(now=now).retried == 1
    assert db.session.get(OutboxMail, mail.id).last_error.startswith("451")
    inbox.reply = None
    assert sender.deliver_due(now + timedelta(minutes=5)) == 1
    assert inbox.ids() == [mail.id]


def test_a_permanent_refusal_fails_with_the_server_answer_and_admin_can_retry(
    person, inbox, client, auth, admin_user
):
    user = person()
    (mail,) = _queue(user)
    inbox.reply = "550 5.1.1 Buzón inexistente"
    report = sender.send_batch()
    assert report.failed == 1
    row = db.session.get(OutboxMail, mail.id)
    assert row.status == "failed" and row.last_error.startswith("550 5.1.1 Buzón inexistente")

    auth.login(admin_user)
    page = client.get("/admin/correos?estado=failed").get_data(as_text=True)
    assert "550 5.1.1 Buzón inexistente" in page and "Reintentar" in page
    response = client.post(f"/admin/correos/{mail.id}/reintentar")
    assert response.status_code == 302
    inbox.reply = None
    assert deliver() == 1
    assert inbox.ids() == [mail.id]


def test_a_row_left_sending_by_a_dead_sender_is_sent_after_its_lease(person, inbox):
    user = person()
    now = utcnow()
    (mail,) = _queue(user, now=now)
    token, ids = sender.claim(now=now, limit=10)  # a sender that claimed and died
    assert ids == [mail.id]
    assert sender.deliver_due(now + timedelta(minutes=1)) == 0
    assert sender.deliver_due(now + sender.LEASE + timedelta(seconds=1)) == 1
    assert inbox.ids() == [mail.id]


def test_header_injection_is_refused(person, inbox):
    user = person(name="Ana Pérez\r\nBcc: intruso@ejemplo.cl")
    _queue(user, subject="Hola\r\nBcc: otro@ejemplo.cl\nX-Evil: 1")
    assert deliver() == 1
    (message,) = inbox.messages
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert len(message.get_all("To")) == 1
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    raw = EmailMessage(policy=SMTP_POLICY)
    with pytest.raises(ValueError):
        raw["Subject"] = "Hola\r\nBcc: x@ejemplo.cl"


def test_without_smtp_mails_become_eml_files_listed_for_admins(
    app, person, tmp_path, client, auth, admin_user, inbox
):
    app.config.update(SMTP_HOST=None, MAIL_DIR=str(tmp_path / "eml"))
    user = person()
    _queue(user, subject="Archivo")
    assert deliver() == 1
    files = list(Path(tmp_path / "eml").glob("*.eml"))
    assert len(files) == 1 and b"Archivo 0" in files[0].read_bytes()
    assert inbox.messages == []
    auth.login(admin_user)
    page = client.get("/admin/correos").get_data(as_text=True)
    assert ".eml" in page and user.email in page and "Enviado" in page


def test_two_senders_on_sqlite_never_send_a_row_twice(make_app, mail_settings, person, inbox):
    from sqlalchemy.pool import NullPool

    user = person()
    mails = _queue(user, 100)
    race_app = make_app(**mail_settings, SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool})
    barrier = threading.Barrier(2)
    errors = []

    def run():
        with race_app.app_context():
            barrier.wait()
            try:
                while sender.send_batch(limit=20).total:
                    pass
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(inbox.ids()) == sorted(m.id for m in mails)
    db.session.expire_all()
    assert db.session.scalar(
        select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
    ) == len(mails)


def test_the_outbox_page_is_for_admins_only_searchable_and_paginated(
    person, client, auth, admin_user, make_user
):
    user = person(email="buscada@ejemplo.cl")
    other = person()
    _queue(user, 60)
    _queue(other, 1, subject="Otro asunto")
    auth.login(make_user())
    assert client.get("/admin/correos").status_code == 403
    auth.logout()
    auth.login(admin_user)
    page = client.get("/admin/correos?q=buscada").get_data(as_text=True)
    assert "60 correos" in page and "página 1 de 2" in page and other.email not in page
    page = client.get("/admin/correos?q=buscada&pagina=2").get_data(as_text=True)
    assert "página 2 de 2" in page and "Anterior" in page
    page = client.get("/admin/correos?q=Otro+asunto").get_data(as_text=True)
    assert "1 correo<" in page or "1 correo " in page


def test_the_mail_command_and_the_jobs_send_the_queue(app, runner, person, inbox):
    user = person()
    _queue(user, 2)
    result = runner.invoke(args=["sv", "mail", "send"])
    assert result.exit_code == 0 and "correos enviados: 2" in result.output
    _queue(user, 1)
    result = runner.invoke(args=["sv", "jobs", "run"])
    assert result.exit_code == 0 and "correo: 1" in result.output
    assert len(inbox.messages) == 3


def test_check_reports_production_without_smtp_or_base_url(app, runner):
    app.config["SMTP_HOST"] = None
    result = runner.invoke(args=["sv", "check"])
    assert result.exit_code == 1
    assert "SV_SMTP_HOST falta" in result.output and "SV_BASE_URL" in result.output
