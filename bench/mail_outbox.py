"""Mail outbox throughput: N queued mails delivered to a local SMTP server.

Builds a throwaway SQLite file with the real migrations, queues N mails through the real
`notifications.services.queue` (the Spanish templates rendered, as an event would), starts
an aiosmtpd server on 127.0.0.1 that counts every message by its X-SV-Outbox-Id header,
and runs the real sender (`sender.deliver_due`) from one or more threads at once. Baseline
in the same run: the same number of ready-made messages sent with plain smtplib over one
connection to the same server (no database). Exits non-zero if a mail is lost or
duplicated. Prints one JSON object last.

    .venv/bin/python bench/mail_outbox.py                     # 10,000 mails, 2 senders
    .venv/bin/python bench/mail_outbox.py --count 2000 --senders 1
    .venv/bin/python bench/mail_outbox.py --database-url postgresql+psycopg://postgres@127.0.0.1/x
"""

import argparse
import json
import platform
import re
import smtplib
import sys
import tempfile
import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTBOX_ID = re.compile(rb"^X-SV-Outbox-Id: (\d+)", re.MULTILINE)


class CountingHandler:
    def __init__(self):
        self.ids = Counter()
        self.plain = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        match = OUTBOX_ID.search(envelope.original_content or b"")
        with self.lock:
            if match:
                self.ids[int(match.group(1))] += 1
            else:
                self.plain += 1
        return "250 OK"


def baseline(port: int, count: int) -> float:
    """Plain smtplib, one connection, ready-made messages: mails per second."""
    message = EmailMessage()
    message["From"] = "bench@ejemplo.cl"
    message["To"] = "destino@ejemplo.cl"
    message["Subject"] = "Línea base"
    message.set_content("Texto de prueba.\n" * 20)
    message.add_alternative("<p>Texto de prueba.</p>" * 20, subtype="html")
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(count):
            smtp.send_message(message)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from sv_platform import create_app
    from sv_platform.accounts.models import User
    from sv_platform.core.timeutil import utcnow
    from sv_platform.extensions import db
    from sv_platform.notifications import sender, services
    from sv_platform.notifications.models import OutboxMail
    from tests.notifications.conftest import free_port

    tmp = Path(tempfile.mkdtemp(prefix="sv-mail-bench-"))
    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-secret-key-0123456789-0123456789",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
            "SMTP_SECURITY": "none",
            "MAIL_BATCH": args.batch,
            "BASE_URL": "https://sv.example.cl",
            "MAIL_DIR": str(tmp / "mail"),
        }
    )
    try:
        with app.app_context():
            upgrade()
            user = User(
                rut="7654321-6",
                email="bench@ejemplo.cl",
                name="Persona Bench",
                password_hash="!",  # noqa: S106 - nobody logs in
                email_confirmed_at=utcnow(),
            )
            db.session.add(user)
            db.session.commit()
            context = {
                "subject": "Tienes un cupo",
                "lines": ["Se liberó un cupo en «Curso de prueba» y ahora es tuyo."],
                "action_url": "https://sv.example.cl/cursos/prueba",
                "action_label": "Ir al curso",
                "reason": "Recibes este correo porque estabas en la lista de espera.",
            }
            now = utcnow()
            start = time.perf_counter()
            for done in range(0, args.count, 500):
                for _ in range(min(500, args.count - done)):
                    services.queue(user, "cupo_asignado", context, now=now)
                db.session.commit()
            queue_seconds = time.perf_counter() - start
            queued = set(db.session.scalars(select(OutboxMail.id)))
            db.session.remove()

        sent_by = {}
        errors = []
        barrier = threading.Barrier(args.senders)

        def run(name):
            with app.app_context():
                barrier.wait()
                try:
                    sent_by[name] = sender.deliver_due(now, max_batches=10**6)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))
                finally:
                    db.session.remove()

        start = time.perf_counter()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        send_seconds = time.perf_counter() - start
        time.sleep(0.5)  # the server's last acknowledgements

        with app.app_context():
            sent_rows = db.session.scalar(select(func.count()).where(OutboxMail.status == "sent"))
            dialect = db.engine.dialect.name
        base_rate = baseline(port, args.count)
    finally:
        controller.stop()

    received = {i: n for i, n in handler.ids.items() if i in queued}
    lost = len(queued - set(received))
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    rate = args.count / send_seconds
    result = {
        "benchmark": "mail_outbox",
        "database": dialect,
        "python": platform.python_version(),
        "queued": len(queued),
        "senders": args.senders,
        "batch": args.batch,
        "queue_mails_per_s": round(args.count / queue_seconds, 1),
        "send_seconds": round(send_seconds, 2),
        "mails_per_s": round(rate, 1),
        "sent_by_sender": [sent_by.get(i, 0) for i in range(args.senders)],
        "rows_marked_sent": sent_rows,
        "delivered": len(received),
        "lost": lost,
        "duplicated": duplicated,
        "errors": errors,
        "baseline_smtplib_mails_per_s": round(base_rate, 1),
        "ratio_to_baseline": round(rate / base_rate, 3),
    }
    print(json.dumps(result))
    return 0 if lost == 0 and duplicated == 0 and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
