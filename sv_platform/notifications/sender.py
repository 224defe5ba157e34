"""Delivery of the outbox over SMTP (or to .eml files when no SMTP server is configured).

Rows are claimed before sending: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED` (two
senders take disjoint rows), on SQLite inside a transaction that holds the write lock from
BEGIN (one sender claims at a time). A claim is a lease: a sender that dies mid-batch
leaves rows `sending` until the lease ends, then they are claimed again (so a crash between
delivering and recording can send at most the last SENT_FLUSH mails twice). A temporary
failure (4xx, connection refused or dropped) is retried with exponential backoff; a
permanent one (5xx) marks the row failed with the server's answer.
"""

import logging
import secrets
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db, write_transaction
from sv_platform.notifications.models import OutboxMail
from sv_platform.notifications.services import clean_header

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = 60  # seconds: 1, 2, 4, 8 … minutes
BACKOFF_MAX = 6 * 60 * 60


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones (exponential, capped)."""
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


def _address(name: str | None, addr: str) -> Address:
    username, _, domain = addr.partition("@")
    return Address(display_name=clean_header(name, 120), username=username, domain=domain)


def build_message(mail: OutboxMail, sender: str) -> EmailMessage:
    """The MIME message of a row: plain text plus an HTML alternative, Message-ID,
    List-Unsubscribe headers for one-click unsubscribe. The SMTP policy refuses a header
    value with CR or LF (ValueError), and every value is cleaned to one line first."""
    message = EmailMessage(policy=SMTP_POLICY)
    from_name, from_addr = parseaddr(sender)
    message["From"] = _address(from_name, from_addr)
    message["To"] = _address(mail.to_name, mail.to_addr)
    message["Subject"] = clean_header(mail.subject)
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = make_msgid(f"correo{mail.id}", domain=from_addr.partition("@")[2])
    message["X-SV-Outbox-Id"] = str(mail.id)
    message["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{clean_header(mail.unsubscribe_url, 500)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.body_text)
    message.add_alternative(mail.body_html, subtype="html")
    return message


def claim(*, now: datetime, limit: int) -> tuple[str, list[int]]:
    """Take up to `limit` due rows for this sender (a lease until now + LEASE). Returns the
    claim token and the row ids, oldest first."""
    token = secrets.token_hex(16)
    with write_transaction():
        query = (
            select(OutboxMail.id)
            .where(
                or_(
                    and_(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now),
                    and_(OutboxMail.status == "sending", OutboxMail.claimed_until < now),
                )
            )
            .order_by(OutboxMail.id)
            .limit(limit)
        )
        if db.session.connection().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(db.session.scalars(query))
        if ids:
            db.session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_(ids))
                .values(
                    status="sending",
                    claim_token=token,
                    claimed_until=now + LEASE,
                    attempts=OutboxMail.attempts + 1,
                )
            )
        db.session.commit()
    return token, ids


class TemporaryFailure(Exception):
    """Try again later (4xx, connection refused or dropped, timeout)."""


class PermanentFailure(Exception):
    """The server refused for good (5xx): the mail is marked failed."""


def _answer(code, text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()[:500]


class SmtpTransport:
    """One SMTP connection per batch, opened at the first mail."""

    def __init__(self, config):
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        security = cfg["SMTP_SECURITY"]
        port = cfg["SMTP_PORT"] or {"ssl": 465, "starttls": 587}.get(security, 25)
        timeout = cfg["SMTP_TIMEOUT"]
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(
                cfg["SMTP_HOST"], port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(cfg["SMTP_HOST"], port, timeout=timeout)
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USER"):
            smtp.login(cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
        return smtp

    def send(self, mail: OutboxMail, message: EmailMessage) -> None:
        if self.connection is None:
            try:
                self.connection = self._connect()
            except (smtplib.SMTPException, OSError) as exc:  # refused, TLS, login: our side
                self.close()
                raise TemporaryFailure(f"Sin conexión con el servidor SMTP: {exc}"[:500]) from exc
        try:
            refused = self.connection.send_message(message, to_addrs=[mail.to_addr])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._classify(code, text)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self.close()
            self._classify(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"Sin conexión con el servidor SMTP: {exc}"[:500]) from exc
        if refused:
            code, text = next(iter(refused.values()))
            self._classify(code, text)

    @staticmethod
    def _classify(code, text):
        if 500 <= int(code) < 600:
            raise PermanentFailure(_answer(code, text))
        raise TemporaryFailure(_answer(code, text))

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


class FileTransport:
    """No SMTP server configured: each mail becomes `<MAIL_DIR>/<id>-<kind>.eml`."""

    def __init__(self, config):
        self.folder = Path(config["MAIL_DIR"])

    def send(self, mail: OutboxMail, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{mail.id:08d}-{mail.kind}.eml"
        path.write_bytes(message.as_bytes())

    def close(self) -> None:
        pass


def transport_for(config):
    return SmtpTransport(config) if config.get("SMTP_HOST") else FileTransport(config)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed


def _finish(mail_id: int, token: str, **values) -> None:
    """Record the outcome of a claimed row (only while this sender still holds the claim)."""
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claim_token == token)
        .values(claim_token=None, claimed_until=None, **values)
    )
    db.session.commit()


SENT_FLUSH = 25  # sent rows are recorded this many at a time (one UPDATE, one commit)


def _mark_sent(ids: list[int], token: str) -> None:
    if ids:
        db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id.in_(ids), OutboxMail.claim_token == token)
            .values(
                status="sent",
                sent_at=utcnow(),
                claim_token=None,
                claimed_until=None,
                last_error=None,
            )
        )
        db.session.commit()
        ids.clear()


def _retry_or_fail(mail: OutboxMail, token: str, error: str, now: datetime) -> str:
    if mail.attempts >= MAX_ATTEMPTS:
        _finish(mail.id, token, status="failed", last_error=error)
        return "failed"
    _finish(
        mail.id,
        token,
        status="pending",
        next_attempt_at=now + backoff(mail.attempts),
        last_error=error,
    )
    return "retried"


def send_batch(*, now: datetime | None = None, limit: int | None = None, transport=None):
    """Claim due rows and deliver them; returns a SendReport. When the server cannot be
    reached, the rest of the batch is scheduled for a retry at once."""
    now = now or utcnow()
    config = current_app.config
    limit = limit or config["MAIL_BATCH"]
    token, ids = claim(now=now, limit=limit)
    report = SendReport()
    if not ids:
        return report
    transport = transport or transport_for(config)
    unreachable: str | None = None
    delivered: list[int] = []
    try:
        mails = db.session.scalars(
            select(OutboxMail).where(OutboxMail.id.in_(ids)).order_by(OutboxMail.id)
        ).all()
        for mail in mails:
            db.session.expunge(mail)  # a snapshot: later commits do not reload it
        rows = [(m.id, m) for m in mails]
        db.session.commit()  # no transaction stays open while talking to the server
        for mail_id, mail in rows:
            if unreachable is not None:
                outcome = _retry_or_fail(mail, token, unreachable, now)
            else:
                try:
                    transport.send(mail, build_message(mail, config["MAIL_FROM"]))
                except PermanentFailure as exc:
                    _finish(mail_id, token, status="failed", last_error=str(exc))
                    outcome = "failed"
                except TemporaryFailure as exc:
                    if getattr(transport, "connection", "x") is None:
                        unreachable = str(exc)
                    outcome = _retry_or_fail(mail, token, str(exc), now)
                else:
                    delivered.append(mail_id)
                    report.ids.append(mail_id)
                    outcome = "sent"
                    if len(delivered) >= SENT_FLUSH:
                        _mark_sent(delivered, token)
            setattr(report, outcome, getattr(report, outcome) + 1)
    finally:
        _mark_sent(delivered, token)
        transport.close()
    if report.failed or report.retried:
        log.warning(
            "mail batch sent=%s retried=%s failed=%s", *(report.sent, report.retried, report.failed)
        )
    return report


def deliver_due(now: datetime | None = None, *, max_batches: int = 1000) -> int:
    """Send every due mail (batch after batch); returns how many were sent. The job."""
    sent = 0
    for _ in range(max_batches):
        report = send_batch(now=now)
        sent += report.sent
        if report.total == 0 or report.sent == 0:
            break
    return sent


def run_loop(app, *, interval: float, stop: threading.Event) -> None:
    """`flask sv mail send --loop`: deliver, then wait `interval` seconds, until stopped."""
    while not stop.is_set():
        with app.app_context():
            try:
                deliver_due()
            except Exception:  # a broken batch must not end the loop
                log.exception("mail batch failed")
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)
